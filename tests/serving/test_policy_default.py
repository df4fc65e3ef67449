"""The shipped default policy, bullet by bullet, on both sides of every threshold."""

from __future__ import annotations

import pytest

from serving.policy.decision import Decision
from serving.policy.engine import load_policy

POLICY = load_policy()

QUIET = {
    "p_late": 0.1,
    "p_dispute": 0.05,
    "amount": 10_000.0,
    "currency": "EUR",
    "days_past_due": -10,
    "cust_segment": "mid_market",
    "cust_strategic": False,
    "cust_legal_hold": False,
    "cust_insolvent": False,
    "inv_dispute_open": False,
    "inv_dispute_reason": None,
    "cust_dispute_top_reason": None,
    "rel_open_tickets": 0,
    "rel_order_delivery_problem": False,
    "rel_order_quality_problem": False,
    "rel_pricing_discrepancy_90d": False,
    "rel_broken_promises_90d": 0,
    "collector_id": "col-7",
    "revenue_owner_id": "ro-3",
}


def decide(**facts: object) -> Decision:
    return POLICY.decide({**QUIET, **facts})


def routed(decision: Decision) -> tuple[str, str, str]:
    return decision.owner, decision.action, decision.trace[0].row


def test_parameters_are_the_documented_thresholds() -> None:
    values = {name: p.value for name, p in POLICY.spec.parameters.items()}
    assert values["high_late_risk"] == 0.6
    assert values["high_dispute_risk"] == 0.4
    assert values["low_late_risk"] == 0.3
    assert values["low_dispute_risk"] == 0.2
    assert values["large_amount"] == 50000
    assert values["operational_reasons"] == ["delivery", "quality", "pricing"]
    assert POLICY.spec.tier_thresholds == (25000.0, 5000.0, 1000.0)


@pytest.mark.parametrize(
    "facts",
    [
        {"cust_legal_hold": True},
        {"cust_insolvent": True},
        {"cust_legal_hold": True, "inv_dispute_open": True, "inv_dispute_reason": "delivery"},
        {"cust_insolvent": True, "cust_strategic": True, "p_late": 0.9, "p_dispute": 0.9},
        {"cust_legal_hold": True, "rel_open_tickets": 4, "p_dispute": 0.8},
    ],
)
def test_legal_hold_and_insolvency_stay_with_finance(facts: dict) -> None:
    decision = decide(**facts)
    assert routed(decision) == ("finance", "legal_review", "finance.legal_hold")
    assert decision.assignee == "col-7"
    assert decision.co_assignee is None
    assert decision.amount_at_risk == QUIET["amount"]
    assert decision.reasons[0].code == "rule.finance.legal_hold"
    assert "legal hold" in decision.reasons[0].text


@pytest.mark.parametrize("reason", ["delivery", "quality", "pricing"])
def test_open_operational_dispute_goes_to_the_revenue_owner(reason: str) -> None:
    decision = decide(inv_dispute_open=True, inv_dispute_reason=reason)
    assert routed(decision) == ("revenue_owner", "resolve_root_cause", "revenue_owner.open_dispute")
    assert (decision.assignee, decision.co_assignee) == ("ro-3", None)


@pytest.mark.parametrize("reason", ["billing_error", "admin", "other", None])
def test_open_billing_or_admin_dispute_stays_with_finance(reason: str | None) -> None:
    decision = decide(inv_dispute_open=True, inv_dispute_reason=reason)
    assert routed(decision) == ("finance", "resolve_root_cause", "finance.open_dispute")
    assert decision.assignee == "col-7"


