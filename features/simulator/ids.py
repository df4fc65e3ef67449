"""Readable, zero-padded identifiers for simulated rows (C000001, INV-000001...)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_ids(prefix: str, n: int, width: int = 6) -> np.ndarray:
    """``prefix`` followed by 1..n zero-padded to ``width`` digits, as an object array."""
    digits = pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)
    return (prefix + digits).to_numpy(dtype=object)
