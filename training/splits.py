"""Time-ordered splits that respect label maturity, one plan per target.

Invoices are ordered by issue date into contiguous train < valid < test windows, and each
window keeps only the invoices whose label is mature at the window's cut-off:

- test labels must be mature at the book's extraction date (``as_of``);
- validation labels (early stopping, calibration) must be mature when the test window opens;
- training labels must be mature when the validation window opens.

So nothing a model learns from was unknown at the moment it would have been built. Maturity
dates depend only on facts known at issue (issue date, due date, grace, fixed windows), never
on the outcome, so keeping the mature invoices selects on model inputs and leaves the
outcome's distribution given those inputs unbiased; the immature ones are excluded and
counted, never turned into negatives.

The windows are placed from the end of the book: the test window ends at ``as_of`` and
starts ``test_days`` plus the target's median maturity lag earlier, so that about
``test_days`` of issue dates hold mature labels; the validation window likewise before it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from training.labels import ONE_DAY, TARGET_COLUMN

SPLITS = ("train", "valid", "test")


class SplitError(ValueError):
    """The book is too short (or too immature) to hold the requested windows."""


@dataclass(frozen=True)
class SplitPlan:
    """The windows of one target (start inclusive, end exclusive) and their cut-offs.

    Attributes:
        target: ``late``, ``dispute`` or ``days_to_pay``.
        lag_days: Median days from issue until a label of this target is mature.
        train_start, train_end: Training invoices' issue dates.
        valid_start, valid_end: Validation invoices' issue dates.
        test_start, test_end: Test invoices' issue dates.
        as_of: The book's extraction date.
    """

    target: str
    lag_days: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    valid_start: pd.Timestamp
    valid_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    as_of: pd.Timestamp

    def cutoff(self, split: str) -> pd.Timestamp:
        """The date by which labels of ``split`` must be mature (``mature_from <= cutoff``)."""
        return {
            "train": self.valid_start,
            "valid": self.test_start,
            "test": self.as_of,
        }[split]

    def to_dict(self) -> dict[str, str | int]:
        return {
            k: (v.date().isoformat() if isinstance(v, pd.Timestamp) else v)
            for k, v in asdict(self).items()
        }


def maturity_lag_days(labels: pd.DataFrame, target: str, quantile: float = 0.5) -> int:
    """Days from issue until the ``target`` labels of a ``quantile`` of invoices are mature."""
    lag = (labels[f"{target}_mature_from"] - labels["issue_date"]).dt.days
    return int(math.ceil(float(np.quantile(lag.to_numpy(), quantile))))


def plan_splits(
    labels: pd.DataFrame,
    target: str,
    as_of: pd.Timestamp,
    valid_days: int = 90,
    test_days: int = 90,
) -> SplitPlan:
    """Place the train, valid and test windows of ``target`` in the book, latest first.

    Args:
        labels: Output of ``training.labels.make_labels``.
        target: ``late``, ``dispute`` or ``days_to_pay``.
        as_of: The book's extraction date.
        valid_days: Length of the validation window in days, default 90.
        test_days: Length of the test window in days, default 90.

    Raises:
        SplitError: The book does not span the windows and their maturity lags; the message
            says how many days it spans and how many are needed.
    """
    if target not in TARGET_COLUMN:
        raise SplitError(f"unknown target {target!r}: use one of {', '.join(TARGET_COLUMN)}")
    as_of = pd.Timestamp(as_of)
    lag = pd.Timedelta(days=maturity_lag_days(labels, target, 0.5))
    test_end = as_of + ONE_DAY
    test_start = test_end - lag - pd.Timedelta(days=test_days)
    valid_end = test_start
    valid_start = valid_end - lag - pd.Timedelta(days=valid_days)
    train_end = valid_start
    train_start = labels["issue_date"].min()
    if train_end <= train_start + lag + pd.Timedelta(days=test_days):
        span = (as_of - train_start).days
        needed = 3 * lag.days + valid_days + 2 * test_days
        raise SplitError(
            f"{target}: the book spans {span} days of issue dates but the windows need about "
            f"{needed} (3 maturity lags of {lag.days} days, {valid_days} valid, {test_days} "
            "test and as much again for training); use a longer book or shorter windows"
        )
    return SplitPlan(
        target,
        lag.days,
        train_start,
        train_end,
        valid_start,
        valid_end,
        test_start,
        test_end,
        as_of,
    )


def assign_splits(labels: pd.DataFrame, plan: SplitPlan) -> pd.Series:
    """The split of every invoice for ``plan.target``.

    Returns:
        A string Series aligned with ``labels``: ``train``, ``valid``, ``test`` or
        ``immature`` (in a window but its label was not yet mature at the window's cut-off).
    """
    issue = labels["issue_date"]
    split = pd.Series("immature", index=labels.index, dtype=object)
    windows = {
        "train": (plan.train_start, plan.train_end),
        "valid": (plan.valid_start, plan.valid_end),
        "test": (plan.test_start, plan.test_end),
    }
    mature_from = labels[f"{plan.target}_mature_from"]
    known = labels[TARGET_COLUMN[plan.target]].notna()
    for name, (start, end) in windows.items():
        inside = (issue >= start) & (issue < end)
        mature = (mature_from <= plan.cutoff(name)) & known
        split[inside & mature] = name
        split[inside & ~mature] = "immature"
    return split


def split_counts(split: pd.Series) -> dict[str, int]:
    """How many invoices fell in each split, including the excluded ones (nothing unseen)."""
    order = [*SPLITS, "immature"]
    counts = split.value_counts()
    return {name: int(counts.get(name, 0)) for name in order}
