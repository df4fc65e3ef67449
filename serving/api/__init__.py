"""The HTTP API: routers under ``routes``, dependencies in ``deps``, schemas in ``schemas``."""
