"""The service's store: its copy of the AR book, the decision log, worklist state and keys.

SQLAlchemy 2 over SQLite (WAL, foreign keys on) by default, PostgreSQL by URL; the schema is
created and upgraded by the Alembic migrations in ``serving.migrations``.
"""
