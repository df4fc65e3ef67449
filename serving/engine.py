"""The models and policy in use, loaded together and swapped as one reference.

``EngineHolder.current`` is read once per request, so a request sees one consistent set of
versions even while ``reload`` builds the next engine and swaps it in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from features.registry import REGISTRY_BY_NAME, FeatureSpec
from serving.bundle import ModelBundle, load_bundle
from serving.memory import freeze_long_lived
from serving.policy.engine import Policy, load_policy
from serving.registry import REGISTRY_URI, project_tracking_uri, registry_bundle
from serving.settings import DEFAULT_POLICY, Settings

REGISTRY_PREFIX = "models:/"


class EngineError(RuntimeError):
    """Models or policy could not be loaded; the message says which file and why."""


@dataclass(frozen=True)
class Engine:
    """One consistent set of models and policy, plus optional shadow challengers.

    Attributes:
        bundle: The champion models.
        policy: The acting policy.
        specs: Feature specs of the bundle's features (for reason texts).
        challenger_bundle: Shadow models; their decisions are logged, never returned.
        challenger_policy: Shadow policy.
        source: Where the models and the policy came from.
        loaded_at: When this engine was built.
    """

    bundle: ModelBundle
    policy: Policy
    specs: dict[str, FeatureSpec]
    challenger_bundle: ModelBundle | None = None
    challenger_policy: Policy | None = None
    source: dict[str, str] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def model_versions(self) -> dict[str, str]:
        return self.bundle.versions

    @property
    def has_shadow(self) -> bool:
        return self.challenger_bundle is not None or self.challenger_policy is not None


def read_models(reference: str) -> ModelBundle:
    """The bundle in folder ``reference``, or the registry's models at an alias
    (``models:/arbiter@champion``: every target's registered model holding ``champion``, from
    the tracking server of ``MLFLOW_TRACKING_URI``).

    Raises:
        EngineError: The folder is not a bundle, the registry has no model at the alias, or
            the URI is not of that form.
    """
    if reference.startswith(REGISTRY_PREFIX):
        return read_registry(reference)
    try:
        return load_bundle(Path(reference))
    except ValueError as error:
        raise EngineError(f"models {reference}: {error}") from error


def read_registry(reference: str) -> ModelBundle:
    match = REGISTRY_URI.match(reference)
    if match is None:
        raise EngineError(
            f"models {reference}: give models:/arbiter@<alias> (every target's registered "
            "model at that alias, e.g. models:/arbiter@champion) or a bundle folder"
        )
    try:
        return registry_bundle(match["alias"], tracking_uri=project_tracking_uri())
    except Exception as error:  # noqa: BLE001 - any registry failure keeps the old engine
        raise EngineError(f"models {reference}: {error}") from error


def read_policy(reference: str) -> Policy:
    """The policy file ``reference`` (``default``: the shipped default policy).

    Raises:
        EngineError: The file is missing or does not validate.
    """
    try:
        return load_policy(None if reference == DEFAULT_POLICY else Path(reference))
    except (OSError, ValueError) as error:
        raise EngineError(f"policy {reference}: {error}") from error


def build_engine(settings: Settings) -> Engine:
    """Load everything an engine needs; nothing is swapped until it is complete."""
    bundle = read_models(settings.models)
    unknown = [n for n in bundle.feature_names if n not in REGISTRY_BY_NAME]
    if unknown:
        raise EngineError(f"models {settings.models}: features {unknown} are not in the registry")
    challenger = read_models(settings.challenger_models) if settings.challenger_models else None
    return Engine(
        bundle=bundle,
        policy=read_policy(settings.policy),
        specs={name: REGISTRY_BY_NAME[name] for name in REGISTRY_BY_NAME},
        challenger_bundle=challenger,
        challenger_policy=read_policy(settings.challenger_policy)
        if settings.challenger_policy
        else None,
        source={"models": settings.models, "policy": settings.policy},
    )


class EngineHolder:
    """The one reference to the engine in use; ``None`` until models and policy load."""

    def __init__(self, on_swap: Callable[[Engine], None] | None = None) -> None:
        self.current: Engine | None = None
        self.error: str | None = None
        self._reload_lock = threading.Lock()
        self._on_swap = on_swap

    def load(self, settings: Settings) -> Engine | None:
        """Build an engine from ``settings`` and swap it in; on failure keep the old one.

        Returns:
            The new engine, or None when loading failed (``error`` says why).
        """
        with self._reload_lock:
            try:
                engine = build_engine(settings)
            except EngineError as error:
                self.error = str(error)
                return None
            self.current, self.error = engine, None
            freeze_long_lived()
            if self._on_swap is not None:
                self._on_swap(engine)
            return engine
