"""Arbiter's serving side: the decision policy, the API, the store, the worklist and monitoring."""
