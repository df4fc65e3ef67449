"""Reasons: real values of the invoice, and never a feature that lowered the risk cited."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.policy.engine import load_policy
from serving.policy.reasons import aligned, format_template, model_reasons
from serving.policy.synthetic import random_inputs


@dataclass(frozen=True)
class Spec:
    name: str
    template: str


NAMES = ["hist_late_share", "rel_open_tickets", "amount", "disp_count_365d"]
SPECS = {
    "hist_late_share": Spec("hist_late_share", "{hist_late_share:.0%} of past invoices paid late"),
    "rel_open_tickets": Spec("rel_open_tickets", "{rel_open_tickets:.0f} support tickets open"),
    "amount": Spec("amount", "Invoice amount {amount:,.2f}"),
    "disp_count_365d": Spec("disp_count_365d", "{disp_count_365d:.0f} disputes in a year"),
}
VALUES = {"hist_late_share": 0.42, "rel_open_tickets": 3.0, "amount": 12000.0, "disp_count_365d": 2}


def test_reasons_cite_the_invoice_values_strongest_first() -> None:
    contributions = {
        "late": np.array([0.8, -0.5, 0.1, -0.3, 2.0]),
        "dispute": np.array([-0.2, 0.6, 0.0, -0.1, -1.0]),
    }
    reasons = model_reasons(VALUES, contributions, NAMES, SPECS, format_template)
    assert [(r.code, r.text, r.source) for r in reasons] == [
        ("late.hist_late_share", "42% of past invoices paid late", "model"),
        ("dispute.rel_open_tickets", "3 support tickets open", "model"),
        ("late.amount", "Invoice amount 12,000.00", "model"),
    ]
    assert [r.weight for r in reasons] == [0.8, 0.6, 0.1]


def test_a_feature_pushing_both_risks_is_cited_once_for_the_stronger() -> None:
    contributions = {"late": np.array([0.3, 0, 0, 0]), "dispute": np.array([0.5, 0, 0, 0])}
    reasons = model_reasons(VALUES, contributions, NAMES, SPECS, format_template)
    assert [(r.code, r.weight) for r in reasons] == [("dispute.hist_late_share", 0.5)]


def test_a_missing_value_is_never_cited_and_the_next_push_takes_its_place() -> None:
    values = {**VALUES, "hist_late_share": float("nan")}
    contributions = {
        "late": np.array([0.8, -0.5, 0.1, 0.05, 2.0]),
        "dispute": np.zeros(5),
    }
    reasons = model_reasons(values, contributions, NAMES, SPECS, format_template, limit=2)
    assert [r.code for r in reasons] == ["late.amount", "late.disp_count_365d"]
    assert all("nan" not in r.text for r in reasons)


def test_no_positive_contribution_gives_no_model_reason() -> None:
    contributions = {"p_late": -np.ones(5), "p_dispute": np.zeros(5)}
    assert model_reasons(VALUES, contributions, NAMES, SPECS, format_template) == ()


@settings(max_examples=150, deadline=None)
@given(
    late=st.lists(st.floats(-3, 3, allow_nan=False), min_size=4, max_size=4),
    dispute=st.lists(st.floats(-3, 3, allow_nan=False), min_size=4, max_size=4),
    limit=st.integers(1, 5),
)
def test_a_risk_reason_never_cites_a_feature_that_lowered_that_risk(
    late: list[float], dispute: list[float], limit: int
) -> None:
    contributions = {"late": np.array(late), "dispute": np.array(dispute)}
    reasons = model_reasons(VALUES, contributions, NAMES, SPECS, format_template, limit)
    by_target = {
        "late": dict(zip(NAMES, late, strict=True)),
        "dispute": dict(zip(NAMES, dispute, strict=True)),
    }
    for reason in reasons:
        target, name = reason.code.split(".")
        assert by_target[target][name] > 0
        assert reason.weight == by_target[target][name]
    assert len(reasons) <= limit
    assert [r.weight for r in reasons] == sorted((r.weight for r in reasons), reverse=True)
    pushing = {n for n in NAMES if by_target["late"][n] > 0 or by_target["dispute"][n] > 0}
    assert len(reasons) == min(limit, len(pushing))


def test_contributions_must_match_the_features() -> None:
    with pytest.raises(ValueError, match="3 contributions for 4 features"):
        aligned(np.zeros(3), NAMES)
    with pytest.raises(ValueError, match="'amount' has no spec"):
        model_reasons(VALUES, {"late": np.array([0, 0, 1.0, 0])}, NAMES, {}, format_template)


def test_registry_templates_render_category_labels_and_numbers() -> None:
    from features.registry import REGISTRY

    specs = {spec.name: spec for spec in REGISTRY}
    names = ["inv_dispute_reason", "rel_open_tickets", "days_past_due"]
    values = {"inv_dispute_reason": 1.0, "rel_open_tickets": 4.0, "days_past_due": 17.0}
    contributions = {"dispute": np.array([1.2, 0.4, -0.3, 0.0])}
    reasons = model_reasons(values, contributions, names, specs)
    assert [r.code for r in reasons] == ["dispute.inv_dispute_reason", "dispute.rel_open_tickets"]
    assert "delivery" in reasons[0].text
    assert "4" in reasons[1].text
    assert all("17" not in r.text for r in reasons)


def test_decisions_put_rule_reasons_first_and_keep_five() -> None:
    policy = load_policy()
    invoice = random_inputs(1, policy.catalogue, seed=1, null_share=0.0).iloc[0].to_dict()
    invoice.update(cust_strategic=True, days_past_due=45.0)
    contributions = {"late": np.array([0.9, 0.7, 0.5, 0.3]), "dispute": np.array([0, 0, 0, 0.2])}
    candidates = model_reasons(VALUES, contributions, NAMES, SPECS, format_template)
    decision = policy.decide(invoice, candidates)
    assert [r.source for r in decision.reasons] == ["rule", "rule", "model", "model", "model"]
    assert decision.reasons[1].code == "rule.priority.strategic_overdue"
    assert [r.code for r in decision.reasons[2:]] == [
        "late.hist_late_share",
        "late.rel_open_tickets",
        "late.amount",
    ]
    batch = policy.decide_batch({k: [v] for k, v in invoice.items()})
    assert batch.decision(0, candidates) == decision
