"""Collections activity on overdue invoices: reminders, promises to pay, escalations.

Collectors follow a fixed playbook here (no decision policy yet): a first reminder 1-7 days
past due, a promise to pay at that call with some chance, a second reminder and an
escalation if the invoice stays unpaid. A promise is broken when the promised date passes
unpaid; the broken_promise activity is dated the day after. These activities follow from the
outcome, so they reveal payment behaviour to later invoices' features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.config import CollectionsParams


@dataclass(frozen=True)
class CollectionActivities:
    """Collections activities as parallel arrays.

    Attributes:
        invoice: Invoice row of each activity.
        day: Day number of each activity.
        kind: Activity kind (``contact``, ``promise_to_pay``, ``broken_promise``,
            ``escalation``).
        promised_day: Promised day of a promise to pay, else ``-1``.
    """

    invoice: np.ndarray
    day: np.ndarray
    kind: np.ndarray
    promised_day: np.ndarray


def draw_collections(
    due_day: np.ndarray,
    settled_day: np.ndarray,
    params: CollectionsParams,
    rng: np.random.Generator,
) -> CollectionActivities:
    """Activities on each invoice still unpaid past due (``settled_day`` may be ``NEVER``)."""
    n = len(due_day)
    low, high = params.first_contact_days
    first = due_day + rng.integers(low, high + 1, n)
    contacted = settled_day > first
    promises = contacted & (rng.random(n) < params.promise_share)
    low, high = params.promise_days
    promised = first + rng.integers(low, high + 1, n)
    broken = promises & (settled_day > promised)
    second = due_day + params.second_contact_days
    escalation = due_day + params.escalation_days
    parts = [
        (contacted, first, "contact", -1),
        (promises, first, "promise_to_pay", promised),
        (broken, promised + 1, "broken_promise", -1),
        ((settled_day > second) & (second > first), second, "contact", -1),
        (settled_day > escalation, escalation, "escalation", -1),
    ]
    rows = [np.flatnonzero(mask) for mask, *_ in parts]
    return CollectionActivities(
        invoice=np.concatenate(rows),
        day=np.concatenate([day[r] for r, (_, day, _, _) in zip(rows, parts, strict=True)]),
        kind=np.concatenate(
            [
                np.full(len(r), kind, dtype=object)
                for r, (_, _, kind, _) in zip(rows, parts, strict=True)
            ]
        ),
        promised_day=np.concatenate(
            [np.broadcast_to(p, n)[r] for r, (*_, p) in zip(rows, parts, strict=True)]
        ),
    )
