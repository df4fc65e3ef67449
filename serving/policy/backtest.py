"""Replaying a policy on history: who would have got which invoices, and was it worth it.

Pure functions over a frame holding, per invoice, the engine's inputs (facts and as-of scores),
a week column and the outcomes ``went_late`` and ``disputed`` (1.0, 0.0, or NaN while the
outcome is not known yet). The command line wires books, models and files to them.

Metrics per owner: invoices, amount, expected amount at risk, precision (share of the owner's
invoices with a known outcome that went late or were disputed), the share of all late amount
and of all disputed invoices it captured, and how many outcomes are still unknown. Workload:
cases per assignee per week; a joint case counts for both its assignees and both teams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from serving.policy.engine import Policy
from serving.policy.inputs import normalize_batch
from serving.policy.vector import evaluate_number

OUTCOME_COLUMNS = ("went_late", "disputed")
TEAMS = ("finance", "revenue_owner")
OWNER_ORDER = ("finance", "revenue_owner", "joint", "none")


@dataclass(frozen=True)
class BacktestResult:
    """A policy replayed on a window.

    Attributes:
        policy: The policy's name and version, e.g. ``default@sha256:...``.
        by_owner: One row per owner and a final ``routed`` row (every owner but ``none``).
        workload: Per assignee: team, cases, weeks in the window, mean and busiest week.
        team_weeks: Cases per team per week (index: week start), zero weeks included.
        decisions: The decision frame beside ``week``, ``amount`` and the outcomes.
    """

    policy: str
    by_owner: pd.DataFrame
    workload: pd.DataFrame
    team_weeks: pd.DataFrame
    decisions: pd.DataFrame


def week_start(dates: pd.Series) -> pd.Series:
    """Monday of each date's week."""
    days = pd.to_datetime(dates).dt.normalize()
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


def check_history(frame: pd.DataFrame, week_column: str) -> None:
    """Raise ``ValueError`` naming the first missing column and the fix."""
    for column in (*OUTCOME_COLUMNS, week_column):
        if column not in frame.columns:
            raise ValueError(
                f"history frame lacks column {column!r}; add the outcomes (went_late, disputed: "
                "1, 0 or NaN when unknown) and the date the week is taken from"
            )


def backtest_policy(
    policy: Policy, history: pd.DataFrame, week_column: str = "issue_date"
) -> BacktestResult:
    """Replay ``policy`` on ``history`` and measure routing quality and workload.

    Args:
        policy: The compiled policy.
        history: Engine inputs plus ``went_late``, ``disputed`` and ``week_column``.
        week_column: Date column whose week a case falls in (default ``issue_date``).

    Raises:
        ValueError: A required column is missing.
        InputError: An input value does not fit its field.
    """
    check_history(history, week_column)
    history = history.reset_index(drop=True)
    decisions = policy.decide_batch(history).to_frame()
    decisions["week"] = week_start(history[week_column]).to_numpy()
    decisions["amount"] = history["amount"].to_numpy(dtype=np.float64)
    for column in OUTCOME_COLUMNS:
        decisions[column] = history[column].to_numpy(dtype=np.float64)
    weeks = pd.date_range(decisions["week"].min(), decisions["week"].max(), freq="7D")
    cases = team_cases(decisions)
    return BacktestResult(
        policy=f"{policy.name}@{policy.version}",
        by_owner=summarise_owners(decisions),
        workload=summarise_workload(cases, len(weeks)),
        team_weeks=team_weeks(cases, weeks),
        decisions=decisions,
    )


