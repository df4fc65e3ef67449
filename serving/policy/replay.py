"""The history a backtest replays: invoices issued in a window, scored as of their issue date.

Joins the book's point-in-time features, the current models' scores and the outcomes the book
knows into one frame for ``backtest.backtest_policy`` and ``tuning.tune_policy``.
"""

from __future__ import annotations

import pandas as pd

from serving.policy.backtest import book_outcomes
from serving.policy.frames import decision_inputs


def issued_between(book: object, start: str, end: str) -> pd.DataFrame:
    """``invoice_id, as_of`` of the invoices issued from ``start`` to ``end`` (inclusive).

    Raises:
        ValueError: A date that cannot be read, an empty window, or no invoice in it.
    """
    try:
        first, last = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError as error:
        raise ValueError(f"window {start!r}..{end!r}: write dates as YYYY-MM-DD") from error
    if last < first:
        raise ValueError(f"window {start}..{end}: the end comes before the start; swap them")
    invoices = book.tables["invoices"]  # type: ignore[attr-defined]
    issue = pd.to_datetime(invoices["issue_date"])
    chosen = invoices[(issue >= first) & (issue <= last)]
    if chosen.empty:
        raise ValueError(
            f"no invoice issued between {start} and {end}; the book's invoices run from "
            f"{issue.min():%Y-%m-%d} to {issue.max():%Y-%m-%d}"
        )
    return pd.DataFrame({"invoice_id": chosen["invoice_id"], "as_of": chosen["issue_date"]})


def replay_history(book: object, bundle: object, start: str, end: str) -> pd.DataFrame:
    """Engine inputs, ``issue_date`` and outcomes of the invoices issued in the window.

    Args:
        book: A loaded ``features.book.Book``.
        bundle: A ``serving.bundle.ModelBundle`` (the current models).
        start: First issue date, YYYY-MM-DD.
        end: Last issue date, YYYY-MM-DD.

    Raises:
        ValueError: A bad window; ``BundleError`` when the book lacks a model feature.
    """
    from features.offline import build_features

    features = build_features(book, issued_between(book, start, end))
    scores = bundle.predict_frame(features)  # type: ignore[attr-defined]
    inputs = decision_inputs(features, scores, book.tables)  # type: ignore[attr-defined]
    outcomes = book_outcomes(book.tables, book.as_of).set_index("invoice_id")  # type: ignore[attr-defined]
    known = outcomes.reindex(inputs["invoice_id"]).reset_index(drop=True)
    return pd.concat([inputs, known[["issue_date", "went_late", "disputed"]]], axis=1)
