"""Offline family builders: which builder computes which registry features.

Each builder takes the offline ``Context`` and the set of wanted names and returns arrays (one
value per query row) for at least those names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from features.families.disputes import build_disputes, build_invoice_disputes
from features.families.history import build_exposure, build_history
from features.families.invoice import build_customer, build_invoice, build_lifecycle
from features.families.relationship import build_customer_flags, build_relationship
from features.registry import REGISTRY

Builder = Callable[..., dict[str, np.ndarray]]


def _names(prefix: str, *extra: str, exclude: tuple[str, ...] = ()) -> frozenset[str]:
    chosen = {s.name for s in REGISTRY if s.name.startswith(prefix)} | set(extra)
    return frozenset(chosen - set(exclude))


INVOICE_DISPUTES = frozenset({"inv_dispute_open", "inv_dispute_reason", "inv_disputes"})
CUSTOMER_FLAGS = frozenset({"cust_legal_hold", "cust_insolvent"})

BUILDERS: tuple[tuple[frozenset[str], Builder], ...] = (
    (_names("inv_", "amount", exclude=tuple(INVOICE_DISPUTES)), build_invoice),
    (INVOICE_DISPUTES, build_invoice_disputes),
    (_names("cust_", exclude=(*CUSTOMER_FLAGS, "cust_dispute_top_reason")), build_customer),
    (CUSTOMER_FLAGS, build_customer_flags),
    (_names("hist_"), build_history),
    (_names("exp_"), build_exposure),
    (_names("disp_", "cust_dispute_top_reason"), build_disputes),
    (_names("rel_"), build_relationship),
    (_names("life_", "days_past_due"), build_lifecycle),
)


def features_without_builder() -> set[str]:
    """Registry features no offline builder computes (empty when the registry is covered)."""
    covered = set().union(*(names for names, _ in BUILDERS))
    return {s.name for s in REGISTRY} - covered