def summarise_owners(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per-owner counts, amounts, precision and capture; a last ``routed`` row."""
    late_amount = (decisions["amount"] * (decisions["went_late"] == 1)).sum()
    disputes = (decisions["disputed"] == 1).sum()
    groups = [(owner, decisions[decisions["owner"] == owner]) for owner in OWNER_ORDER]
    groups.append(("routed", decisions[decisions["owner"] != "none"]))
    rows = [_owner_row(owner, part, late_amount, disputes) for owner, part in groups]
    return pd.DataFrame(rows).set_index("owner")


def _owner_row(owner: str, part: pd.DataFrame, late_amount: float, disputes: int) -> dict:
    known = part[["went_late", "disputed"]].notna().all(axis=1)
    bad = ((part["went_late"] == 1) | (part["disputed"] == 1))[known]
    late_here = (part["amount"] * (part["went_late"] == 1)).sum()
    return {
        "owner": owner,
        "invoices": len(part),
        "amount": part["amount"].sum(),
        "amount_at_risk": part["amount_at_risk"].sum(),
        "precision": bad.mean() if len(bad) else np.nan,
        "late_amount_captured": late_here / late_amount if late_amount else np.nan,
        "disputes_captured": (part["disputed"] == 1).sum() / disputes if disputes else np.nan,
        "unknown_outcomes": int((~known).sum()),
    }


def team_cases(decisions: pd.DataFrame) -> pd.DataFrame:
    """One line per (case, team, assignee): joint cases appear once for each team."""
    finance = decisions["owner"].isin(["finance", "joint"])
    revenue = decisions["owner"] == "revenue_owner"
    joint = decisions["owner"] == "joint"
    parts = [
        decisions.loc[finance, ["week", "assignee"]].assign(team="finance"),
        decisions.loc[revenue, ["week", "assignee"]].assign(team="revenue_owner"),
        decisions.loc[joint, ["week", "co_assignee"]]
        .rename(columns={"co_assignee": "assignee"})
        .assign(team="revenue_owner"),
    ]
    cases = pd.concat(parts, ignore_index=True)
    cases["assignee"] = cases["assignee"].fillna("(unassigned)")
    return cases


def summarise_workload(cases: pd.DataFrame, n_weeks: int) -> pd.DataFrame:
    """Per assignee: cases, mean cases per week over the window, busiest week."""
    columns = ["team", "assignee", "cases", "weeks", "mean_per_week", "max_per_week"]
    if cases.empty:
        return pd.DataFrame(columns=columns)
    weekly = cases.groupby(["team", "assignee", "week"]).size()
    summary = weekly.groupby(level=["team", "assignee"]).agg(["sum", "max"])
    summary = summary.rename(columns={"sum": "cases", "max": "max_per_week"}).reset_index()
    summary["weeks"] = n_weeks
    summary["mean_per_week"] = summary["cases"] / max(n_weeks, 1)
    return summary[columns].sort_values(["team", "cases"], ascending=[True, False])


def team_weeks(cases: pd.DataFrame, weeks: pd.DatetimeIndex) -> pd.DataFrame:
    """Cases per team per week, every week of the window present (zero when idle)."""
    counts = cases.groupby(["week", "team"]).size().unstack("team")
    counts = counts.reindex(index=weeks, columns=list(TEAMS)).fillna(0).astype(int)
    counts.index.name = "week"
    return counts


def compare_backtests(results: dict[str, BacktestResult]) -> pd.DataFrame:
    """Per-owner metrics of several policies side by side (columns: metric, then label)."""
    frames = {label: result.by_owner for label, result in results.items()}
    joined = pd.concat(frames, axis=1)
    return joined.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)


def expected_amount_at_risk(policy: Policy, history: pd.DataFrame) -> np.ndarray:
    """``amount * defaults.risk`` per invoice: the value tuning tries to capture."""
    fields = [policy.catalogue[n] for n in ("amount", *_names(policy))]
    columns = normalize_batch(history, list(dict.fromkeys(fields)))
    risk = evaluate_number(policy.spec.default_risk, columns, len(history))
    return columns["amount"] * np.broadcast_to(risk, (len(history),))


def _names(policy: Policy) -> list[str]:
    from serving.policy.expressions import field_names

    return sorted(field_names(policy.spec.default_risk))


def book_outcomes(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """What happened to each invoice, as far as the book knows at ``as_of``.

    ``went_late``: 1 when paid after the due date, or unpaid with the due date before
    ``as_of``; 0 when paid by the due date; NaN when unpaid and not yet due. ``disputed``: 1
    when a dispute was opened on it; 0 when it was paid without one; NaN while it is open.

    Returns:
        Columns ``invoice_id, issue_date, went_late, disputed``, in the invoices' order.
    """
    invoices = tables["invoices"]
    due = pd.to_datetime(invoices["due_date"])
    paid = pd.to_datetime(invoices["paid_date"])
    went_late = np.where(paid.notna(), (paid > due).astype(float), np.nan)
    went_late = np.where(paid.isna() & (due < as_of), 1.0, went_late)
    disputes = tables.get("disputes")
    has_dispute = (
        invoices["invoice_id"].isin(disputes["invoice_id"]).to_numpy()
        if disputes is not None
        else np.zeros(len(invoices), dtype=bool)
    )
    disputed = np.where(has_dispute, 1.0, np.where(paid.notna(), 0.0, np.nan))
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].to_numpy(),
            "issue_date": pd.to_datetime(invoices["issue_date"]).to_numpy(),
            "went_late": went_late,
            "disputed": disputed,
        }
    )
