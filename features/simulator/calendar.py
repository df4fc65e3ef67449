"""Simulation time: whole days counted from the first day of the period.

Every mechanism works on integer day numbers (day 0 is the config's ``start``); only the
final tables turn them into dates. ``NEVER`` marks an event that does not happen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NEVER = np.int64(10**9)
# Months of calendar kept beyond the period: invoices issued in the last month fall due
# up to 90 days later, and insolvency risk is integrated over the months an invoice is open.
HORIZON_MONTHS = 8


@dataclass(frozen=True)
class Calendar:
    """Day numbers of month starts and the calendar facts of each day.

    Attributes:
        start: The date of day 0.
        months: Months in the simulated period.
        month_start: Day number of the first day of each month, of shape
            (months + HORIZON_MONTHS + 1,).
        day_of_month: Day of the month (1-31) of each day number.
        month_of_year: Month of the year (1-12) of each day number.
    """

    start: pd.Timestamp
    months: int
    month_start: np.ndarray
    day_of_month: np.ndarray
    month_of_year: np.ndarray

    @classmethod
    def build(cls, start: pd.Timestamp, months: int) -> Calendar:
        firsts = pd.date_range(start, periods=months + HORIZON_MONTHS + 1, freq="MS")
        month_start = np.asarray((firsts - start).days, dtype=np.int64)
        days = pd.date_range(start, periods=int(month_start[-1]), freq="D")
        return cls(
            start=start,
            months=months,
            month_start=month_start,
            day_of_month=days.day.to_numpy(np.int64),
            month_of_year=days.month.to_numpy(np.int64),
        )

    @property
    def as_of_day(self) -> int:
        """Day number of the book's as_of (the first day after the period)."""
        return int(self.month_start[self.months])

    def month_length(self, month: np.ndarray) -> np.ndarray:
        return self.month_start[month + 1] - self.month_start[month]

    def to_dates(self, days: np.ndarray) -> np.ndarray:
        """Dates (datetime64[ns]) of day numbers; ``NEVER`` becomes NaT."""
        days = np.asarray(days, dtype=np.int64)
        out = np.datetime64(self.start, "D") + np.where(days >= NEVER, 0, days)
        out = out.astype("datetime64[ns]")
        out[days >= NEVER] = np.datetime64("NaT")
        return out
