"""Model bundles: the trained models as serving loads them, with no tracking server.

A bundle is a folder:

- ``manifest.json``: bundle format, feature names in model-input order, and per target its
  model files, registry version, run, metrics and training windows, plus the book's hash;
- one LightGBM model text file per model (``late.txt``, ``dispute.txt``,
  ``days_to_pay_p10.txt``, ``days_to_pay_p50.txt``, ``days_to_pay_p90.txt``);
- ``calibration.json``: isotonic thresholds (or Platt coefficients) per probability target
  and the pay-date interval offset, applied with plain NumPy.

A bundle may hold any subset of the three targets (a registered model holds one). Nothing in
it is a pickle, and this module imports nothing from ``training``: serving depends only on the
files. ``_load_pyfunc`` makes a bundle folder an MLflow pyfunc model (``loader_module``).
"""

from __future__ import annotations

import bisect
import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from serving.fastpath import PREDICT_NORMAL, PathAttribution, SingleRowPredictor

BUNDLE_FORMAT = 1
MANIFEST_FILE = "manifest.json"
CALIBRATION_FILE = "calibration.json"
TARGETS = ("late", "dispute", "days_to_pay")
QUANTILES = ("p10", "p50", "p90")
OUTPUTS = {
    "late": ("p_late",),
    "dispute": ("p_dispute",),
    "days_to_pay": ("days_p10", "days_p50", "days_p90"),
}


class BundleError(ValueError):
    """A bundle folder is missing, incomplete or does not fit the input it is given."""


def model_keys(target: str) -> list[str]:
    """The model names of ``target`` (one per quantile for ``days_to_pay``)."""
    if target == "days_to_pay":
        return [f"days_to_pay_{q}" for q in QUANTILES]
    return [target]


