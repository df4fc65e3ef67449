"""The MLflow model registry, as serving reads it: every target's model at an alias.

Training registers one model per target (``arbiter-late``, ``arbiter-dispute``,
``arbiter-days-to-pay``) and moves the ``champion`` alias (``training.tracking``). Serving reads
them back as one bundle: ``ARBITER_MODELS=models:/arbiter@champion`` loads the three models
holding that alias, and ``arbiter export`` writes the same bundle to a folder for a service
that has no access to the tracking server.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from serving.bundle import ModelBundle, load_bundle

REGISTERED_NAMES = {
    "late": "arbiter-late",
    "dispute": "arbiter-dispute",
    "days_to_pay": "arbiter-days-to-pay",
}
REGISTRY_URI = re.compile(r"^models:/arbiter@(?P<alias>[A-Za-z0-9_-]+)$")


def project_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the project's SQLite store (as training uses)."""
    project = Path(__file__).resolve().parents[1]
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project / 'mlflow.db'}"


def alias_version(target: str, alias: str, tracking_uri: str | None = None) -> str | None:
    """The version of ``target``'s registered model holding ``alias``, or None.

    ``tracking_uri`` None means MLflow's current tracking URI.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        return str(client.get_model_version_by_alias(REGISTERED_NAMES[target], alias).version)
    except MlflowException:
        return None


def download_bundle(
    target: str, reference: str, folder: Path, tracking_uri: str | None = None
) -> ModelBundle:
    """Download ``target``'s registered model at ``reference`` (an alias or a version)."""
    import mlflow
    import yaml

    name = REGISTERED_NAMES[target]
    uri = f"models:/{name}/{reference}" if reference.isdigit() else f"models:/{name}@{reference}"
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(folder), tracking_uri=tracking_uri
        )
    )
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    data = mlmodel["flavors"]["python_function"]["data"]
    return load_bundle(local / data)


def registry_bundle(
    alias: str,
    targets: tuple[str, ...] = tuple(REGISTERED_NAMES),
    tracking_uri: str | None = None,
) -> ModelBundle:
    """Every target's registered model at ``alias`` (or version), as one bundle in memory.

    ``tracking_uri`` None means MLflow's current tracking URI.

    Raises:
        ValueError: A target has no model at ``alias``, or the models disagree on features.
    """
    parts: dict[str, ModelBundle] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            version = alias if alias.isdigit() else alias_version(target, alias, tracking_uri)
            if version is None:
                raise ValueError(
                    f"{REGISTERED_NAMES[target]} has no version with alias {alias!r}; "
                    "train and register one with `arbiter train --register`"
                )
            part = download_bundle(target, version, Path(tmp) / target, tracking_uri)
            part.manifest["targets"][target]["version"] = str(version)
            parts[target] = part
    return merge_bundles(parts)


def export_bundle(
    alias: str, out: Path, targets: tuple[str, ...] = tuple(REGISTERED_NAMES)
) -> Path:
    """Write one self-contained bundle of every target's model at ``alias`` (or version).

    Raises:
        ValueError: A target has no model at ``alias``, or the models disagree on features.
    """
    return registry_bundle(alias, targets).save(out)


def merge_bundles(parts: dict[str, ModelBundle]) -> ModelBundle:
    """One bundle of several single-target bundles sharing the same feature names."""
    first = next(iter(parts.values()))
    for target, part in parts.items():
        if part.feature_names != first.feature_names:
            raise ValueError(
                f"the {target} model was trained on other features than the others; "
                "promote models trained on the same feature set, or export targets separately"
            )
    manifest = {k: v for k, v in first.manifest.items() if k != "targets"}
    manifest["targets"] = {t: p.manifest["targets"][t] for t, p in parts.items()}
    return ModelBundle(
        first.feature_names,
        {k: b for p in parts.values() for k, b in p.boosters.items()},
        {t: p.calibration[t] for t, p in parts.items()},
        manifest,
    )
