"""What the engine returns: one decision (a small dataclass) or a batch (column arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

ReasonSource = Literal["model", "rule"]
MAX_REASONS = 5


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a decision, in plain language.

    Attributes:
        code: Stable identifier, ``rule.<row id>`` or ``<target>.<feature>``.
        text: The sentence shown to people, with the invoice's real values.
        source: ``rule`` for a matched policy row, ``model`` for a feature's contribution.
        weight: For a model reason, the feature's contribution to that risk's log-odds (always
            positive); a rule reason weighs 1.0 since it decided the route.
    """

    code: str
    text: str
    source: ReasonSource
    weight: float


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """A matched row: its table, its id and its line in the policy file."""

    table: str
    row: str
    line: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's decision for one invoice.

    Attributes:
        owner: ``finance``, ``revenue_owner``, ``joint`` or ``none``.
        action: What the owner should do, e.g. ``collections_call``.
        tier: ``P1`` (most urgent) to ``P4``.
        risk: The probability the routing row uses (see the row's ``risk``).
        amount_at_risk: ``amount * risk``, in the invoice's currency.
        assignee: Who works the case: the collector for ``finance``, the revenue owner for
            ``revenue_owner``, the collector for ``joint`` (who leads the cash side).
        co_assignee: For ``joint`` only, the revenue owner; otherwise None.
        reasons: Up to five reasons, rule reasons first.
        trace: The matched row of every table, in table order.
        policy_version: Content hash of the policy file.
    """

    owner: str
    action: str
    tier: str
    risk: float
    amount_at_risk: float
    assignee: str | None
    co_assignee: str | None
    reasons: tuple[Reason, ...]
    trace: tuple[TraceEntry, ...]
    policy_version: str


@dataclass(frozen=True)
class DecisionBatch:
    """Decisions for many invoices as aligned column arrays of shape (n,).

    ``owner``, ``action`` and ``tier`` are ``pandas.Categorical``; ``rows`` maps each table's
    name to the index of the matched row in that table; ``rule_reasons`` holds, for each table,
    the rule reasons of its rows (see ``Policy.rule_reasons``).
    """

    owner: pd.Categorical[str]
    action: pd.Categorical[str]
    tier: pd.Categorical[str]
    risk: np.ndarray
    amount_at_risk: np.ndarray
    assignee: np.ndarray
    co_assignee: np.ndarray
    rows: dict[str, np.ndarray]
    row_traces: dict[str, tuple[TraceEntry, ...]]
    row_reasons: dict[str, tuple[Reason | None, ...]]
    policy_version: str

    def __len__(self) -> int:
        return len(self.risk)

    def to_frame(self) -> pd.DataFrame:
        """One line per invoice; ``row_<table>`` columns give the matched row ids."""
        frame = pd.DataFrame(
            {
                "owner": self.owner,
                "action": self.action,
                "tier": self.tier,
                "risk": self.risk,
                "amount_at_risk": self.amount_at_risk,
                "assignee": self.assignee,
                "co_assignee": self.co_assignee,
            }
        )
        for table, index in self.rows.items():
            ids = [entry.row for entry in self.row_traces[table]]
            frame[f"row_{table}"] = pd.Categorical.from_codes(index, categories=pd.Index(ids))
        frame["policy_version"] = self.policy_version
        return frame

    def decision(self, i: int, model_reasons: tuple[Reason, ...] = ()) -> Decision:
        """The ``i``-th decision as a ``Decision``, with its rule reasons."""
        matched = {table: int(index[i]) for table, index in self.rows.items()}
        trace = tuple(self.row_traces[t][r] for t, r in matched.items())
        rules = tuple(
            reason for t, r in matched.items() if (reason := self.row_reasons[t][r]) is not None
        )
        return Decision(
            owner=str(self.owner[i]),
            action=str(self.action[i]),
            tier=str(self.tier[i]),
            risk=float(self.risk[i]),
            amount_at_risk=float(self.amount_at_risk[i]),
            assignee=self.assignee[i],
            co_assignee=self.co_assignee[i],
            reasons=merge_reasons(rules, model_reasons),
            trace=trace,
            policy_version=self.policy_version,
        )


def merge_reasons(rules: tuple[Reason, ...], model: tuple[Reason, ...]) -> tuple[Reason, ...]:
    """Rule reasons first, then model reasons by weight, at most ``MAX_REASONS`` in all."""
    ranked = sorted(model, key=lambda reason: -reason.weight)
    return (*rules, *ranked)[:MAX_REASONS]
