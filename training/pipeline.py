"""Training and evaluation of the three targets, as pure steps over prepared frames.

``prepare_training_data`` (the only step that reads a book) joins point-in-time features,
labels and evaluation context; ``train_target`` fits LightGBM, its calibration and the two
baselines on one target's time-ordered windows; ``evaluate_target`` scores the test window
through the serving bundle, so that what is evaluated is exactly what serving will run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from serving.bundle import ModelBundle, model_keys
from training.calibration import apply_calibration, fit_calibration, fit_interval_offset
from training.labels import TARGET_COLUMN, label_counts, make_labels
from training.metrics import classification_metrics, metrics_by_group, quantile_metrics
from training.models import (
    QUANTILE_LEVELS,
    booster_params,
    fit_booster,
    fit_linear_days_baseline,
    fit_logistic_baseline,
    fit_quantile_offsets,
    history_scores,
)
from training.splits import SplitPlan, assign_splits, plan_splits, split_counts

# Primary metric of each target for the registry gate, and whether higher is better.
GATE_METRICS = {
    "late": ("roc_auc", True),
    "dispute": ("roc_auc", True),
    "days_to_pay": ("pinball", False),
}
ORACLE_COLUMNS = {"late": "p_late", "dispute": "p_dispute", "days_to_pay": "expected_days_to_pay"}
MODELS = ("lightgbm", "logistic", "history")


@dataclass
class TrainingData:
    """Everything training needs, one row per invoice, all frames aligned row by row.

    Attributes:
        features: Feature values (float64, NaN = unknown), columns ``feature_names``.
        labels: Output of ``training.labels.make_labels``.
        context: ``amount``, ``segment`` and ``customer_type`` (``new``/``returning``).
        feature_names: Model-input columns in order.
        categorical: The integer-coded category features among them.
        excluded_features: Features the book cannot support, with the reason.
        as_of: The book's extraction date.
        book_hash: A content hash of the book's tables.
        oracle: The simulator's true ``p_late``, ``p_dispute``, ``expected_days_to_pay`` per
            invoice (NaN where absent), or None for a real book.
    """

    features: pd.DataFrame
    labels: pd.DataFrame
    context: pd.DataFrame
    feature_names: list[str]
    categorical: list[str]
    excluded_features: dict[str, str]
    as_of: pd.Timestamp
    book_hash: str
    oracle: pd.DataFrame | None = None

    def matrix(self, rows: np.ndarray) -> np.ndarray:
        """Feature rows (boolean mask of shape (n_invoices,)) as float64 (n, n_features)."""
        return self.features.loc[rows, self.feature_names].to_numpy(np.float64)


@dataclass
class TargetModel:
    """One target's fitted models and its evaluation rows.

    Attributes:
        target: ``late``, ``dispute`` or ``days_to_pay``.
        plan: The time windows.
        split: Per invoice, its split (``train``, ``valid``, ``test`` or why excluded).
        boosters: LightGBM boosters by model name.
        calibration: Calibration of the target (see ``serving.bundle.ModelBundle``).
        baseline_test: Baseline predictions on the test rows, by model name (for
            ``days_to_pay``, a dict of p10/p50/p90 arrays).
        best_iterations: Trees kept by early stopping, by model name.
    """

    target: str
    plan: SplitPlan
    split: pd.Series
    boosters: dict[str, lgb.Booster]
    calibration: dict
    baseline_test: dict
    best_iterations: dict[str, int] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return split_counts(self.split)


def book_hash(tables: dict[str, pd.DataFrame]) -> str:
    """A SHA-256 over every table's rows (order-sensitive), naming the exact training data."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(tables[name], index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def customer_context(
    labels: pd.DataFrame, customers: pd.DataFrame | None, new_days: int
) -> pd.DataFrame:
    """Amount, segment and new/returning customer for each labelled invoice.

    A customer is ``new`` on an invoice issued fewer than ``new_days`` days after the
    customer's first invoice in the book, else ``returning``.
    """
    first = labels.groupby("customer_id")["issue_date"].transform("min")
    tenure = (labels["issue_date"] - first).dt.days
    context = pd.DataFrame({"amount": labels["amount"].to_numpy(float)}, index=labels.index)
    context["customer_type"] = np.where(tenure < new_days, "new", "returning")
    segment = None
    if customers is not None and "segment" in customers.columns:
        segment = labels["customer_id"].map(customers.set_index("customer_id")["segment"])
    context["segment"] = segment if segment is not None else "unknown"
    context["segment"] = context["segment"].fillna("unknown")
    return context


