"""Random engine inputs for property tests and benchmarks (not a model of real books)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.policy.catalogue import Catalogue, Field


def random_inputs(
    n: int, catalogue: Catalogue, seed: int = 0, null_share: float = 0.1
) -> pd.DataFrame:
    """A frame of ``n`` random values for every catalogue field, with nulls where allowed.

    Numbers and booleans are float64 with NaN for null (booleans as 0/1, as feature frames hold
    them); categories and texts are object columns with None for null. Numbers are drawn on a
    few scales so that policy thresholds fall inside their range: bounded fields within their
    bounds, ``amount`` log-uniform from 10 to 1e6, counts and days as small integers, anything
    else uniform in [0, 1].
    """
    rng = np.random.default_rng(seed)
    columns = {name: _column(field, n, rng) for name, field in catalogue.items()}
    frame = pd.DataFrame(columns)
    for name, field in catalogue.items():
        if field.nullable and null_share > 0:
            nulls = rng.random(n) < null_share
            frame[name] = _with_nulls(frame[name], nulls)
    return frame


def _with_nulls(column: pd.Series, nulls: np.ndarray) -> pd.Series:
    """Float columns get NaN; categories and texts become objects with None."""
    if column.dtype.kind in "fi":
        return column.where(~nulls)
    return column.astype(object).where(~nulls, None)


def _column(field: Field, n: int, rng: np.random.Generator) -> np.ndarray:
    if field.kind == "bool":
        return (rng.random(n) < 0.3).astype(np.float64)
    if field.kind == "category":
        return rng.choice(np.array(field.choices, dtype=object), n)
    if field.kind == "text":
        return np.array([f"{field.name[:3]}{i}" for i in rng.integers(0, 20, n)], dtype=object)
    if field.bounds:
        return rng.uniform(field.bounds[0], field.bounds[1], n).round(3)
    if field.name == "amount":
        return np.round(10 ** rng.uniform(1, 6, n), 2)
    if field.name.startswith("days"):
        return rng.integers(-30, 120, n).astype(float)
    if field.name.startswith("rel_"):
        return rng.integers(0, 4, n).astype(float)
    return rng.random(n).round(3)