@dataclass
class ModelBundle:
    """Trained models of one or more targets, ready to score NumPy rows.

    Attributes:
        feature_names: Model-input columns, in order.
        boosters: LightGBM boosters by model name (``late``, ``dispute``,
            ``days_to_pay_p10``...).
        calibration: Per target: ``{"method": "isotonic", "x": [...], "y": [...]}``,
            ``{"method": "platt", "a": .., "b": ..}``, or for ``days_to_pay``
            ``{"interval_offset": days}``.
        manifest: The rest of ``manifest.json`` (versions, metrics, windows, book hash).
    """

    feature_names: list[str]
    boosters: dict[str, lgb.Booster]
    calibration: dict[str, dict]
    manifest: dict = field(default_factory=dict)
    _fast: FastRows | None = field(default=None, init=False, repr=False, compare=False)
    _fast_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def targets(self) -> list[str]:
        return [t for t in TARGETS if all(k in self.boosters for k in model_keys(t))]

    @property
    def versions(self) -> dict[str, str]:
        """Registry version of each target's model (``unregistered`` before registration)."""
        described = self.manifest.get("targets", {})
        return {t: str(described.get(t, {}).get("version", "unregistered")) for t in self.targets}

    def _rows(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise BundleError(
                f"expected rows of {len(self.feature_names)} features "
                f"({', '.join(self.feature_names[:3])}...), got shape {X.shape}"
            )
        return X

    def predict(self, X: np.ndarray, num_threads: int = 1) -> dict[str, np.ndarray]:
        """Scores of every target in the bundle.

        Args:
            X: Feature rows of shape (n_samples, n_features) in ``feature_names`` order
                (NaN = unknown), or one row of shape (n_features,).
            num_threads: LightGBM threads; 1 is fastest for a few rows.

        Returns:
            Arrays of shape (n_samples,) keyed ``p_late``, ``p_dispute``, ``days_p10``,
            ``days_p50``, ``days_p90`` (the keys of the targets the bundle holds).
        """
        X = self._rows(X)
        scores: dict[str, np.ndarray] = {}
        for target in self.targets:
            if target == "days_to_pay":
                scores.update(self._predict_days(X, num_threads))
            else:
                raw = self.boosters[target].predict(X, num_threads=num_threads)
                scores[OUTPUTS[target][0]] = apply_calibration(self.calibration[target], raw)
        return scores

    def _predict_days(self, X: np.ndarray, num_threads: int) -> dict[str, np.ndarray]:
        raw = np.column_stack(
            [
                self.boosters[k].predict(X, num_threads=num_threads)
                for k in model_keys("days_to_pay")
            ]
        )
        return _calibrated_days(np.sort(raw, axis=1), self.calibration)

    def contributions(self, x_row: np.ndarray) -> dict[str, np.ndarray]:
        """Per target, each feature's path-attribution credit to one invoice's raw score.

        Args:
            x_row: One feature row of shape (n_features,).

        Returns:
            Arrays of shape (n_features + 1,) keyed by target (the last entry is the bias;
            the entries add up to the raw score); log-odds for ``late`` and ``dispute``, days
            for ``days_to_pay`` (its median). See ``serving.fastpath``.
        """
        return self.fast().contributions(self._rows(x_row)[0], self.targets)

    def score_row(self, x_row: np.ndarray) -> dict[str, float]:
        """``predict`` for one row, through LightGBM's single-row fast path (same values)."""
        return self.fast().scores(self._rows(x_row)[0])

    def fast(self) -> FastRows:
        """The single-row predictors of this bundle, prepared on first use."""
        if self._fast is None:
            with self._fast_lock:
                if self._fast is None:
                    self._fast = FastRows(self)
        return self._fast

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Scores for a frame holding (at least) the feature columns, as a frame."""
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise BundleError(
                f"input lacks {len(missing)} feature column(s): {', '.join(missing[:5])}; "
                "send every name in the bundle's manifest.json feature_names"
            )
        X = frame[self.feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        return pd.DataFrame(self.predict(X, num_threads=0), index=frame.index)

    def save(self, folder: str | Path) -> Path:
        """Write the bundle to ``folder`` (replaced whole; never left half-written)."""
        folder = Path(folder)
        partial = folder.with_name(f".{folder.name}.partial")
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        manifest = json.loads(json.dumps(self.manifest, default=str))
        manifest.update({"format": BUNDLE_FORMAT, "feature_names": list(self.feature_names)})
        files = {}
        for key, booster in self.boosters.items():
            booster.save_model(str(partial / f"{key}.txt"))
            files[key] = f"{key}.txt"
        manifest["model_files"] = files
        (partial / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        (partial / CALIBRATION_FILE).write_text(json.dumps(self.calibration, indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        partial.replace(folder)
        return folder


class FastRows:
    """Single-row scores and path attributions of every model of a bundle."""

    def __init__(self, bundle: ModelBundle) -> None:
        n = len(bundle.feature_names)
        self._bundle = bundle
        self._score = {
            key: SingleRowPredictor(booster, n, PREDICT_NORMAL)
            for key, booster in bundle.boosters.items()
        }
        self._calibrate = {
            t: scalar_calibration(bundle.calibration[t])
            for t in bundle.targets
            if t != "days_to_pay"
        }
        self._offset = float(bundle.calibration.get("days_to_pay", {}).get("interval_offset", 0.0))
        self._explain: dict[str, PathAttribution] = {}
        self._explain_lock = threading.Lock()

    def scores(self, row: np.ndarray) -> dict[str, float]:
        """Scores keyed like ``ModelBundle.predict`` (``p_late``, ``days_p50``...), as floats."""
        row = np.ascontiguousarray(row, dtype=np.float64)
        scores: dict[str, float] = {}
        for target in self._bundle.targets:
            if target == "days_to_pay":
                low, mid, high = sorted(float(self._score[k](row)[0]) for k in model_keys(target))
                p50 = max(mid, 0.0)
                scores["days_p10"] = min(max(low - self._offset, 0.0), p50)
                scores["days_p50"] = p50
                scores["days_p90"] = max(high + self._offset, p50)
            else:
                raw = float(self._score[target](row)[0])
                scores[OUTPUTS[target][0]] = self._calibrate[target](raw)
        return scores

    def contributions(self, row: np.ndarray, targets: list[str]) -> dict[str, np.ndarray]:
        """Path attributions of ``row`` for ``targets`` (``days_to_pay``: its median)."""
        row = np.ascontiguousarray(row, dtype=np.float64)
        return {target: self.explainer(target)(row) for target in targets}

    def explainer(self, target: str) -> PathAttribution:
        """The credit tables of ``target``'s model, built on first use."""
        if target not in self._explain:
            with self._explain_lock:
                if target not in self._explain:
                    key = "days_to_pay_p50" if target == "days_to_pay" else target
                    booster = self._bundle.boosters[key]
                    self._explain[target] = PathAttribution(
                        booster, len(self._bundle.feature_names)
                    )
        return self._explain[target]


def _calibrated_days(raw: np.ndarray, calibration: dict) -> dict[str, np.ndarray]:
    """p10, p50, p90 days from sorted raw quantiles of shape (n, 3), widened by the offset."""
    offset = float(calibration.get("days_to_pay", {}).get("interval_offset", 0.0))
    p50 = np.maximum(raw[:, 1], 0.0)
    p10 = np.clip(raw[:, 0] - offset, 0.0, p50)
    p90 = np.maximum(raw[:, 2] + offset, p50)
    return {"days_p10": p10, "days_p50": p50, "days_p90": p90}


def apply_calibration(calibration: dict, scores: np.ndarray) -> np.ndarray:
    """Calibrated probabilities for raw ``scores`` (isotonic by ``np.interp``, or Platt)."""
    if calibration["method"] == "isotonic":
        return np.interp(scores, calibration["x"], calibration["y"])
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    return 1.0 / (1.0 + np.exp(-(calibration["a"] * np.log(p / (1 - p)) + calibration["b"])))


def scalar_calibration(calibration: dict) -> Callable[[float], float]:
    """``apply_calibration`` for one raw score, in plain Python (no array round trip)."""
    if calibration["method"] != "isotonic":
        return lambda raw: float(apply_calibration(calibration, np.array([raw]))[0])
    xs, ys = [float(x) for x in calibration["x"]], [float(y) for y in calibration["y"]]

    def isotonic(raw: float) -> float:
        # np.interp: clamp outside the thresholds, linear between them.
        if raw <= xs[0]:
            return ys[0]
        if raw >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, raw)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 if x1 == x0 else y0 + (raw - x0) * (y1 - y0) / (x1 - x0)

    return isotonic