def assemble_training_data(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    feature_names: list[str],
    categorical: list[str],
    excluded: dict[str, str],
    customers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    hash_: str,
    params: dict,
    oracle: pd.DataFrame | None = None,
) -> TrainingData:
    """Align a feature frame (one row per invoice, ``invoice_id`` column) with the labels.

    Raises:
        ValueError: An invoice has labels but no feature row, or the reverse (nothing is
            silently dropped), or a feature column is missing.
    """
    missing = [name for name in feature_names if name not in features.columns]
    if missing:
        raise ValueError(f"feature frame lacks columns {missing[:5]}")
    indexed = features.drop_duplicates("invoice_id").set_index("invoice_id")
    unmatched = labels.loc[~labels["invoice_id"].isin(indexed.index), "invoice_id"]
    if len(unmatched) or len(indexed) != len(labels):
        raise ValueError(
            f"features and labels disagree: {len(unmatched)} invoices without features "
            f"(first: {unmatched.head(3).tolist()}), {len(indexed)} feature rows for "
            f"{len(labels)} invoices"
        )
    aligned = indexed.loc[labels["invoice_id"], feature_names].astype(np.float64)
    aligned.index = labels.index
    if oracle is not None:
        oracle = (
            oracle.set_index("invoice_id")
            .reindex(labels["invoice_id"])[list(ORACLE_COLUMNS.values())]
            .astype(float)
            .set_axis(labels.index)
        )
    context = customer_context(labels, customers, params["evaluation"]["new_customer_days"])
    return TrainingData(
        aligned,
        labels,
        context,
        feature_names,
        categorical,
        excluded,
        pd.Timestamp(as_of),
        hash_,
        oracle,
    )


def prepare_training_data(book, params: dict, oracle: pd.DataFrame | None = None) -> TrainingData:  # noqa: ANN001
    """Features at each invoice's issue date, labels at the book's ``as_of``, and context.

    Args:
        book: A ``features.book.Book``.
        params: Training parameters (``training.params.load_params``).
        oracle: The simulator's ground truth (``features.book.read_oracle``), if any.
    """
    from features.offline import build_features
    from features.registry import feature_set

    chosen = feature_set(book)
    features = build_features(book, feature_set=chosen)
    label_params = params["labels"]
    labels = make_labels(
        book.invoices,
        book.get("disputes"),
        book.as_of,
        grace_days=label_params["grace_days"],
        dispute_window_days=label_params["dispute_window_days"],
        horizon_days=label_params["days_to_pay_horizon_days"],
    )
    categorical = [s.name for s in chosen.included if s.dtype == "category"]
    return assemble_training_data(
        features,
        labels,
        list(chosen.names),
        categorical,
        dict(chosen.excluded),
        book.get("customers"),
        book.as_of,
        book_hash(book.tables),
        params,
        oracle,
    )


def trainable_targets(data: TrainingData) -> dict[str, str]:
    """Each target with ``ok`` or the reason it cannot be trained on this book."""
    counts = label_counts(data.labels)
    status = {}
    for target in TARGET_COLUMN:
        known = counts[target]["known"]
        if known == 0:
            status[target] = "no known labels (for dispute: the book has no disputes table)"
        elif target != "days_to_pay" and counts[target]["positive"] in (0, known):
            status[target] = "labels hold a single class"
        else:
            status[target] = "ok"
    return status


def window_arrays(data: TrainingData, target: str, split: pd.Series) -> tuple[dict, dict, dict]:
    """Row masks, feature matrices and targets of the train, valid and test windows.

    Raises:
        ValueError: A window holds no invoice with a mature label.
    """
    y = data.labels[TARGET_COLUMN[target]].to_numpy(float)
    rows = {name: (split == name).to_numpy() for name in ("train", "valid", "test")}
    empty = [name for name, mask in rows.items() if not mask.any()]
    if empty:
        raise ValueError(f"{target}: the {empty[0]} window holds no invoice with a mature label")
    X = {name: data.matrix(mask) for name, mask in rows.items()}
    Y = {name: y[mask] for name, mask in rows.items()}
    return rows, X, Y


