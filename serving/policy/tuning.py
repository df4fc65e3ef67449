"""Capacity tuning: thresholds that capture the most expected amount at risk per team week.

The search changes the policy's named parameters only, by rewriting their values in the file's
text (comments and layout kept), and re-validates every candidate: a candidate that would make a
row unreachable is rejected like a hand-written one. Coordinate search: each tunable parameter in
turn takes the grid value that best serves the objective, for a few passes, until nothing moves.

Objective, compared lexicographically: first the total overflow (cases above capacity in the
busiest week, or on average, per team, summed), then the expected amount at risk captured
(``amount * defaults.risk`` summed over cases routed to someone), more is better.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from serving.policy.backtest import (
    TEAMS,
    check_history,
    expected_amount_at_risk,
    week_start,
)
from serving.policy.engine import Policy, PreparedBatch, policy_from_text
from serving.policy.errors import PolicyError
from serving.policy.loader import PolicySpec
from serving.policy.rows import OWNERS

PROBABILITY_GRID = tuple(round(0.05 * step, 2) for step in range(1, 20))
COUNT_GRID = tuple(range(1, 11))
CAPACITY = re.compile(r"^\s*([a-z_]+)\s*=\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Candidate:
    """One evaluated set of parameter values."""

    values: dict[str, object]
    overflow: float
    captured: float
    load: dict[str, float]

    @property
    def key(self) -> tuple[float, float]:
        return (-self.overflow, self.captured)


@dataclass(frozen=True)
class TuningResult:
    """The best policy found, its figures and every candidate evaluated."""

    policy: Policy
    best: Candidate
    start: Candidate
    capacity: dict[str, float]
    history: list[Candidate] = field(default_factory=list)

    @property
    def within_capacity(self) -> bool:
        return self.best.overflow == 0


def parse_capacity(text: str) -> dict[str, float]:
    """``"finance=400,revenue_owner=150/week"`` -> ``{"finance": 400, "revenue_owner": 150}``.

    Raises:
        ValueError: An unknown team or a malformed entry, naming it and the expected form.
    """
    capacity: dict[str, float] = {}
    for entry in text.removesuffix("/week").split(","):
        match = CAPACITY.match(entry)
        if match is None or match.group(1) not in TEAMS:
            raise ValueError(
                f"capacity entry {entry.strip()!r}: write team=cases per week for teams "
                f"{', '.join(TEAMS)}, e.g. finance=400,revenue_owner=150/week"
            )
        capacity[match.group(1)] = float(match.group(2))
    return capacity


def default_grid(spec: PolicySpec) -> dict[str, tuple[float, ...]]:
    """The parameters tuned when no grid is given, with their candidate values.

    A parameter written as a decimal in [0, 1] is a probability threshold (grid 0.05..0.95);
    a whole number from 1 to 10 is a count threshold such as ``min_broken_promises`` (grid
    1..10). Amounts, day counts and lists are left as they are.
    """
    grid: dict[str, tuple[float, ...]] = {}
    for name, parameter in spec.parameters.items():
        value = parameter.value
        if isinstance(value, float) and 0 <= value <= 1:
            grid[name] = PROBABILITY_GRID
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10:
            grid[name] = COUNT_GRID
    return grid


def rewrite_parameters(spec: PolicySpec, values: Mapping[str, object]) -> str:
    """The policy text with the given parameters' values replaced in place.

    Raises:
        KeyError: A name that is not a parameter of the policy.
    """
    text = spec.text
    spans = sorted(((spec.parameters[n].span, v) for n, v in values.items()), reverse=True)
    for (start, end), value in spans:
        text = text[:start] + _yaml_scalar(value) + text[end:]
    return text


def _yaml_scalar(value: object) -> str:
    if isinstance(value, float):
        return repr(round(float(value), 6))
    return str(value)


def weekly_team_counts(owner_codes: np.ndarray, week_index: np.ndarray, n_weeks: int) -> dict:
    """Cases per week per team from owner codes (order of ``rows.OWNERS``); joint counts twice."""
    finance = np.isin(owner_codes, [OWNERS.index("finance"), OWNERS.index("joint")])
    revenue = np.isin(owner_codes, [OWNERS.index("revenue_owner"), OWNERS.index("joint")])
    return {
        "finance": np.bincount(week_index[finance], minlength=n_weeks),
        "revenue_owner": np.bincount(week_index[revenue], minlength=n_weeks),
    }


@dataclass(frozen=True)
class _History:
    """What every candidate is evaluated on, computed once."""

    prepared: PreparedBatch
    week_index: np.ndarray
    n_weeks: int
    at_risk: np.ndarray
    capacity: dict[str, float]
    statistic: str


def evaluate_candidate(policy: Policy, values: dict[str, object], history: _History) -> Candidate:
    """Overflow and captured amount at risk of ``policy`` on the history."""
    owner_codes = np.asarray(policy.decide_batch(history.prepared).owner.codes)
    counts = weekly_team_counts(owner_codes, history.week_index, history.n_weeks)
    pick = np.max if history.statistic == "max" else np.mean
    load = {team: float(pick(weekly)) for team, weekly in counts.items()}
    overflow = sum(max(0.0, load[team] - limit) for team, limit in history.capacity.items())
    routed = owner_codes != OWNERS.index("none")
    return Candidate(dict(values), overflow, float(history.at_risk[routed].sum()), load)


def tune_policy(
    policy: Policy,
    history: pd.DataFrame,
    capacity: Mapping[str, float],
    grid: Mapping[str, Sequence[object]] | None = None,
    week_column: str = "issue_date",
    statistic: str = "max",
    passes: int = 3,
) -> TuningResult:
    """Choose parameter values that fit each team's weekly capacity and capture the most.

    Args:
        policy: The starting policy; its parameters' current values are the first candidate.
        history: Engine inputs and ``week_column`` (outcomes are not needed).
        capacity: Team -> cases per week (``finance``, ``revenue_owner``); a joint case
            counts for both teams.
        grid: Parameter -> candidate values (default: ``default_grid``).
        week_column: Date column that places a case in a week.
        statistic: ``max`` (the busiest week must fit) or ``mean`` (the average week).
        passes: Coordinate-search passes over the parameters.

    Raises:
        ValueError: An unknown statistic, team or parameter, or a missing column.
    """
    if statistic not in ("max", "mean"):
        raise ValueError(f"statistic {statistic!r}: use 'max' or 'mean'")
    grid = dict(grid if grid is not None else default_grid(policy.spec))
    unknown = [name for name in grid if name not in policy.spec.parameters]
    if unknown:
        raise ValueError(f"grid names {unknown[0]!r}, not a parameter of the policy")
    check_history(history.assign(went_late=0, disputed=0), week_column)
    frame = history.reset_index(drop=True)
    weeks = week_start(frame[week_column])
    week_index = ((weeks - weeks.min()).dt.days // 7).to_numpy()
    prepared = _History(
        policy.prepare_batch(frame),
        week_index,
        int(week_index.max()) + 1,
        expected_amount_at_risk(policy, frame),
        dict(capacity),
        statistic,
    )
    return _Search(policy, prepared).run(grid, passes)


class _Search:
    def __init__(self, policy: Policy, history: _History) -> None:
        self.base = policy
        self.data = history
        self.capacity = history.capacity
        self.cache: dict[tuple, tuple[Candidate, Policy] | None] = {}
        self.history: list[Candidate] = []

    def evaluate(self, values: dict[str, object]) -> tuple[Candidate, Policy] | None:
        key = tuple(sorted(values.items()))
        if key not in self.cache:
            try:
                text = rewrite_parameters(self.base.spec, values)
                policy = policy_from_text(text, self.base.spec.source, self.base.catalogue)
            except PolicyError:
                self.cache[key] = None
                return None
            candidate = evaluate_candidate(policy, values, self.data)
            self.history.append(candidate)
            self.cache[key] = (candidate, policy)
        return self.cache[key]

    def run(self, grid: dict[str, Sequence[object]], passes: int) -> TuningResult:
        current = {name: self.base.spec.parameters[name].value for name in grid}
        start = self.evaluate(current)
        assert start is not None
        best, best_policy = start
        for _ in range(passes):
            moved = False
            for name, options in grid.items():
                for option in options:
                    found = self.evaluate({**best.values, name: option})
                    if found is not None and found[0].key > best.key:
                        (best, best_policy), moved = found, True
            if not moved:
                break
        return TuningResult(best_policy, best, start[0], self.capacity, self.history)
