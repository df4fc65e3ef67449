"""Arbiter's training side: labels, time-ordered splits, models, evaluation and the registry."""