def split_for(data: TrainingData, target: str, params: dict) -> tuple[SplitPlan, pd.Series]:
    """The windows of ``target`` in this book and every invoice's split."""
    splits = params["splits"]
    plan = plan_splits(data.labels, target, data.as_of, splits["valid_days"], splits["test_days"])
    return plan, assign_splits(data.labels, plan)


def train_target(data: TrainingData, target: str, params: dict) -> TargetModel:
    """Fit LightGBM (early-stopped and calibrated on valid) and the baselines for ``target``."""
    plan, split = split_for(data, target, params)
    rows, X, Y = window_arrays(data, target, split)
    if target == "days_to_pay":
        boosters, calibration = _fit_quantile_boosters(data, X, Y, params)
    else:
        boosters, calibration = _fit_classifier(data, target, X, Y, params)
    baselines = baseline_predictions(data, target, X, Y, rows, params)
    best = {key: int(b.best_iteration or b.current_iteration()) for key, b in boosters.items()}
    return TargetModel(target, plan, split, boosters, calibration, baselines, best)


def _fit_classifier(data: TrainingData, target: str, X: dict, Y: dict, params: dict) -> tuple:
    lgb_params = {
        **booster_params(params, target),
        "objective": "binary",
        "metric": "binary_logloss",
    }
    booster = fit_booster(
        X["train"],
        Y["train"],
        X["valid"],
        Y["valid"],
        lgb_params,
        params["lightgbm"]["num_boost_round"],
        params["lightgbm"]["early_stopping_rounds"],
        data.feature_names,
        data.categorical,
    )
    raw_valid = booster.predict(X["valid"])
    calibration = fit_calibration(raw_valid, Y["valid"], params["calibration"]["method"])
    return {target: booster}, calibration


def _fit_quantile_boosters(data: TrainingData, X: dict, Y: dict, params: dict) -> tuple:
    boosters = {}
    for key, alpha in zip(model_keys("days_to_pay"), QUANTILE_LEVELS.values(), strict=True):
        lgb_params = {
            **booster_params(params, "days_to_pay"),
            "objective": "quantile",
            "alpha": alpha,
            "metric": "quantile",
        }
        boosters[key] = fit_booster(
            X["train"],
            Y["train"],
            X["valid"],
            Y["valid"],
            lgb_params,
            params["lightgbm"]["num_boost_round"],
            params["lightgbm"]["early_stopping_rounds"],
            data.feature_names,
            data.categorical,
        )
    valid = np.sort(np.column_stack([boosters[k].predict(X["valid"]) for k in boosters]), axis=1)
    offset = fit_interval_offset(
        Y["valid"], valid[:, 0], valid[:, 2], params["calibration"]["coverage"]
    )
    return boosters, {"interval_offset": offset}


def baseline_predictions(
    data: TrainingData, target: str, X: dict, Y: dict, rows: dict, params: dict
) -> dict:
    history_name = params["baselines"]["history_features"][target]
    has_history = history_name in data.features.columns
    history = {
        name: data.features.loc[mask, history_name].to_numpy(float)
        if has_history
        else np.full(mask.sum(), np.nan)
        for name, mask in rows.items()
    }
    if target == "days_to_pay":
        linear, offsets = fit_linear_days_baseline(X["train"], Y["train"])
        fallback = float(np.median(Y["train"]))
        history_offsets = fit_quantile_offsets(
            history_scores(history["train"], fallback), Y["train"]
        )
        return {
            "logistic": offsets.predict(linear.predict(X["test"])),
            "history": history_offsets.predict(history_scores(history["test"], fallback)),
        }
    logistic = fit_logistic_baseline(X["train"], Y["train"])
    return {
        "logistic": logistic.predict_proba(X["test"])[:, 1],
        "history": np.clip(history_scores(history["test"], float(Y["train"].mean())), 0, 1),
    }


def bundle_of(models: dict[str, TargetModel], data: TrainingData, manifest: dict) -> ModelBundle:
    """A serving bundle holding the LightGBM models and calibrations of ``models``."""
    boosters = {k: b for m in models.values() for k, b in m.boosters.items()}
    calibration = {t: m.calibration for t, m in models.items()}
    return ModelBundle(list(data.feature_names), boosters, calibration, manifest)


