"""Vectorised point-in-time look-ups over event streams (the offline path's toolkit).

A ``Timeline`` holds events of one kind sorted by (group, day, tie-break), where the group is a
customer or an invoice code. For queries ``(group, t)`` it answers, without a Python loop,
how many of the group's events are dated strictly before ``t`` and the value of any
per-group cumulative aggregate at that point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

DAY_BITS = 18
DAY_OFFSET = 1 << (DAY_BITS - 1)
# A date that never comes (an invoice not paid yet): later than any query.
NEVER = DAY_OFFSET - 1
EPOCH = np.datetime64("1970-01-01", "ns")


def to_days(dates: pd.Series | np.ndarray, missing: int = NEVER) -> np.ndarray:
    """Whole days since 1970-01-01 as int64; missing dates become ``missing``."""
    values = np.asarray(dates, dtype="datetime64[ns]")
    days = (values - EPOCH).astype("timedelta64[D]").astype(np.int64)
    return np.where(np.isnat(values), missing, days)


def from_days(days: np.ndarray) -> np.ndarray:
    """Inverse of ``to_days`` for present dates."""
    return (np.asarray(days, dtype=np.int64).astype("timedelta64[D]") + EPOCH).astype(
        "datetime64[ns]"
    )


def _keys(group: np.ndarray, day: np.ndarray) -> np.ndarray:
    day = np.clip(day, -DAY_OFFSET, DAY_OFFSET - 1) + DAY_OFFSET
    return (group.astype(np.int64) << DAY_BITS) + day


@dataclass
class Timeline:
    """Events sorted by (group, day); ``frame`` keeps their columns in that order."""

    group: np.ndarray
    day: np.ndarray
    frame: pd.DataFrame

    @classmethod
    def build(
        cls, group: np.ndarray, day: np.ndarray, frame: pd.DataFrame, tiebreak: str | None = None
    ) -> Timeline:
        """Sort events by (group, day, ``tiebreak`` column) and index them."""
        frame = frame.reset_index(drop=True).assign(_group=group, _day=day)
        by = ["_group", "_day"] + ([tiebreak] if tiebreak else [])
        frame = frame.sort_values(by, kind="stable").reset_index(drop=True)
        return cls(frame.pop("_group").to_numpy(), frame.pop("_day").to_numpy(), frame)

    def __len__(self) -> int:
        return len(self.day)

    @property
    def keys(self) -> np.ndarray:
        if not hasattr(self, "_keys_cache"):
            self._keys_cache = _keys(self.group, self.day)
        return self._keys_cache

    def starts(self) -> np.ndarray:
        """Per event, the position of its group's first event."""
        first = np.r_[True, self.group[1:] != self.group[:-1]] if len(self) else np.array([])
        return np.maximum.accumulate(np.where(first, np.arange(len(self)), 0)).astype(np.int64)

    def locate(self, group: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For queries (group, t): the global end position and the count of events < t."""
        pos = np.searchsorted(self.keys, _keys(group, t), side="left")
        start = np.searchsorted(self.keys, _keys(group, np.full_like(t, -DAY_OFFSET)), "left")
        return pos, pos - start

    def count_before(self, group: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.locate(group, t)[1]

    def count_window(self, group: np.ndarray, t: np.ndarray, days: int) -> np.ndarray:
        """Events dated in [t - days, t)."""
        return self.count_before(group, t) - self.count_before(group, t - days)

    def cumulative(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Per-group running sum in timeline order (sequential, so exact for integers)."""
        return pd.Series(np.asarray(values)).groupby(self.group, sort=False).cumsum().to_numpy()

    def running(self, values: np.ndarray, how: str) -> np.ndarray:
        """Per-group running ``max``/``min`` in timeline order."""
        grouped = pd.Series(values).groupby(self.group, sort=False)
        return (grouped.cummax() if how == "max" else grouped.cummin()).to_numpy()

    def expanding_quantile(self, values: np.ndarray, q: float) -> np.ndarray:
        """Per-group expanding quantile (linear interpolation) at each event."""
        indexer = _GroupExpanding(starts=self.starts())
        series = pd.Series(values, dtype="float64")
        return series.rolling(indexer, min_periods=1).quantile(q).to_numpy()

    def ewm_mean(self, values: np.ndarray, alpha: float) -> np.ndarray:
        """Per-group exponentially weighted mean (``adjust=False``) at each event."""
        if len(self) == 0:
            return np.zeros(0)
        series = pd.Series(values, dtype="float64")
        return (
            series.groupby(self.group, sort=True).ewm(alpha=alpha, adjust=False).mean().to_numpy()
        )

    def at(
        self, series: np.ndarray, pos: np.ndarray, count: np.ndarray, empty: float = np.nan
    ) -> np.ndarray:
        """Value of a per-event series at the last event before t (``empty`` when none)."""
        series = np.asarray(series, dtype="float64")
        if len(series) == 0:
            return np.full(len(pos), empty, dtype="float64")
        return np.where(count > 0, series[np.maximum(pos - 1, 0)], empty)

    def sum_last(
        self, cumulative: np.ndarray, pos: np.ndarray, count: np.ndarray, n: int
    ) -> np.ndarray:
        """Sum of a value over the last ``n`` events before t (all of them when fewer)."""
        total = self.at(cumulative, pos, count, 0.0)
        earlier = self.at(cumulative, pos - n, count - n, 0.0)
        return total - earlier


class _GroupExpanding(BaseIndexer):
    """Window = from the group's first event to the current one."""

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.starts[:num_values], np.arange(1, num_values + 1, dtype=np.int64)
