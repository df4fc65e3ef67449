"""MLflow tracking, the model registry with its promotion gate, and bundle export.

Each target is a registered model of its own (``arbiter-late``, ``arbiter-dispute``,
``arbiter-days-to-pay``), so a late model can be served alone with ``mlflow models serve``.
A registered model is a pyfunc whose data is a serving bundle holding that one target and
whose loader is ``serving.bundle`` (no pickled class): it takes a frame of features and
returns probabilities (``p_late``/``p_dispute``) or quantiles (``days_p10/p50/p90``).

Tracking defaults to ``sqlite:///<project>/mlflow.db`` with artifacts under
``<project>/mlartifacts``; ``MLFLOW_TRACKING_URI`` overrides.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from serving.bundle import OUTPUTS, ModelBundle
from serving.registry import (  # noqa: F401 - the registry's read side, shared with serving
    REGISTERED_NAMES,
    alias_version,
    download_bundle,
    export_bundle,
    merge_bundles,
    project_tracking_uri,
)

PROJECT_DIR = Path(__file__).resolve().parents[1]
EXPERIMENT = "arbiter"
CHAMPION, CHALLENGER = "champion", "challenger"


default_tracking_uri = project_tracking_uri


def use_tracking(
    uri: str | None = None, experiment: str = EXPERIMENT, artifact_root: Path | None = None
) -> str:
    """Point MLflow at ``uri`` (default ``default_tracking_uri()``) and ``experiment``.

    A new experiment stores its artifacts under ``artifact_root`` (default
    ``<project>/mlartifacts``). Under ``mlflow run`` (``MLFLOW_RUN_ID`` set) the launched
    run's experiment is kept. Returns the experiment id.
    """
    import mlflow

    mlflow.set_tracking_uri(uri or default_tracking_uri())
    launched_run = os.environ.get("MLFLOW_RUN_ID")
    if launched_run:
        # Under `mlflow run` the run already exists, in the experiment chosen there.
        return mlflow.MlflowClient().get_run(launched_run).info.experiment_id
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        mlflow.set_experiment(experiment_id=found.experiment_id)
        return found.experiment_id
    root = artifact_root or PROJECT_DIR / "mlartifacts"
    location = (Path(root) / experiment).resolve().as_uri()
    experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def flatten_metrics(prefix: str, nested: dict) -> dict[str, float]:
    """``{"a": {"b": 1.0}}`` as ``{"prefix.a.b": 1.0}``, keeping finite numbers only."""
    flat: dict[str, float] = {}
    for key, value in nested.items():
        name = f"{prefix}.{key}".replace(" ", "_")
        if isinstance(value, dict):
            flat.update(flatten_metrics(name, value))
        elif isinstance(value, int | float) and np.isfinite(value):
            flat[name] = float(value)
    return flat


def signature_for(bundle: ModelBundle, target: str):  # noqa: ANN201 - mlflow ModelSignature
    """Input: one double column per feature (NaN = unknown). Output: the target's scores."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema([ColSpec("double", name) for name in bundle.feature_names])
    outputs = Schema([ColSpec("double", name) for name in OUTPUTS[target]])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """What the pyfunc needs at load time (the ``arbiter`` package itself provides the loader)."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "mlflow")]


def log_target_model(bundle: ModelBundle, target: str, example: pd.DataFrame, register: bool):  # noqa: ANN201 - mlflow ModelInfo
    """Log ``target``'s part of ``bundle`` as a pyfunc in the active run, maybe registered."""
    import mlflow

    part = ModelBundle(
        bundle.feature_names,
        {k: b for k, b in bundle.boosters.items() if k.startswith(target)},
        {target: bundle.calibration[target]},
        {**bundle.manifest, "targets": {target: bundle.manifest["targets"][target]}},
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = part.save(Path(tmp) / "bundle")
        return mlflow.pyfunc.log_model(
            name=target,
            loader_module="serving.bundle",
            data_path=str(folder),
            signature=signature_for(bundle, target),
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=REGISTERED_NAMES[target] if register else None,
        )


def model_version_of(info, target: str) -> str | None:  # noqa: ANN001 - mlflow ModelInfo
    """The registry version created when ``info`` was logged with registration."""
    version = getattr(info, "registered_model_version", None)
    return None if version is None else str(version)


@dataclass
class GateDecision:
    """Outcome of the registry gate for one target.

    Attributes:
        target: The target.
        metric: The compared metric and whether higher is better.
        new_version: The newly registered version.
        new_value: Its metric on the test window.
        champion_version: The champion it was compared with (None when there was none).
        champion_value: The champion's metric on the same test window.
        promoted: Whether the new version became champion.
        reason: Why, in words.
    """

    target: str
    metric: str
    higher_is_better: bool
    new_version: str
    new_value: float
    champion_version: str | None
    champion_value: float | None
    promoted: bool
    reason: str


def decide(
    target: str,
    metric: str,
    higher: bool,
    new_version: str,
    new_value: float,
    champion_version: str | None,
    champion_value: float | None,
    min_improvement: float = 0.0,
) -> GateDecision:
    """Promote only a model that beats the champion by more than ``min_improvement``."""
    if champion_version is None:
        promoted, reason = True, "no champion yet"
    elif champion_value is None or not np.isfinite(champion_value):
        promoted, reason = True, "the champion cannot be scored on this book's features"
    else:
        gain = (new_value - champion_value) if higher else (champion_value - new_value)
        promoted = gain > min_improvement
        verdict = "beats" if promoted else "does not beat"
        reason = (
            f"{metric} {new_value:.4f} {verdict} the champion's {champion_value:.4f} "
            f"(improvement {gain:+.4f}, required > {min_improvement})"
        )
    return GateDecision(
        target,
        metric,
        higher,
        new_version,
        new_value,
        champion_version,
        champion_value,
        promoted,
        reason,
    )


def apply_decision(decision: GateDecision) -> None:
    """Move ``champion`` to the new version, or mark it ``challenger``."""
    from mlflow import MlflowClient

    client = MlflowClient()
    name = REGISTERED_NAMES[decision.target]
    alias = CHAMPION if decision.promoted else CHALLENGER
    client.set_registered_model_alias(name, alias, decision.new_version)
    client.set_model_version_tag(name, decision.new_version, "gate", decision.reason)


def log_json(payload: dict, name: str) -> None:
    """Log ``payload`` as a JSON artifact of the active run."""
    import mlflow

    mlflow.log_text(json.dumps(payload, indent=2, default=str), name)


def log_folder(folder: Path, artifact_path: str | None = None) -> None:
    """Log every file of ``folder`` as artifacts of the active run."""
    import mlflow

    if any(folder.iterdir()):
        mlflow.log_artifacts(str(folder), artifact_path)


def clear_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def flatten_params(params: dict, prefix: str = "") -> dict[str, str]:
    """Nested parameters as ``{"section.key": "value"}`` for ``mlflow.log_params``."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
