"""Assembling the engine's inputs from a feature frame, scores and the book's tables.

``features.offline.build_features`` gives numbers, booleans as 0/1 and categories as codes;
the engine wants category labels and the assignment ids. Nothing is dropped: every feature row
gives one input row, and a missing table or column gives explicit nulls.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

SCORE_COLUMNS = ("p_late", "p_dispute", "days_p10", "days_p50", "days_p90")
ASSIGNMENT_COLUMNS = ("collector_id", "revenue_owner_id")


def decode_categories(features: pd.DataFrame, specs: Mapping[str, object]) -> pd.DataFrame:
    """Replace category codes (float, NaN = none) by ``pandas.Categorical`` labels.

    Args:
        features: A feature frame.
        specs: Feature name -> spec with ``dtype`` and ``choices`` (``features.registry``).
    """
    decoded = features.copy()
    for name, spec in specs.items():
        if name in decoded.columns and getattr(spec, "dtype", "") == "category":
            codes = decoded[name].to_numpy(dtype=np.float64)
            codes = np.where(np.isnan(codes), -1, codes).astype(np.int64)
            choices: list[str] = list(spec.choices)  # type: ignore[attr-defined]
            decoded[name] = pd.Categorical.from_codes(codes, categories=pd.Index(choices))
    return decoded


def decision_inputs(
    features: pd.DataFrame,
    scores: pd.DataFrame | Mapping[str, np.ndarray],
    tables: Mapping[str, pd.DataFrame],
    specs: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The engine's input frame: decoded features, scores, currency and assignment ids.

    Args:
        features: ``build_features`` output (``invoice_id``, ``customer_id``, features).
        scores: Columns among ``SCORE_COLUMNS``, aligned with ``features`` rows.
        tables: The book's tables; ``invoices`` gives ``currency``, ``customers`` the
            ``collector_id`` and ``revenue_owner_id`` (null when the table or column is absent).
        specs: Feature specs by name (default: ``features.registry``).

    Raises:
        ValueError: ``scores`` is not aligned with ``features``.
    """
    if specs is None:
        from features.registry import REGISTRY

        specs = {spec.name: spec for spec in REGISTRY}
    frame = decode_categories(features, specs).reset_index(drop=True)
    for name, values in dict(scores).items():
        if len(values) != len(frame):
            raise ValueError(
                f"score {name!r} has {len(values)} rows for {len(frame)} feature rows; "
                "give one score per feature row, in the same order"
            )
        frame[name] = np.asarray(values, dtype=np.float64)
    frame["currency"] = _lookup(
        tables.get("invoices"), "invoice_id", frame["invoice_id"], "currency"
    )
    for column in ASSIGNMENT_COLUMNS:
        frame[column] = _lookup(
            tables.get("customers"), "customer_id", frame["customer_id"], column
        )
    return frame


def _lookup(table: pd.DataFrame | None, key: str, ids: pd.Series, column: str) -> np.ndarray:
    if table is None or column not in table.columns:
        return np.full(len(ids), None, dtype=object)
    values = table.set_index(key)[column].reindex(ids.to_numpy()).to_numpy(dtype=object)
    values[pd.isna(values)] = None
    return values