def predict_test_window(
    bundle: ModelBundle, data: TrainingData, target: str, split: pd.Series, baseline_test: dict
) -> pd.DataFrame:
    """The test rows of ``target`` with outcomes, context and every model's scores.

    Args:
        bundle: The LightGBM models to evaluate (through serving's own code).
        data: The prepared book.
        target: ``late``, ``dispute`` or ``days_to_pay``.
        split: The split of every invoice (``assign_splits``).
        baseline_test: Baseline predictions on the test rows (``baseline_predictions``).
    """
    mask = (split == "test").to_numpy()
    frame = data.context.loc[mask].copy()
    frame.insert(0, "invoice_id", data.labels.loc[mask, "invoice_id"].to_numpy())
    frame["outcome"] = data.labels.loc[mask, TARGET_COLUMN[target]].to_numpy(float)
    missing = [name for name in bundle.feature_names if name not in data.features.columns]
    if missing:
        raise ValueError(
            f"the {target} model needs features this book lacks: {', '.join(missing[:5])}"
        )
    X = data.features.loc[mask, bundle.feature_names].to_numpy(np.float64)
    scores = bundle.predict(X, num_threads=0)
    if target == "days_to_pay":
        for q in QUANTILE_LEVELS:
            frame[f"lightgbm_{q}"] = scores[f"days_{q}"]
            for name in ("logistic", "history"):
                frame[f"{name}_{q}"] = baseline_test[name][q]
    else:
        frame["lightgbm"] = scores[f"p_{target}"]
        for name in ("logistic", "history"):
            frame[name] = baseline_test[name]
    if data.oracle is not None:
        frame["oracle"] = data.oracle.loc[mask, ORACLE_COLUMNS[target]].to_numpy(float)
    return frame


def score_metrics(frame: pd.DataFrame, target: str, model: str, bins: int = 10) -> dict[str, float]:
    """Test metrics of one model's columns in a ``predict_test_window`` frame."""
    if target == "days_to_pay":
        if model == "oracle":
            mean = frame["oracle"].to_numpy(float)
            return {"mae_mean": float(np.nanmean(np.abs(frame["outcome"] - mean)))}
        return quantile_metrics(frame["outcome"], *(frame[f"{model}_{q}"] for q in QUANTILE_LEVELS))
    return classification_metrics(frame["outcome"], frame[model], frame["amount"], bins)


def evaluate_target(frame: pd.DataFrame, target: str, bins: int = 10) -> dict:
    """Test-window metrics of every model, per segment and per customer type, with the oracle.

    Returns:
        ``{"overall": {model: metrics}, "segment": {segment: metrics},
        "customer_type": {type: metrics}, "oracle_gap": {metric: oracle - lightgbm}}``
        (per-group metrics are LightGBM's).
    """
    models = [*MODELS, *(["oracle"] if "oracle" in frame and frame["oracle"].notna().all() else [])]
    overall = {m: score_metrics(frame, target, m, bins) for m in models}
    result = {
        "overall": overall,
        "segment": metrics_by_group(
            frame, "segment", lambda r: score_metrics(r, target, "lightgbm", bins)
        ),
        "customer_type": metrics_by_group(
            frame, "customer_type", lambda r: score_metrics(r, target, "lightgbm", bins)
        ),
    }
    if "oracle" in overall and target != "days_to_pay":
        result["oracle_gap"] = {
            m: overall["oracle"][m] - overall["lightgbm"][m] for m in ("roc_auc", "pr_auc")
        }
    return result


def lightgbm_beats_baselines(evaluation: dict, target: str, tolerance: float = 0.0) -> bool:
    """LightGBM is ahead of both baselines on the target's gate metric.

    Args:
        evaluation: ``evaluate_target``'s result.
        target: The target.
        tolerance: How far behind a baseline still counts as level (for small test windows,
            about one standard error of the metric); 0 means strictly ahead.
    """
    metric, higher = GATE_METRICS[target]
    overall = evaluation["overall"]
    ours = overall["lightgbm"][metric]
    others = [overall[b][metric] for b in ("logistic", "history")]
    if higher:
        return all(ours + tolerance > o for o in others)
    return all(ours - tolerance < o for o in others)


def raw_calibrated(model: TargetModel, X: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of a classifier target computed on the training side."""
    return apply_calibration(model.calibration, model.boosters[model.target].predict(X))
