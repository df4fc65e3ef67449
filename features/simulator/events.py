"""Point-in-time look-ups over per-customer event streams, vectorised with binary search.

A mechanism often needs, for each invoice, how many of its customer's events (tickets,
disputes) were opened or closed strictly before the issue day, or the last such event. Events
are keyed by (customer, day) in one sorted int64 array so that each look-up is one
``searchsorted`` over all invoices at once.
"""

from __future__ import annotations

import numpy as np

_DAY_OFFSET = np.int64(2**20)
_STRIDE = np.int64(2**32)


def event_keys(customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 key per (customer, day); days may be negative or ``NEVER``."""
    return customer.astype(np.int64) * _STRIDE + (day.astype(np.int64) + _DAY_OFFSET)


def count_before(
    event_customer: np.ndarray, event_day: np.ndarray, customer: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """For each (customer, day) query, the number of that customer's events dated before day."""
    keys = np.sort(event_keys(event_customer, event_day))
    upto = np.searchsorted(keys, event_keys(customer, day), side="left")
    first = np.searchsorted(keys, customer.astype(np.int64) * _STRIDE, side="left")
    return upto - first


def last_day_before(
    event_customer: np.ndarray,
    event_day: np.ndarray,
    customer: np.ndarray,
    day: np.ndarray,
    missing: int,
) -> np.ndarray:
    """For each query, the day of the customer's last event before day, else ``missing``."""
    order = np.argsort(event_keys(event_customer, event_day), kind="stable")
    keys = event_keys(event_customer, event_day)[order]
    position = np.searchsorted(keys, event_keys(customer, day), side="left") - 1
    safe = np.maximum(position, 0)
    found = (position >= 0) & (event_customer[order][safe] == customer)
    return np.where(found, event_day[order][safe], missing)
