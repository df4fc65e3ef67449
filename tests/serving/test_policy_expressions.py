"""The expression language: parsing, typing, null semantics, and scalar/vector agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from serving.policy.catalogue import Field, build_catalogue
from serving.policy.expressions import ExpressionError, parse
from serving.policy.inputs import normalize_batch, normalize_one
from serving.policy.scalar import compile_condition, compile_number
from serving.policy.synthetic import random_inputs
from serving.policy.typecheck import check_condition
from serving.policy.vector import evaluate_condition, evaluate_number

CATALOGUE = build_catalogue(
    [
        Field("p_late", "number", bounds=(0.0, 1.0)),
        Field("amount", "number"),
        Field("days_past_due", "number"),
        Field("strategic", "bool"),
        Field("legal_hold", "bool"),
        Field("reason", "category", ("pricing", "delivery", "billing_error")),
        Field("top_reason", "category", ("pricing", "delivery", "billing_error")),
        Field("currency", "text"),
    ]
)
NULLS = {
    "p_late": None,
    "amount": math.nan,
    "days_past_due": None,
    "strategic": None,
    "legal_hold": None,
    "reason": None,
    "top_reason": None,
    "currency": None,
}


def both_paths(text: str, rows: list[dict]) -> tuple[list[bool], list[bool]]:
    node = parse(text)
    check_condition(node, CATALOGUE)
    scalar = compile_condition(node, CATALOGUE)
    one = [scalar(normalize_one(row, CATALOGUE.values())) for row in rows]
    columns = {name: [row[name] for row in rows] for name in CATALOGUE}
    batch = normalize_batch(columns, CATALOGUE.values())
    many = evaluate_condition(node, batch, CATALOGUE, len(rows)).tolist()
    return one, many


def row(**values: object) -> dict:
    return {**NULLS, **values}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p_late >= 0.5", False),
        ("p_late < 0.5", False),
        ("p_late != 0.5", False),
        ("p_late == 0.5", False),
        ("not (p_late >= 0.5)", True),
        ("p_late is null", True),
        ("p_late is not null", False),
        ("strategic", False),
        ("not strategic", True),
        ("strategic == false", False),
        ("strategic != true", False),
        ("reason == 'pricing'", False),
        ("reason != 'pricing'", False),
        ("reason in ['pricing', 'delivery']", False),
        ("reason not in ['pricing']", False),
        ("not (reason in ['pricing'])", True),
        ("reason is null", True),
        ("currency != 'EUR'", False),
        ("amount * 2 > 0 or amount * 2 <= 0", False),
        ("days_past_due + 1 is null", True),
    ],
)
def test_null_semantics_in_both_paths(text: str, expected: bool) -> None:
    one, many = both_paths(text, [row()])
    assert one == [expected]
    assert many == [expected]


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("p_late >= 0.5", {"p_late": 0.5}, True),
        ("p_late >= 0.5", {"p_late": 0.4999}, False),
        ("p_late > 0.5", {"p_late": 0.5}, False),
        ("amount * p_late >= 1000", {"amount": 2000.0, "p_late": 0.5}, True),
        ("amount * p_late >= 1000", {"amount": 1999.0, "p_late": 0.5}, False),
        ("amount / days_past_due > 1", {"amount": 5.0, "days_past_due": 0}, False),
        ("amount / days_past_due is null", {"amount": 5.0, "days_past_due": 0}, True),
        ("max(p_late, amount) == 3", {"p_late": 0.1, "amount": 3.0}, True),
        ("max(p_late, amount) is null", {"p_late": 0.1}, True),
        ("abs(days_past_due) == 4", {"days_past_due": -4}, True),
        ("-days_past_due > 3", {"days_past_due": -4}, True),
        ("strategic and not legal_hold", {"strategic": True, "legal_hold": False}, True),
        ("strategic and not legal_hold", {"strategic": True, "legal_hold": True}, False),
        ("reason == top_reason", {"reason": "pricing", "top_reason": "pricing"}, True),
        ("reason != top_reason", {"reason": "pricing", "top_reason": "delivery"}, True),
        ("reason in ['pricing', 'delivery']", {"reason": "delivery"}, True),
        ("reason not in ['pricing', 'delivery']", {"reason": "billing_error"}, True),
        ("currency == 'EUR'", {"currency": "EUR"}, True),
        ("currency != 'EUR'", {"currency": "USD"}, True),
        ("currency in ['USD', 'GBP']", {"currency": "EUR"}, False),
        ("days_past_due in [1, 2, 3]", {"days_past_due": 2}, True),
        ("true", {}, True),
        ("false or strategic", {"strategic": True}, True),
    ],
)
def test_values_in_both_paths(text: str, values: dict, expected: bool) -> None:
    one, many = both_paths(text, [row(**values)])
    assert one == [expected]
    assert many == [expected]


def test_precedence_and_binds_tighter_than_or_and_arithmetic_before_comparison() -> None:
    node = parse("strategic or legal_hold and p_late > 1 + 2 * 3")
    assert both_paths(
        "strategic or legal_hold and p_late > 1 + 2 * 3",
        [row(strategic=True, legal_hold=False, p_late=0.1)],
    ) == ([True], [True])
    assert type(node).__name__ == "Or"
    comparison = node.operands[1].operands[1]
    assert comparison.right.op == "+"
    assert comparison.right.right.op == "*"


def test_parameters_become_literals() -> None:
    node = parse("p_late >= high and reason in causes", {"high": 0.7, "causes": ["pricing"]})
    assert node == parse("p_late >= 0.7 and reason in ['pricing']")


@pytest.mark.parametrize(
    ("text", "position", "needle"),
    [
        ("p_late >= ", 10, "expected a field"),
        ("p_late = 0.5", 7, "unexpected character '='"),
        ("p_late => 0.5", 7, "unexpected character '='"),
        ("p_late >= 0.5 extra", 14, "unexpected text"),
        ("p_late ; 1", 7, "unexpected character"),
        ("reason in 'pricing'", 10, "expected a list"),
        ("p_late is 0.5", 10, "expected 'null'"),
        ("eval(p_late)", 0, "unknown function"),
        ("max(p_late)", 0, "takes 2 argument"),
        ("p_late == null", 10, "cannot start a value"),
    ],
)
def test_syntax_errors_name_their_position(text: str, position: int, needle: str) -> None:
    with pytest.raises(ExpressionError, match=needle) as caught:
        parse(text)
    assert caught.value.position == position


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        ("p_lat >= 0.5", "p_lat", "unknown field 'p_lat'"),
        ("strategic == 1", "strategic", "cannot compare field 'strategic'"),
        ("strategic > 0", "strategic", "orders numbers only"),
        ("reason == 'remittance'", "reason", "'remittance' is not a value of field 'reason'"),
        ("reason in ['pricing', 'lost']", "reason", "'lost' is not a value"),
        ("reason > 'pricing'", "reason", "orders numbers only"),
        ("amount + strategic > 1", "strategic", "needs a number"),
        ("p_late", "p_late", "must be true or false"),
        ("strategic in [1, 2]", "strategic", "'in' cannot test"),
        ("currency == reason", "currency", "cannot compare"),
        ("not amount", "amount", "needs a true/false condition"),
        ("1 == 1", "", "no field"),
    ],
)
def test_type_errors_name_the_field(text: str, field: str, needle: str) -> None:
    with pytest.raises(ExpressionError, match=needle) as caught:
        check_condition(parse(text), CATALOGUE)
    assert caught.value.field == field
    assert caught.value.fix


def test_unknown_field_suggests_the_close_name() -> None:
    with pytest.raises(ExpressionError) as caught:
        check_condition(parse("p_lat >= 0.5"), CATALOGUE)
    assert "did you mean 'p_late'" in caught.value.fix


def random_condition(rng: np.random.Generator, depth: int = 0) -> str:
    """A random well-typed condition over CATALOGUE."""
    choice = rng.integers(0, 9 if depth < 3 else 6)
    numbers = ["p_late", "amount", "days_past_due"]
    if choice == 0:
        op = rng.choice(["<", "<=", ">", ">=", "==", "!="])
        return f"{random_number(rng, depth)} {op} {rng.choice([0, 0.5, 1, 100, -5])}"
    if choice == 1:
        return f"{rng.choice(['strategic', 'legal_hold'])} {rng.choice(['==', '!='])} " + str(
            rng.choice(["true", "false"])
        )
    if choice == 2:
        values = ", ".join(f"'{v}'" for v in rng.choice(["pricing", "delivery"], 2))
        return f"{rng.choice(['reason', 'top_reason'])} {rng.choice(['in', 'not in'])} [{values}]"
    if choice == 3:
        return f"{rng.choice(list(CATALOGUE))} {rng.choice(['is null', 'is not null'])}"
    if choice == 4:
        return f"reason {rng.choice(['==', '!='])} {rng.choice(['top_reason', repr('pricing')])}"
    if choice == 5:
        field = rng.choice(["strategic", "legal_hold"])
        return f"currency {rng.choice(['==', '!='])} 'EUR'" if rng.random() < 0.3 else field
    if choice == 6:
        return f"not ({random_condition(rng, depth + 1)})"
    if choice == 7:
        return f"{rng.choice(numbers)} {rng.choice(['in', 'not in'])} [0, 1, 2]"
    joiner = rng.choice([" and ", " or "])
    return "(" + joiner.join(random_condition(rng, depth + 1) for _ in range(2)) + ")"


def random_number(rng: np.random.Generator, depth: int) -> str:
    base = str(rng.choice(["p_late", "amount", "days_past_due"]))
    pick = rng.integers(0, 5)
    if pick == 0 and depth < 3:
        return f"({base} {rng.choice(['+', '-', '*', '/'])} {random_number(rng, depth + 1)})"
    if pick == 1:
        return f"{rng.choice(['max', 'min'])}({base}, {random_number(rng, depth + 1)})"
    if pick == 2:
        return f"abs({base})"
    return base


@pytest.mark.parametrize("seed", range(5))
def test_scalar_and_vector_paths_agree_on_random_conditions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = random_inputs(300, CATALOGUE, seed=seed, null_share=0.25)
    frame["currency"] = np.where(rng.random(300) < 0.5, "EUR", "USD")
    frame.loc[rng.random(300) < 0.2, "currency"] = None
    rows = frame.to_dict("records")
    columns = normalize_batch(frame, CATALOGUE.values())
    singles = [normalize_one(r, CATALOGUE.values()) for r in rows]
    checked = 0
    for _ in range(60):
        node = parse(random_condition(rng))
        check_condition(node, CATALOGUE)
        many = evaluate_condition(node, columns, CATALOGUE, len(rows))
        scalar = compile_condition(node, CATALOGUE)
        assert many.tolist() == [scalar(values) for values in singles], node
        checked += int(many.sum())
    assert checked > 0


def test_numeric_expressions_agree_bit_for_bit() -> None:
    frame = random_inputs(200, CATALOGUE, seed=3, null_share=0.2)
    rows = [normalize_one(r, CATALOGUE.values()) for r in frame.to_dict("records")]
    columns = normalize_batch(frame, CATALOGUE.values())
    for text in ["amount * p_late", "max(p_late, amount / days_past_due) - 3", "-abs(amount)"]:
        node = parse(text)
        many = np.broadcast_to(evaluate_number(node, columns, 200), (200,))
        one = np.array([compile_number(node)(values) for values in rows])
        np.testing.assert_array_equal(many, one)
