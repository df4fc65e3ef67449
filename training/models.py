"""Model fitting: LightGBM per target and the two baselines reported beside it.

Pure functions: arrays and parameters in, fitted models out. The customer-history baseline
scores each invoice with one prior-history feature (for ``late`` the customer's share of
invoices paid late before the issue date); the logistic baseline is a logistic (or, for days
to pay, linear) regression on the same features with median imputation, missing-value
indicators and scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

QUANTILE_LEVELS = {"p10": 0.1, "p50": 0.5, "p90": 0.9}


def booster_params(params: dict, target: str) -> dict:
    """LightGBM parameters of ``target``: the common ones overridden by the target's own."""
    merged = {**params["lightgbm"]["common"], **(params["lightgbm"].get(target) or {})}
    merged.setdefault("verbosity", -1)
    return merged


def fit_booster(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    booster_params: dict,
    num_boost_round: int,
    early_stopping_rounds: int,
    feature_names: list[str],
    categorical: list[str] | None = None,
) -> lgb.Booster:
    """Train one LightGBM booster, early-stopped on the validation window.

    Args:
        X_train: Training rows of shape (n_train, n_features).
        y_train: Training targets of shape (n_train,).
        X_valid: Validation rows of shape (n_valid, n_features).
        y_valid: Validation targets of shape (n_valid,).
        booster_params: LightGBM parameters including ``objective``.
        num_boost_round: Most trees to grow.
        early_stopping_rounds: Stop after this many rounds without validation improvement.
        feature_names: Column names, in order.
        categorical: Names of integer-coded category columns.
    """
    categorical = categorical or []
    train = lgb.Dataset(
        X_train,
        y_train,
        feature_name=feature_names,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    valid = lgb.Dataset(X_valid, y_valid, reference=train)
    return lgb.train(
        booster_params,
        train,
        num_boost_round=num_boost_round,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )


def linear_pipeline(model) -> Pipeline:  # noqa: ANN001 - any sklearn regressor/classifier
    """Median imputation with missing indicators, scaling, then ``model``."""
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        model,
    )


def fit_logistic_baseline(X_train: np.ndarray, y_train: np.ndarray) -> Pipeline:
    """Logistic regression on the same features (imputed and scaled)."""
    return linear_pipeline(LogisticRegression(max_iter=500, C=1.0)).fit(X_train, y_train)


@dataclass
class QuantileBaseline:
    """A point prediction plus training-residual quantiles: a baseline for p10/p50/p90.

    Attributes:
        offsets_: Residual quantile (days) added to the point prediction per quantile name.
    """

    offsets_: dict[str, float]

    def predict(self, point: np.ndarray) -> dict[str, np.ndarray]:
        return {q: np.maximum(point + self.offsets_[q], 0.0) for q in QUANTILE_LEVELS}


def fit_quantile_offsets(point: np.ndarray, y: np.ndarray) -> QuantileBaseline:
    """Residual quantiles of ``y - point`` on the training window."""
    residual = y - point
    return QuantileBaseline(
        {q: float(np.quantile(residual, a)) for q, a in QUANTILE_LEVELS.items()}
    )


def fit_linear_days_baseline(
    X_train: np.ndarray, y_train: np.ndarray
) -> tuple[Pipeline, QuantileBaseline]:
    """Linear regression of days to pay, with residual quantiles for p10/p50/p90."""
    model = linear_pipeline(LinearRegression()).fit(X_train, y_train)
    return model, fit_quantile_offsets(model.predict(X_train), y_train)


def history_scores(history: np.ndarray, fallback: float) -> np.ndarray:
    """The history feature as a score, ``fallback`` where the customer has no history."""
    history = np.asarray(history, dtype=float)
    return np.where(np.isnan(history), fallback, history)
