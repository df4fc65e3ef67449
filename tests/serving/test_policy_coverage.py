"""Soundness of the unreachable-row analysis: whenever it claims that an earlier condition
covers a later one (or that a condition can never hold), evaluation on data agrees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.policy.catalogue import Field, build_catalogue
from serving.policy.coverage import covers, never_true
from serving.policy.expressions import parse
from serving.policy.inputs import normalize_batch
from serving.policy.vector import evaluate_condition

CATALOGUE = build_catalogue(
    [
        Field("x", "number"),
        Field("y", "number"),
        Field("flag", "bool"),
        Field("kind", "category", ("a", "b", "c")),
        Field("code", "text"),
    ]
)
CONSTANTS = (0.0, 1.0, 2.0, 3.0)


def random_atom(rng: np.random.Generator) -> str:
    pick = rng.integers(0, 8)
    field = rng.choice(["x", "y"])
    constant = rng.choice(CONSTANTS)
    if pick <= 2:
        return f"{field} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} {constant}"
    if pick == 3:
        return f"{field} {rng.choice(['in', 'not in'])} [{constant}, {rng.choice(CONSTANTS)}]"
    if pick == 4:
        return str(rng.choice(["flag", "not flag", "flag == false", "flag != true"]))
    if pick == 5:
        values = ", ".join(f"'{v}'" for v in rng.choice(["a", "b", "c"], 2))
        return f"kind {rng.choice(['in', 'not in'])} [{values}]"
    if pick == 6:
        return f"{rng.choice(['x', 'kind', 'flag', 'code'])} is {rng.choice(['', 'not '])}null"
    return str(rng.choice(["code == 'k1'", "code != 'k1'", "not (x > 1)", "x + y > 2"]))


def random_condition(rng: np.random.Generator) -> str:
    branches = [
        " and ".join(random_atom(rng) for _ in range(rng.integers(1, 4)))
        for _ in range(rng.integers(1, 3))
    ]
    return " or ".join(f"({branch})" for branch in branches)


def grid_inputs() -> dict:
    """Every combination of boundary values, between-values and nulls of the fields."""
    numbers = [None, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]
    index = pd.MultiIndex.from_product(
        [numbers, numbers, [True, False, None], ["a", "b", "c", None], ["k1", "k2", None]],
        names=["x", "y", "flag", "kind", "code"],
    )
    frame = index.to_frame(index=False)
    frame["x"] = frame["x"].astype(float)
    frame["y"] = frame["y"].astype(float)
    return normalize_batch(frame, CATALOGUE.values()), len(frame)


@pytest.mark.parametrize("seed", range(4))
def test_claimed_coverage_holds_on_every_grid_point(seed: int) -> None:
    rng = np.random.default_rng(seed)
    columns, n = grid_inputs()
    claims = 0
    for _ in range(400):
        later = parse(random_condition(rng))
        earlier = parse(random_condition(rng)) if rng.random() < 0.5 else _widen(later, rng)
        if covers(earlier, later, CATALOGUE):
            claims += 1
            later_true = evaluate_condition(later, columns, CATALOGUE, n)
            earlier_true = evaluate_condition(earlier, columns, CATALOGUE, n)
            assert not (later_true & ~earlier_true).any(), (earlier, later)
    assert claims >= 20


def _widen(node, rng: np.random.Generator):  # noqa: ANN001, ANN202
    """A condition that often covers ``node``: one of its branches with an atom dropped."""
    from serving.policy.expressions import And, Or

    branch = node.operands[rng.integers(len(node.operands))] if isinstance(node, Or) else node
    if isinstance(branch, And) and len(branch.operands) > 1:
        keep = list(branch.operands)
        keep.pop(rng.integers(len(keep)))
        return keep[0] if len(keep) == 1 else And(tuple(keep))
    return branch


@pytest.mark.parametrize("seed", range(2))
def test_claimed_contradictions_never_hold(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    columns, n = grid_inputs()
    claims = 0
    for _ in range(600):
        condition = parse(random_condition(rng))
        if never_true(condition, CATALOGUE):
            claims += 1
            assert not evaluate_condition(condition, columns, CATALOGUE, n).any(), condition
    assert claims >= 5
