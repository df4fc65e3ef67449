"""Validation of policy files at load: every problem names file, line, field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.policy.engine import load_policy, policy_from_text
from serving.policy.errors import PolicyError
from serving.policy.loader import content_version

VALID = """\
policy: test
parameters:
  high_late: 0.6
  causes: [pricing, delivery]
tiers:
  P1: 10000
  P2: 1000
  P3: 100
tables:
  - name: routing
    rows:
      - id: finance.legal
        when: cust_legal_hold
        owner: finance
        action: legal_review
        explanation: Legal hold.
      - id: revenue_owner.dispute
        when: inv_dispute_open and inv_dispute_reason in causes
        owner: revenue_owner
        action: resolve_root_cause
        explanation: Operational dispute.
      - id: finance.late
        when: p_late >= high_late
        owner: finance
        action: collections_call
        explanation: High late risk.
      - id: none.rest
        owner: none
        action: monitor
        explanation: Low risk.
"""


def load_text(tmp_path: Path, text: str) -> PolicyError:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return caught.value


def only_problem(tmp_path: Path, text: str) -> tuple[str, int, str, str]:
    error = load_text(tmp_path, text)
    assert len(error.problems) == 1, error
    problem = error.problems[0]
    assert problem.source == str(tmp_path / "policy.yaml")
    assert problem.fix
    assert f"{tmp_path / 'policy.yaml'}:{problem.line}" in str(error)
    return problem.field, problem.line, problem.message, problem.fix


def test_the_valid_policy_loads_with_a_content_version(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    policy = load_policy(tmp_path / "policy.yaml")
    assert policy.version == content_version(VALID)
    assert policy.version != content_version(VALID + "\n")
    assert [row.id for row in policy.spec.tables[0].rows][-1] == "none.rest"


def test_unknown_field(tmp_path: Path) -> None:
    text = VALID.replace("when: cust_legal_hold", "when: cust_legal_holds")
    field, line, message, fix = only_problem(tmp_path, text)
    assert (field, line) == ("when (cust_legal_holds)", 13)
    assert "unknown field 'cust_legal_holds'" in message
    assert "did you mean 'cust_legal_hold'" in fix


def test_column_points_into_the_expression(tmp_path: Path) -> None:
    text = VALID.replace("p_late >= high_late", "p_late >= high_late and amount > 'x'")
    error = load_text(tmp_path, text)
    problem = error.problems[0]
    assert problem.line == 23
    assert problem.column == len("        when: p_late >= high_late and amount ") + 1
    assert "orders numbers only" in problem.message


def test_type_mismatch_bool_against_number(tmp_path: Path) -> None:
    text = VALID.replace("when: cust_legal_hold", "when: cust_legal_hold == 1")
    field, line, message, _ = only_problem(tmp_path, text)
    assert (field, line) == ("when (cust_legal_hold)", 13)
    assert "cannot compare field 'cust_legal_hold' (bool) with number" in message


def test_type_mismatch_category_value_not_in_choices(tmp_path: Path) -> None:
    text = VALID.replace("causes: [pricing, delivery]", "causes: [pricing, remittance]")
    field, line, message, fix = only_problem(tmp_path, text)
    assert (field, line) == ("when (inv_dispute_reason)", 18)
    assert "'remittance' is not a value of field 'inv_dispute_reason'" in message
    assert "billing_error" in fix


def test_bad_operator(tmp_path: Path) -> None:
    text = VALID.replace("p_late >= high_late", "p_late => high_late")
    field, line, message, fix = only_problem(tmp_path, text)
    assert (field, line) == ("when (=)", 23) or (field, line) == ("when", 23)
    assert "unexpected character '='" in message
    assert "==" in fix


def test_bad_output_value(tmp_path: Path) -> None:
    text = VALID.replace("action: collections_call", "action: call_them")
    field, line, message, fix = only_problem(tmp_path, text)
    assert (field, line) == ("action", 25)
    assert "'call_them' is not a valid action" in message
    assert "collections_call" in fix


def test_missing_catch_all(tmp_path: Path) -> None:
    text = VALID.replace("      - id: none.rest\n", "      - id: none.rest\n        when: true\n")
    assert policy_from_text(text).spec.tables[0].rows[-1].id == "none.rest"
    text = VALID.replace(
        "      - id: none.rest\n", "      - id: none.rest\n        when: p_late < 0.6\n"
    )
    field, line, message, fix = only_problem(tmp_path, text)
    assert (field, line) == ("when", 27)
    assert "missing catch-all" in message
    assert "last row without 'when'" in fix


def test_row_after_an_unconditional_row_can_never_match(tmp_path: Path) -> None:
    text = VALID.replace("        when: p_late >= high_late\n", "")
    error = load_text(tmp_path, text)
    assert [(p.field, p.line) for p in error.problems] == [("when", 26)]
    assert "row 'none.rest' can never match: row 'finance.late' (line 22)" in str(error)
    assert "has no condition" in error.problems[0].message


def test_identical_earlier_condition(tmp_path: Path) -> None:
    text = VALID.replace("p_late >= high_late", "cust_legal_hold")
    field, line, message, _ = only_problem(tmp_path, text)
    assert (field, line) == ("when", 22)
    assert "row 'finance.late' can never match: row 'finance.legal' (line 12)" in message


@pytest.mark.parametrize(
    ("earlier", "later", "covered"),
    [
        ("p_late >= 0.5", "p_late >= 0.6 and amount > 1000", True),
        ("p_late >= 0.5", "p_late >= 0.5", True),
        ("p_late > 0.5", "p_late >= 0.5", False),
        ("p_late >= 0.5 and amount >= 10", "p_late >= 0.7 and amount >= 100", True),
        ("p_late >= 0.5 and amount >= 10", "p_late >= 0.7", False),
        ("inv_dispute_reason in causes", "inv_dispute_reason == 'pricing'", True),
        ("inv_dispute_reason in causes", "inv_dispute_reason == 'quality'", False),
        ("cust_legal_hold or p_late >= 0.5", "p_late >= 0.9", True),
        ("not cust_legal_hold", "cust_legal_hold == false", True),
        ("rel_open_tickets != 0", "rel_open_tickets >= 1", True),
        ("amount * p_late > 100", "amount * p_late > 100 and cust_strategic", True),
    ],
)
def test_interval_subsumption(tmp_path: Path, earlier: str, later: str, covered: bool) -> None:
    text = (
        VALID.replace("cust_legal_hold\n", earlier + "\n", 1)
        .replace("inv_dispute_open and inv_dispute_reason in causes", later)
        .replace("p_late >= high_late", "cust_strategic")
    )
    if not covered:
        assert policy_from_text(text).spec.tables[0].rows[1].id == "revenue_owner.dispute"
        return
    field, line, message, _ = only_problem(tmp_path, text)
    assert (field, line) == ("when", 17)
    assert "row 'revenue_owner.dispute' can never match: row 'finance.legal'" in message


def test_self_contradicting_condition(tmp_path: Path) -> None:
    text = VALID.replace("p_late >= high_late", "p_late >= 0.7 and p_late < 0.6")
    field, line, message, _ = only_problem(tmp_path, text)
    assert (field, line) == ("when", 22)
    assert "contradicts itself" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("cust_legal_hold", "cust_legal").replace("monitor", "nap")
    error = load_text(tmp_path, text)
    assert [(p.line, p.field) for p in error.problems] == [
        (13, "when (cust_legal)"),
        (29, "action"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "needle"),
    [
        ("  high_late: 0.6", "  p_late: 0.6", "p_late", 3, "parameter name is a field name"),
        ("  high_late: 0.6", "  high_late: {a: 1}", "high_late", 3, "parameter value must"),
        ("  P2: 1000", "  P2: 100000", "tiers", 6, "must not increase"),
        ("  P3: 100", "  P3: lots", "P3", 8, "tier threshold must be a number"),
        ("policy: test", "policy: test\npolicy: again", "policy", 2, "duplicate key"),
        ("policy: test", "policy: test\nowners: []", "owners", 2, "unknown key"),
        ("      - id: none.rest", "      - id: None Rest", "id", 27, "bad or missing row id"),
        ("        explanation: Low risk.", "        colour: red", "colour", 30, "unknown key"),
    ],
)
def test_structure_problems(
    tmp_path: Path, old: str, new: str, field: str, line: int, needle: str
) -> None:
    error = load_text(tmp_path, VALID.replace(old, new))
    matching = [p for p in error.problems if p.field == field and p.line == line]
    assert matching, error
    assert needle in matching[0].message


def test_row_setting_other_outputs_than_its_table(tmp_path: Path) -> None:
    text = VALID.replace("        action: monitor\n", "        action: monitor\n        tier: P4\n")
    field, line, message, fix = only_problem(tmp_path, text)
    assert (field, line) == ("tier", 27)
    assert "every row of a table sets the same outputs" in fix


def test_two_tables_setting_the_owner(tmp_path: Path) -> None:
    second = (
        "  - name: again\n    rows:\n      - id: again.rest\n        owner: none\n"
        "        action: monitor\n        explanation: x\n"
    )
    error = load_text(tmp_path, VALID + second)
    assert [(p.field, p.line) for p in error.problems] == [("owner", 1), ("action", 1)]
    assert "tables ['routing', 'again'] all set 'owner'" in error.problems[0].message


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    field, line, message, _ = only_problem(tmp_path, VALID.replace("  P2: 1000", "  P2: [1000"))
    assert field == "yaml"
    assert line >= 7


def test_file_content_is_never_executed(tmp_path: Path) -> None:
    text = VALID.replace("p_late >= high_late", "__import__('os').system('touch x') == 0")
    error = load_text(tmp_path, text)
    assert "unexpected character" in error.problems[0].message or "unknown" in str(error)
    assert not (tmp_path / "x").exists()
