"""The offline feature path: a whole book at once, vectorised.

``build_features(book, as_of)`` answers, for every (invoice, as-of) row, the features of the
registry exactly as they were known at that time: an event dated ``d`` counts at ``t`` iff
``d < t``. Each family is computed with per-customer timelines (``features.timeline``):
events sorted by date, located by ``searchsorted``, aggregated by cumulative sums. Money is
summed in integer cents, so sums do not depend on the order events were added in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.families import BUILDERS
from features.registry import FeatureSet
from features.registry import feature_set as make_feature_set
from features.timeline import from_days, to_days


@dataclass
class Queries:
    """The (invoice, as-of) rows to describe, joined to their invoice.

    Attributes:
        invoice: Position of each row's invoice in ``book.invoices``.
        customer: Customer code of each row (see ``Context.customer_codes``).
        t: The as-of day of each row (days since 1970-01-01).
    """

    invoice: np.ndarray
    customer: np.ndarray
    t: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Context:
    """A book prepared for the family builders, plus the queries and a cache of timelines."""

    book: object
    customer_index: pd.Index
    invoice_customer: np.ndarray
    queries: Queries
    cache: dict = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.book.tables.get(name)  # type: ignore[attr-defined]

    @property
    def invoices(self) -> pd.DataFrame:
        return self.book.tables["invoices"]  # type: ignore[attr-defined]

    def customer_codes(self, customer_ids: pd.Series) -> np.ndarray:
        return self.customer_index.get_indexer(customer_ids)

    @property
    def invoice_index(self) -> pd.Index:
        """The book's invoice ids, for look-ups by id."""
        return self.memo("invoice_index", lambda: pd.Index(self.invoices["invoice_id"]))

    def invoice_positions(self, invoice_ids: pd.Series) -> np.ndarray:
        return self.invoice_index.get_indexer(invoice_ids)

    def memo(self, key: str, make: Callable[[], object]) -> object:
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


def default_as_of(book: object) -> pd.DataFrame:
    """Each invoice once, at its issue date."""
    invoices = book.tables["invoices"]  # type: ignore[attr-defined]
    return pd.DataFrame({"invoice_id": invoices["invoice_id"], "as_of": invoices["issue_date"]})


def rescore_dates(book: object, every_days: int = 30) -> pd.DataFrame:
    """Re-score points for open invoices: issue_date + k * every_days, k = 1, 2, ...

    A point is kept while the invoice is still unpaid at it (no paid date before it) and it
    falls before the book's extraction date ``book.as_of``.

    Returns:
        A frame with columns ``invoice_id, as_of``, ordered by invoice then date.
    """
    if every_days < 1:
        raise ValueError(f"every_days must be at least 1, got {every_days}")
    invoices = book.tables["invoices"]  # type: ignore[attr-defined]
    issue = to_days(invoices["issue_date"])
    paid = to_days(invoices["paid_date"])
    horizon = to_days(np.array([book.as_of], dtype="datetime64[ns]"))[0]  # type: ignore[attr-defined]
    before_horizon = (horizon - issue - 1) // every_days
    while_unpaid = (paid - issue) // every_days
    points = np.clip(np.minimum(before_horizon, while_unpaid), 0, None)
    rows = np.repeat(np.arange(len(invoices)), points)
    k = np.arange(len(rows)) - np.repeat(np.cumsum(points) - points, points) + 1
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].to_numpy()[rows],
            "as_of": from_days(issue[rows] + k * every_days),
        }
    )


def _customer_index(book: object) -> pd.Index:
    ids = [book.tables["invoices"]["customer_id"]]  # type: ignore[attr-defined]
    for name in ("customers", "activities"):
        frame = book.tables.get(name)  # type: ignore[attr-defined]
        if frame is not None:
            ids.append(frame["customer_id"])
    return pd.Index(pd.unique(pd.concat(ids, ignore_index=True)))


def _queries(book: object, as_of: pd.DataFrame, customer: np.ndarray) -> Queries:
    invoices = book.tables["invoices"]  # type: ignore[attr-defined]
    missing = [c for c in ("invoice_id", "as_of") if c not in as_of.columns]
    if missing:
        raise ValueError(f"as_of frame lacks column {missing[0]!r}: give invoice_id and as_of")
    position = pd.Index(invoices["invoice_id"]).get_indexer(as_of["invoice_id"])
    if (position < 0).any():
        row = int(np.flatnonzero(position < 0)[0])
        raise ValueError(
            f"as_of row {row}: invoice_id {as_of['invoice_id'].iloc[row]!r} is not in the "
            "book's invoices; score only invoices the book holds"
        )
    t = to_days(pd.to_datetime(as_of["as_of"]).dt.normalize())
    issue = to_days(invoices["issue_date"])[position]
    early = np.flatnonzero(t < issue)
    if len(early):
        row = int(early[0])
        raise ValueError(
            f"as_of row {row}: invoice {as_of['invoice_id'].iloc[row]!r} is scored at "
            f"{str(from_days(t[row : row + 1])[0])[:10]}, before its issue date; "
            "use a date on or after it"
        )
    return Queries(invoice=position, customer=customer[position], t=t)


def build_features(
    book: object, as_of: pd.DataFrame | None = None, feature_set: FeatureSet | None = None
) -> pd.DataFrame:
    """Point-in-time features for (invoice, as-of) rows of a book.

    Args:
        book: A validated ``features.book.Book``.
        as_of: Columns ``invoice_id, as_of``; several rows per invoice are allowed (re-scoring
            open invoices later, see ``rescore_dates``). Default: each invoice at its issue
            date.
        feature_set: The features to compute (default: all the book supports).

    Returns:
        One row per ``as_of`` row, in its order: ``invoice_id, customer_id, as_of``, then every
        included feature in registry order as float64 (bools 0/1, categories as codes).

    Raises:
        ValueError: An ``as_of`` row names an unknown invoice or a date before its issue date.
    """
    fset = feature_set or make_feature_set(book)
    as_of = default_as_of(book) if as_of is None else as_of.reset_index(drop=True)
    customer_index = _customer_index(book)
    invoice_customer = customer_index.get_indexer(book.tables["invoices"]["customer_id"])  # type: ignore[attr-defined]
    queries = _queries(book, as_of, invoice_customer)
    # Queries sorted by (customer, t) make every searchsorted below walk memory in order.
    order = np.lexsort((queries.t, queries.customer))
    sorted_queries = Queries(queries.invoice[order], queries.customer[order], queries.t[order])
    context = Context(book, customer_index, invoice_customer, sorted_queries)
    values = _compute(context, set(fset.names))
    invoices = book.tables["invoices"]  # type: ignore[attr-defined]
    frame = pd.DataFrame(
        {
            "invoice_id": as_of["invoice_id"].to_numpy(),
            "customer_id": invoices["customer_id"].to_numpy()[queries.invoice],
            "as_of": from_days(queries.t),
        }
    )
    features = pd.DataFrame(
        {name: _unsort(values[name], order) for name in fset.names}, index=frame.index
    )
    return pd.concat([frame, features], axis=1)


def _compute(context: Context, wanted: set[str]) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for names, builder in BUILDERS:
        if names & wanted:
            values.update(builder(context, names & wanted))
    return values


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    out = np.empty(len(order), dtype="float64")
    out[order] = np.asarray(values, dtype="float64")
    return out