@pytest.mark.parametrize(
    "signal",
    [
        {"cust_dispute_top_reason": "pricing"},
        {"cust_dispute_top_reason": "delivery"},
        {"cust_dispute_top_reason": "quality"},
        {"rel_order_delivery_problem": True},
        {"rel_order_quality_problem": True},
        {"rel_pricing_discrepancy_90d": True},
        {"rel_open_tickets": 1},
    ],
)
def test_high_dispute_risk_with_operational_cause_goes_to_the_revenue_owner(signal: dict) -> None:
    at = decide(p_dispute=0.4, **signal)
    below = decide(p_dispute=0.3999, **signal)
    assert routed(at) == ("revenue_owner", "resolve_root_cause", "revenue_owner.dispute_risk")
    assert at.risk == 0.4
    assert at.amount_at_risk == pytest.approx(4000.0)
    assert routed(below) == ("finance", "reminder", "finance.moderate_risk")


@pytest.mark.parametrize(
    "facts",
    [{"cust_dispute_top_reason": "billing_error"}, {"cust_dispute_top_reason": "admin"}, {}],
)
def test_high_dispute_risk_with_billing_cause_stays_with_finance(facts: dict) -> None:
    decision = decide(p_dispute=0.4, rel_open_tickets=0, **facts)
    assert routed(decision) == ("finance", "resolve_root_cause", "finance.dispute_risk")


def test_a_broken_promise_is_escalated_by_finance() -> None:
    broken = decide(rel_broken_promises_90d=1, p_dispute=0.9, rel_open_tickets=3)
    kept = decide(rel_broken_promises_90d=0)
    assert routed(broken) == ("finance", "escalate", "finance.broken_promise")
    assert broken.risk == QUIET["p_late"]
    assert routed(kept) == ("none", "monitor", "none.low_risk")


def test_high_late_risk_without_relationship_signal_goes_to_collections() -> None:
    at = decide(p_late=0.6)
    below = decide(p_late=0.5999)
    assert routed(at) == ("finance", "collections_call", "finance.high_late_risk")
    assert (at.assignee, at.risk) == ("col-7", 0.6)
    assert routed(below) == ("finance", "reminder", "finance.moderate_risk")


@pytest.mark.parametrize(
    "signal",
    [
        {"rel_order_delivery_problem": True},
        {"rel_order_quality_problem": True},
        {"rel_pricing_discrepancy_90d": True},
        {"rel_open_tickets": 2},
    ],
)
def test_high_late_risk_with_relationship_issue_goes_to_the_revenue_owner(signal: dict) -> None:
    decision = decide(p_late=0.7, **signal)
    assert routed(decision) == (
        "revenue_owner",
        "resolve_root_cause",
        "revenue_owner.late_with_relationship_issue",
    )
    assert decision.assignee == "ro-3"


@pytest.mark.parametrize(
    ("amount", "p_late", "tier"),
    [
        (40_000.0, 0.625, "P1"),
        (39_999.99, 0.625, "P2"),
        (8_000.0, 0.625, "P2"),
        (7_999.99, 0.625, "P3"),
        (1_600.0, 0.625, "P3"),
        (1_599.99, 0.625, "P4"),
    ],
)
def test_collections_tier_follows_the_expected_amount_at_risk(
    amount: float, p_late: float, tier: str
) -> None:
    decision = decide(amount=amount, p_late=p_late)
    assert decision.owner == "finance"
    assert decision.amount_at_risk == amount * p_late
    assert decision.tier == tier


def test_both_risks_high_on_a_large_amount_is_joint() -> None:
    joint = decide(p_late=0.6, p_dispute=0.4, amount=50_000.0)
    smaller = decide(p_late=0.6, p_dispute=0.4, amount=49_999.99)
    lower_dispute = decide(p_late=0.6, p_dispute=0.3999, amount=50_000.0)
    assert routed(joint) == ("joint", "joint_review", "joint.both_risks_large")
    assert (joint.assignee, joint.co_assignee) == ("col-7", "ro-3")
    assert joint.amount_at_risk == 30_000.0
    assert joint.tier == "P1"
    assert routed(smaller) == ("finance", "resolve_root_cause", "finance.dispute_risk")
    assert routed(lower_dispute) == ("finance", "collections_call", "finance.high_late_risk")


