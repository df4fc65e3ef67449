"""Thin routers: each reads its dependencies, calls the store or the decider, returns a schema."""
