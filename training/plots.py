"""Evaluation plots written as PNG files: ROC, PR, calibration, lift, importance, SHAP summary.

Each function draws one figure from a ``training.pipeline.predict_test_window`` frame (or a
booster) and returns the file it wrote. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

CURVE_MODELS = ("lightgbm", "logistic", "history", "oracle")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:  # noqa: ANN001 - a matplotlib Figure
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)
    return path


def plot_roc_pr(frame: pd.DataFrame, target: str, folder: Path) -> list[Path]:
    """ROC and precision-recall curves of every model on the test window."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _pyplot()
    paths = []
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(5, 4))
        for model in (m for m in CURVE_MODELS if m in frame):
            if kind == "roc":
                x, y, _ = roc_curve(frame["outcome"], frame[model])
            else:
                y, x, _ = precision_recall_curve(frame["outcome"], frame[model])
            ax.plot(x, y, label=model)
        ax.set_xlabel("false positive rate" if kind == "roc" else "recall")
        ax.set_ylabel("true positive rate" if kind == "roc" else "precision")
        ax.set_title(f"{target}: {kind.upper()} on the test window")
        ax.legend()
        paths.append(_save(fig, folder / f"{target}_{kind}.png"))
    return paths


def reliability_table(outcomes: np.ndarray, probs: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted and observed rate per equal-width probability bin (empty bins omitted)."""
    which = np.minimum((np.asarray(probs) * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": which, "predicted": probs, "observed": outcomes})
    table = frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"), n=("observed", "size")
    )
    return table.reset_index()


def plot_calibration(frame: pd.DataFrame, target: str, folder: Path) -> Path:
    """Reliability diagram of every model: predicted against observed rate."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    for model in (m for m in CURVE_MODELS if m in frame):
        table = reliability_table(frame["outcome"].to_numpy(), frame[model].to_numpy())
        ax.plot(table["predicted"], table["observed"], marker="o", label=model)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(f"{target}: calibration on the test window")
    ax.legend()
    return _save(fig, folder / f"{target}_calibration.png")


def lift_table(frame: pd.DataFrame, score: str, deciles: int = 10) -> pd.DataFrame:
    """Positive rate and cumulative share of the positive amount by score decile (best first)."""
    order = frame.sort_values(score, ascending=False, kind="stable")
    order = order.assign(decile=np.arange(len(order)) * deciles // max(len(order), 1) + 1)
    positive_amount = order["amount"] * order["outcome"]
    table = (
        order.assign(positive_amount=positive_amount)
        .groupby("decile")
        .agg(rate=("outcome", "mean"), positive_amount=("positive_amount", "sum"))
    )
    table["lift"] = table["rate"] / order["outcome"].mean()
    table["amount_captured"] = table["positive_amount"].cumsum() / positive_amount.sum()
    return table.reset_index()


def plot_lift(frame: pd.DataFrame, target: str, folder: Path) -> Path:
    """Lift per score decile and cumulative amount captured, every model."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    for model in (m for m in CURVE_MODELS if m in frame):
        table = lift_table(frame, model)
        left.plot(table["decile"], table["lift"], marker="o", label=model)
        right.plot(table["decile"] * 10, table["amount_captured"], marker="o", label=model)
    left.set_xlabel("score decile (1 = riskiest)")
    left.set_ylabel("lift")
    right.set_xlabel("% of invoices worked, riskiest first")
    right.set_ylabel(f"share of {target} amount captured")
    left.legend()
    fig.suptitle(f"{target}: lift on the test window")
    return _save(fig, folder / f"{target}_lift.png")


def importance_table(booster: lgb.Booster, top: int = 20) -> pd.DataFrame:
    """Total gain per feature, largest first."""
    gain = booster.feature_importance(importance_type="gain")
    table = pd.DataFrame({"feature": booster.feature_name(), "gain": gain})
    return table.sort_values("gain", ascending=False).head(top).reset_index(drop=True)


def plot_importance(booster: lgb.Booster, name: str, folder: Path) -> Path:
    """Horizontal bars of the top features by total gain."""
    plt = _pyplot()
    table = importance_table(booster).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.barh(table["feature"], table["gain"])
    ax.set_xlabel("total gain")
    ax.set_title(f"{name}: feature importance")
    return _save(fig, folder / f"{name}_importance.png")


def plot_shap_summary(booster: lgb.Booster, X: np.ndarray, name: str, folder: Path) -> Path:
    """TreeSHAP summary: per top feature, each invoice's contribution coloured by its value."""
    plt = _pyplot()
    contrib = booster.predict(X, pred_contrib=True)[:, :-1]
    names = booster.feature_name()
    top = np.argsort(np.abs(contrib).mean(axis=0))[::-1][:15][::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    rng = np.random.default_rng(0)
    for row, j in enumerate(top):
        values = X[:, j]
        rank = pd.Series(values).rank(pct=True).fillna(0.5).to_numpy()
        jitter = rng.uniform(-0.3, 0.3, len(values))
        ax.scatter(contrib[:, j], row + jitter, c=rank, cmap="coolwarm", s=3, alpha=0.5)
    ax.set_yticks(range(len(top)), [names[j] for j in top])
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("contribution to the raw score (red = high feature value)")
    ax.set_title(f"{name}: SHAP summary")
    return _save(fig, folder / f"{name}_shap.png")


def plot_days_coverage(frame: pd.DataFrame, folder: Path) -> Path:
    """Days to pay against the predicted median, with the p10-p90 range, for a sample."""
    plt = _pyplot()
    sample = frame.sample(min(len(frame), 400), random_state=0).sort_values("lightgbm_p50")
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(sample))
    ax.fill_between(x, sample["lightgbm_p10"], sample["lightgbm_p90"], alpha=0.3, label="p10-p90")
    ax.plot(x, sample["lightgbm_p50"], label="p50")
    ax.scatter(x, sample["outcome"], s=4, color="black", label="actual")
    ax.set_xlabel("invoices, by predicted median")
    ax.set_ylabel("days to pay")
    ax.legend()
    return _save(fig, folder / "days_to_pay_range.png")
