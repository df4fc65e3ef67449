"""The engine: one invoice and a batch give the same decisions; inputs are checked; shadow mode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.policy.engine import decide_shadow, decide_shadow_batch, load_policy, policy_from_text
from serving.policy.inputs import InputError
from serving.policy.synthetic import random_inputs

DEFAULT = load_policy()

ARITHMETIC_POLICY = """\
policy: arithmetic
parameters:
  big: 20000
tiers: {P1: 5000, P2: 500, P3: 50}
defaults:
  risk: p_late
tables:
  - name: routing
    rows:
      - id: eur.big
        when: currency == "EUR" and amount * max(p_late, p_dispute) >= big / 2
        owner: joint
        action: joint_review
        risk: max(p_late, p_dispute)
        explanation: Big EUR exposure.
      - id: ratio
        when: days_p50 / (days_past_due + 30) > 1.5 or cust_segment != "small"
        owner: finance
        action: reminder
        risk: min(1, p_late * 1.5)
        explanation: Slow payer.
      - id: ids
        when: collector_id is null or revenue_owner_id in ["rev1", "rev2"]
        owner: revenue_owner
        action: resolve_root_cause
        risk: abs(p_dispute - 0.1)
        explanation: Assignment gap.
      - id: rest
        owner: none
        action: monitor
        risk: p_late
        explanation: Rest.
  - name: tiers
    rows:
      - id: tiers.overdue
        when: not (days_past_due < 60) and inv_dispute_reason not in ["admin"]
        tier: P2
        explanation: Long overdue.
      - id: tiers.auto
        tier: auto
        explanation: By amount.