def load_bundle(path: str | Path) -> ModelBundle:
    """Load the bundle in folder ``path``.

    Raises:
        BundleError: The folder, its manifest, a model file or a calibration is missing, or
            the bundle format is newer than this code reads.
    """
    folder = Path(path)
    manifest = _read_json(folder / MANIFEST_FILE)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{folder / MANIFEST_FILE}: bundle format {manifest.get('format')!r}, this code "
            f"reads format {BUNDLE_FORMAT}; export the model again with `arbiter export`"
        )
    calibration = _read_json(folder / CALIBRATION_FILE)
    boosters = {}
    for key, name in manifest.get("model_files", {}).items():
        model_file = folder / name
        if not model_file.exists():
            raise BundleError(f"{model_file}: model file listed in manifest.json is missing")
        boosters[key] = lgb.Booster(model_file=str(model_file))
    bundle = ModelBundle(manifest["feature_names"], boosters, calibration, manifest)
    lacking = [t for t in bundle.targets if t != "days_to_pay" and t not in calibration]
    if lacking:
        raise BundleError(f"{folder / CALIBRATION_FILE}: no calibration for {lacking[0]!r}")
    if not bundle.targets:
        raise BundleError(f"{folder}: the bundle holds no complete target model")
    return bundle


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise BundleError(f"{path}: missing; is {path.parent} an exported model bundle?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise BundleError(f"{path}: not valid JSON ({error})") from error


class PyfuncBundle:
    """The MLflow pyfunc face of a bundle: a frame of features in, a frame of scores out."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        return self.bundle.predict_frame(model_input)


def _load_pyfunc(data_path: str) -> PyfuncBundle:
    """MLflow's entry point for a model logged with ``loader_module="serving.bundle"``."""
    return PyfuncBundle(load_bundle(data_path))
