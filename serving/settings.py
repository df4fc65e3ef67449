"""The service's settings: one pydantic-settings class, read from ``ARBITER_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "changeme", "secret", "dev"})
DEFAULT_DATABASE_URL = "sqlite:///./data/arbiter.db"
DEFAULT_POLICY = "default"


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    Attributes:
        env: ``development`` allows placeholder secrets; ``production`` refuses them.
        database_url: SQLAlchemy URL of the store (SQLite file by default; PostgreSQL by
            ``postgresql+psycopg://user@host/db``).
        models: An exported bundle folder, or ``models:/arbiter@champion`` for every
            target's model at the MLflow registry alias ``champion`` (tracking server of
            ``MLFLOW_TRACKING_URI``, default the project's ``mlflow.db``).
        policy: A policy YAML file, or ``default`` for the shipped default policy.
        challenger_models: Optional shadow bundle; its decisions are stored, never returned.
        challenger_policy: Optional shadow policy file.
        session_secret: Signs sessions of the worklist UI; must be set outside development.
        max_body_bytes: Larger request bodies are refused with 413.
        max_batch_items: Most items accepted in one bulk or batch request.
        upgrade_on_start: Apply pending migrations when the app starts.
        keep_events: Online-feature events kept in the store's log; older ones are deleted
            after each daily worklist refresh (a process that had not read them rebuilds).
        log_level: Level of the JSON logs.
    """

    model_config = SettingsConfigDict(env_prefix="ARBITER_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    models: str = "models/champion"
    policy: str = DEFAULT_POLICY
    challenger_models: str | None = None
    challenger_policy: str | None = None
    session_secret: str = "changethis"
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    max_batch_items: int = Field(default=1000, gt=0)
    upgrade_on_start: bool = True
    keep_events: int = Field(default=100_000, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env != "development" and self.session_secret.strip() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "ARBITER_SESSION_SECRET is a placeholder; set it to a long random value "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))") '
                "outside development"
            )
        if self.env != "development" and len(self.session_secret) < 16:
            raise ValueError(
                "ARBITER_SESSION_SECRET must be at least 16 characters outside development"
            )
        return self

    def sqlite_path(self) -> Path | None:
        """The SQLite file of ``database_url``, or None for another database or in-memory."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url[len(prefix) :].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)
