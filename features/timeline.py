"""Vectorised point-in-time look-ups over event streams (the offline path's toolkit).

A ``Timeline`` holds events of one kind sorted by (group, day, tie-break), where the group is a
customer or an invoice code. For queries ``(group, t)`` it answers, without a Python loop,
how many of the group's events are dated strictly before ``t`` and the value of any
per-group running aggregate at that point. Running sums are over integers (cents, days,
counts), so they are exact whatever the order of addition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def day_keys(group: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 per (group, day): group in the high bits, day in the low ones."""
    day = np.clip(day, -DAY_OFFSET, DAY_OFFSET - 1) + DAY_OFFSET
    return (np.asarray(group, dtype=np.int64) << DAY_BITS) + day


@dataclass
class Timeline:
    """Events sorted by (group, day, tie-break), with their columns in that order."""

    group: np.ndarray
    day: np.ndarray
    columns: dict[str, np.ndarray]
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        group: np.ndarray,
        day: np.ndarray,
        columns: dict[str, np.ndarray] | None = None,
        tiebreak: np.ndarray | None = None,
    ) -> Timeline:
        """Sort events by (group, day, ``tiebreak``) and index them."""
        keys = day_keys(group, day)
        if tiebreak is None:
            order = np.argsort(keys, kind="stable")
        else:
            order = np.lexsort((tiebreak, keys))
        sorted_columns = {name: np.asarray(v)[order] for name, v in (columns or {}).items()}
        timeline = cls(np.asarray(group)[order], np.asarray(day)[order], sorted_columns)
        timeline._cache["keys"] = keys[order]
        return timeline

    def __len__(self) -> int:
        return len(self.day)

    @property
    def keys(self) -> np.ndarray:
        if "keys" not in self._cache:
            self._cache["keys"] = day_keys(self.group, self.day)
        return self._cache["keys"]

    def starts(self) -> np.ndarray:
        """Per event, the position of its group's first event."""
        if "starts" not in self._cache:
            first = np.r_[True, self.group[1:] != self.group[:-1]][: len(self)]
            positions = np.where(first, np.arange(len(self)), 0)
            self._cache["starts"] = np.maximum.accumulate(positions).astype(np.int64)
        return self._cache["starts"]

    def locate(self, group: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For queries (group, t): the global end position and the count of events < t."""
        pos = np.searchsorted(self.keys, day_keys(group, t), side="left")
        return pos, pos - self._group_starts(group)

    def _group_starts(self, group: np.ndarray) -> np.ndarray:
        """Position of each queried group's first event (memoised for the same query array)."""
        cached = self._cache.get("group_starts")
        if cached is not None and cached[0] is group:
            return cached[1]
        starts = np.searchsorted(self.keys, np.asarray(group, dtype=np.int64) << DAY_BITS, "left")
        self._cache["group_starts"] = (group, starts)
        return starts

    def count_before(self, group: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.locate(group, t)[1]

    def count_window(self, group: np.ndarray, t: np.ndarray, days: int) -> np.ndarray:
        """Events dated in [t - days, t)."""
        return self.count_before(group, t) - self.count_before(group, t - days)

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        """Per-group running sum of integer values, in timeline order."""
        values = np.asarray(values, dtype=np.int64)
        total = np.cumsum(values)
        starts = self.starts()
        return total - (total[starts] - values[starts])

    def running_max(self, values: np.ndarray) -> np.ndarray:
        """Per-group running maximum of day-sized integers, in timeline order."""
        keys = np.maximum.accumulate(day_keys(self.group, values))
        return (keys & ((1 << DAY_BITS) - 1)) - DAY_OFFSET

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
        grouped = series.groupby(self.group, sort=True)
        return grouped.ewm(alpha=alpha, adjust=False).mean().to_numpy()

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