"""


def assert_same_decisions(policy, frame: pd.DataFrame) -> list:  # noqa: ANN001
    batch = policy.decide_batch(frame)
    singles = [policy.decide(row) for row in frame.to_dict("records")]
    assert [batch.decision(i) for i in range(len(frame))] == singles
    return singles


@pytest.mark.parametrize("seed", range(4))
def test_single_and_batch_agree_on_random_inputs(seed: int) -> None:
    frame = random_inputs(1500, DEFAULT.catalogue, seed=seed, null_share=0.15)
    singles = assert_same_decisions(DEFAULT, frame)
    assert len({d.trace[0].row for d in singles}) >= 8


@pytest.mark.parametrize("seed", range(3))
def test_single_and_batch_agree_with_arithmetic_text_and_fixed_tiers(seed: int) -> None:
    policy = policy_from_text(ARITHMETIC_POLICY)
    frame = random_inputs(1500, policy.catalogue, seed=seed, null_share=0.2)
    rng = np.random.default_rng(seed)
    frame["currency"] = rng.choice(np.array(["EUR", "USD", None], dtype=object), len(frame))
    frame["revenue_owner_id"] = rng.choice(np.array(["rev1", "rev9", None], dtype=object), 1500)
    singles = assert_same_decisions(policy, frame)
    assert {d.trace[0].row for d in singles} == {"eur.big", "ratio", "ids", "rest"}
    assert {d.tier for d in singles} == {"P1", "P2", "P3", "P4"}


def test_input_representations_do_not_change_decisions() -> None:
    frame = random_inputs(800, DEFAULT.catalogue, seed=11, null_share=0.2)
    reference = DEFAULT.decide_batch(frame).to_frame()
    as_objects = frame.copy()
    for name, field in DEFAULT.catalogue.items():
        if field.kind == "bool":
            values = frame[name].map({1.0: True, 0.0: False}).astype(object)
            as_objects[name] = values.where(frame[name].notna(), None)
        if field.kind == "category":
            as_objects[name] = frame[name].astype("category")
    pd.testing.assert_frame_equal(DEFAULT.decide_batch(as_objects).to_frame(), reference)


@pytest.fixture(scope="module")
def simulated_inputs() -> pd.DataFrame:
    from features.offline import build_features, rescore_dates
    from features.simulator import SimulationConfig, simulate_book
    from serving.policy.frames import decision_inputs

    simulated = simulate_book(SimulationConfig(customers=40, months=8, seed=5))
    book = simulated.to_book()
    points = pd.concat([rescore_dates(book, every_days=20)], ignore_index=True)
    features = build_features(book, points)
    oracle = simulated.oracle.set_index("invoice_id")
    scores = {
        "p_late": oracle["p_late"].reindex(features["invoice_id"]).to_numpy(),
        "p_dispute": oracle["p_dispute"].reindex(features["invoice_id"]).to_numpy(),
    }
    return decision_inputs(features, scores, book.tables)


def test_single_and_batch_agree_on_a_simulator_book(simulated_inputs: pd.DataFrame) -> None:
    assert len(simulated_inputs) > 300
    singles = assert_same_decisions(DEFAULT, simulated_inputs)
    assert len({d.owner for d in singles}) >= 3
    assert all(d.assignee is not None for d in singles if d.owner in ("finance", "joint"))


def test_to_frame_has_one_line_per_invoice_with_matched_rows() -> None:
    frame = random_inputs(50, DEFAULT.catalogue, seed=2)
    out = DEFAULT.decide_batch(frame).to_frame()
    assert len(out) == 50
    assert list(out.columns) == [
        "owner",
        "action",
        "tier",
        "risk",
        "amount_at_risk",
        "assignee",
        "co_assignee",
        "row_routing",
        "row_priority",
        "policy_version",
    ]
    first = DEFAULT.decide(frame.iloc[0].to_dict())
    assert out.loc[0, "row_routing"] == first.trace[0].row
    assert out.loc[0, "amount_at_risk"] == first.amount_at_risk


def one_invoice(**changes: object) -> dict:
    row = random_inputs(1, DEFAULT.catalogue, seed=4, null_share=0.0).iloc[0].to_dict()
    return {**row, **changes}


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"inv_dispute_reason": "remit"}, "field 'inv_dispute_reason'.*'remit' is not one of"),
        ({"p_late": None}, "field 'p_late'.*null"),
        ({"p_late": 1.2}, "field 'p_late'.*outside"),
        ({"cust_legal_hold": "yes"}, "field 'cust_legal_hold'.*'yes' is not true/false"),
        ({"amount": "12"}, "field 'amount'.*'12' is not a number"),
    ],
)
def test_bad_inputs_are_errors_in_both_paths(changes: dict, needle: str) -> None:
    good = one_invoice()
    bad = one_invoice(**changes)
    with pytest.raises(InputError, match=needle):
        DEFAULT.decide(bad)
    frame = pd.DataFrame([good, good, bad])
    with pytest.raises(InputError, match=needle + ".*|row 2"):
        DEFAULT.decide_batch(frame)
    with pytest.raises(InputError, match="row 2"):
        DEFAULT.decide_batch(frame)


def test_nulls_in_any_form_decide_alike() -> None:
    forms = [None, np.nan, pd.NA]
    decisions = []
    for null in forms:
        invoice = one_invoice(p_late=0.7, rel_broken_promises_90d=0, inv_dispute_open=False)
        invoice.update(cust_legal_hold=null, cust_insolvent=null, rel_open_tickets=null)
        invoice.update(inv_dispute_reason=null, cust_strategic=null, days_past_due=null)
        decisions.append(DEFAULT.decide(invoice))
        batch = DEFAULT.decide_batch(pd.DataFrame([invoice, invoice]))
        assert batch.decision(1) == decisions[-1]
    assert decisions[0] == decisions[1] == decisions[2]
    assert decisions[0].trace[0].row != "finance.legal_hold"


def test_missing_field_is_named() -> None:
    invoice = one_invoice()
    del invoice["rel_open_tickets"]
    with pytest.raises(InputError, match="lacks field 'rel_open_tickets'"):
        DEFAULT.decide(invoice)
    with pytest.raises(InputError, match="lacks column 'rel_open_tickets'"):
        DEFAULT.decide_batch(pd.DataFrame([invoice]))


def test_shadow_mode_returns_both_decisions() -> None:
    text = DEFAULT.spec.text.replace("high_late_risk: 0.6 ", "high_late_risk: 0.8 ")
    challenger = policy_from_text(text, "challenger.yaml")
    invoice = one_invoice(
        p_late=0.7,
        p_dispute=0.05,
        cust_legal_hold=False,
        cust_insolvent=False,
        inv_dispute_open=False,
        rel_broken_promises_90d=0,
        cust_strategic=False,
        rel_open_tickets=0,
        rel_order_delivery_problem=False,
        rel_order_quality_problem=False,
        rel_pricing_discrepancy_90d=False,
    )
    shadow = decide_shadow(DEFAULT, challenger, invoice)
    assert shadow.decision == DEFAULT.decide(invoice)
    assert (shadow.decision.action, shadow.challenger.action) == ("collections_call", "reminder")
    assert shadow.challenger.policy_version == challenger.version != DEFAULT.version
    frame = random_inputs(400, DEFAULT.catalogue, seed=8)
    both = decide_shadow_batch(DEFAULT, challenger, frame)
    assert both.decisions.decision(7) == DEFAULT.decide(frame.iloc[7].to_dict())
    assert both.challenger.decision(7) == challenger.decide(frame.iloc[7].to_dict())
    assert (both.decisions.action != both.challenger.action).any()