def test_a_strategic_account_with_high_late_risk_is_joint() -> None:
    joint = decide(cust_strategic=True, p_late=0.6)
    below = decide(cust_strategic=True, p_late=0.5999)
    assert routed(joint) == ("joint", "joint_review", "joint.strategic_late")
    assert (joint.assignee, joint.co_assignee) == ("col-7", "ro-3")
    assert routed(below) == ("finance", "reminder", "finance.moderate_risk")


@pytest.mark.parametrize(
    ("p_late", "p_dispute", "owner", "action"),
    [
        (0.2999, 0.1999, "none", "monitor"),
        (0.3, 0.1999, "finance", "reminder"),
        (0.2999, 0.2, "finance", "reminder"),
        (0.0, 0.0, "none", "monitor"),
    ],
)
def test_low_risk_is_left_to_the_automatic_cadence(
    p_late: float, p_dispute: float, owner: str, action: str
) -> None:
    decision = decide(p_late=p_late, p_dispute=p_dispute)
    assert (decision.owner, decision.action) == (owner, action)
    if owner == "none":
        assert (decision.assignee, decision.co_assignee) == (None, None)


def test_unknown_relationship_facts_do_not_trigger_signals() -> None:
    decision = decide(
        p_late=0.7,
        rel_open_tickets=None,
        rel_order_delivery_problem=None,
        rel_order_quality_problem=None,
        rel_pricing_discrepancy_90d=None,
        rel_broken_promises_90d=None,
    )
    assert routed(decision) == ("finance", "collections_call", "finance.high_late_risk")


def test_a_strategic_account_a_month_past_due_is_p1() -> None:
    at = decide(cust_strategic=True, days_past_due=30, amount=100.0)
    before = decide(cust_strategic=True, days_past_due=29, amount=100.0)
    assert (at.tier, at.trace[1].row) == ("P1", "priority.strategic_overdue")
    assert at.reasons[1].code == "rule.priority.strategic_overdue"
    assert (before.tier, before.trace[1].row) == ("P4", "priority.by_amount_at_risk")
    assert len(before.reasons) == 1


def test_missing_assignee_stays_null() -> None:
    decision = decide(p_late=0.9, collector_id=None)
    assert (decision.owner, decision.assignee) == ("finance", None)


VARIANTS = [
    {},
    {"cust_legal_hold": True},
    {"cust_insolvent": None},
    {"inv_dispute_open": True, "inv_dispute_reason": "pricing"},
    {"inv_dispute_open": True, "inv_dispute_reason": "billing_error"},
    {"rel_broken_promises_90d": 1},
    {"cust_strategic": True, "days_past_due": 30},
    {"cust_dispute_top_reason": "quality"},
    {"rel_open_tickets": 1},
    {"rel_order_delivery_problem": True, "collector_id": None},
    {"rel_pricing_discrepancy_90d": None, "rel_open_tickets": None},
]


def test_batch_agrees_with_single_decisions_around_every_threshold() -> None:
    cases = [
        {**QUIET, **variant, "p_late": p_late, "p_dispute": p_dispute, "amount": amount}
        for variant in VARIANTS
        for p_late in (0.0, 0.2999, 0.3, 0.5999, 0.6, 0.625, 0.9)
        for p_dispute in (0.0, 0.1999, 0.2, 0.3999, 0.4)
        for amount in (1_599.99, 40_000.0, 50_000.0)
    ]
    batch = POLICY.decide_batch({name: [case[name] for case in cases] for name in QUIET})
    singles = [POLICY.decide(case) for case in cases]
    assert [batch.decision(i) for i in range(len(cases))] == singles
    assert {d.owner for d in singles} == {"finance", "revenue_owner", "joint", "none"}
    assert {d.tier for d in singles} == {"P1", "P2", "P3", "P4"}
