"""The decision engine: one policy, one code path for one invoice and for a million.

``Policy.decide`` evaluates one invoice through compiled closures (microseconds);
``Policy.decide_batch`` evaluates column arrays with numpy. Both apply the same tables, null
semantics, risk, tiers and assignment, and the tests check they agree decision for decision.

Priority: ``amount_at_risk = amount * risk`` where ``risk`` is the numeric expression set by the
matched row (or the policy's ``defaults.risk``, by default ``max(p_late, p_dispute)``). The
tier is P1 when it reaches ``tiers.P1``, else P2 at ``tiers.P2``, P3 at ``tiers.P3``, else P4 (a
null amount at risk is P4), unless the matched row fixes the tier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from serving.policy.catalogue import Catalogue, Field, default_catalogue
from serving.policy.decision import Decision, DecisionBatch, Reason, TraceEntry, merge_reasons
from serving.policy.expressions import field_names
from serving.policy.inputs import InputError, batch_length, compile_normalizer, normalize_batch
from serving.policy.loader import PolicySpec, load_policy_file, parse_policy
from serving.policy.rows import OWNERS, DecisionTable, Row
from serving.policy.scalar import compile_condition, compile_number
from serving.policy.vector import evaluate_condition, evaluate_number

TIER_NAMES = ("P1", "P2", "P3", "P4")
ALWAYS_READ = ("amount", "collector_id", "revenue_owner_id")
FINANCE, REVENUE_OWNER, JOINT, NONE = range(4)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch checked and converted once: ``n`` invoices, engine columns and assignment ids."""

    n: int
    columns: dict
    collector_id: np.ndarray
    revenue_owner_id: np.ndarray


@dataclass(frozen=True)
class _RowPlan:
    """What a matched row contributes, precomputed for the scalar path."""

    test: object
    outputs: dict[str, str]
    risk: object | None
    trace: TraceEntry
    reason: Reason | None


class Policy:
    """A validated, compiled policy.

    Args:
        spec: The validated policy file (``loader.load_policy_file``).
        catalogue: The fields it was validated against.
    """

    def __init__(self, spec: PolicySpec, catalogue: Catalogue) -> None:
        self.spec = spec
        self.catalogue = catalogue
        used = _used_names(spec)
        self.fields: tuple[Field, ...] = tuple(
            catalogue[n] for n in dict.fromkeys((*ALWAYS_READ, *used))
        )
        self._batch_fields = tuple(catalogue[n] for n in dict.fromkeys(("amount", *used)))
        self._normalize = compile_normalizer(self.fields)
        self.owner_table = next(t for t in spec.tables if "owner" in t.sets)
        self._default_risk = compile_number(spec.default_risk)
        self._plans = [[self._plan(table, row) for row in table.rows] for table in spec.tables]

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def name(self) -> str:
        return self.spec.name

    def _plan(self, table: DecisionTable, row: Row) -> _RowPlan:
        risk = compile_number(row.risk) if row.risk is not None else None
        trace = TraceEntry(table.name, row.id, row.line)
        return _RowPlan(
            compile_condition(row.condition, self.catalogue),
            row.outputs,
            risk,
            trace,
            self.rule_reason(table, row),
        )

    def rule_reason(self, table: DecisionTable, row: Row) -> Reason | None:
        """The rule reason a matched row gives: its explanation, code ``rule.<id>``.

        The catch-all row of a table that does not set the owner gives none: it only says
        that nothing special applied.
        """
        if table is not self.owner_table and row is table.rows[-1]:
            return None
        return Reason(f"rule.{row.id}", row.explanation, "rule", 1.0)

    def decide(
        self, inputs: Mapping[str, object], model_reasons: tuple[Reason, ...] = ()
    ) -> Decision:
        """Decide one invoice.

        Args:
            inputs: Field name -> value (scores, facts, ``collector_id``,
                ``revenue_owner_id``); every field the policy reads must be present.
            model_reasons: Candidate model reasons (``reasons.model_reasons``); the best are
                kept after the rule reasons, five reasons at most.

        Raises:
            InputError: A missing field or a value that does not fit its field.
        """
        values = self._normalize(inputs)
        outputs, risk_fn, trace, rules = self._match(values)
        risk = risk_fn(values)
        at_risk = values["amount"] * risk  # type: ignore[operator]
        tier = outputs.get("tier", "auto")
        owner = outputs["owner"]
        assignee, co_assignee = assignees(owner, values["collector_id"], values["revenue_owner_id"])
        return Decision(
            owner=owner,
            action=outputs["action"],
            tier=self._tier_of(at_risk) if tier == "auto" else tier,
            risk=risk,
            amount_at_risk=at_risk,
            assignee=assignee,
            co_assignee=co_assignee,
            reasons=merge_reasons(rules, model_reasons),
            trace=trace,
            policy_version=self.version,
        )

    def _match(self, values: dict) -> tuple[dict, Callable, tuple, tuple]:
        """The first matching row of every table: outputs, risk, trace and rule reasons."""
        outputs: dict[str, str] = {}
        risk_fn = self._default_risk
        trace, rules = [], []
        for plans in self._plans:
            for plan in plans:
                if plan.test(values):  # type: ignore[operator]
                    break
            outputs.update(plan.outputs)
            risk_fn = plan.risk or risk_fn  # type: ignore[assignment]
            trace.append(plan.trace)
            if plan.reason is not None:
                rules.append(plan.reason)
        return outputs, risk_fn, tuple(trace), tuple(rules)

    def _tier_of(self, amount_at_risk: float) -> str:
        for name, threshold in zip(TIER_NAMES, self.spec.tier_thresholds, strict=False):
            if amount_at_risk >= threshold:
                return name
        return "P4"

    def prepare_batch(self, inputs: pd.DataFrame | Mapping[str, object]) -> PreparedBatch:
        """Check and convert a batch once, for repeated evaluation (replays, tuning).

        Raises:
            InputError: A missing column or a value that does not fit its field, with its row.
        """
        return PreparedBatch(
            batch_length(inputs),
            normalize_batch(inputs, self._batch_fields),
            _ids(inputs, "collector_id"),
            _ids(inputs, "revenue_owner_id"),
        )

    def decide_batch(
        self, inputs: pd.DataFrame | Mapping[str, object] | PreparedBatch
    ) -> DecisionBatch:
        """Decide every invoice of a batch (a DataFrame or a mapping of equal-length columns).

        Args:
            inputs: The batch, or a ``PreparedBatch`` from ``prepare_batch`` of a policy
                reading the same fields.

        Raises:
            InputError: A missing column or a value that does not fit its field, with its row.
        """
        prepared = inputs if isinstance(inputs, PreparedBatch) else self.prepare_batch(inputs)
        n, columns = prepared.n, prepared.columns
        missing = [f.name for f in self._batch_fields if f.name not in columns]
        if missing:
            raise InputError(f"prepared batch lacks field {missing[0]!r}; prepare it again")
        hits = {t.name: self._first_hits(t, columns, n) for t in self.spec.tables}
        risk = self._batch_risk(hits, columns, n)
        at_risk = columns["amount"] * risk
        owner_codes = self._batch_codes("owner", hits, OWNERS)
        collector, revenue_owner = prepared.collector_id, prepared.revenue_owner_id
        assignee = np.where(owner_codes == REVENUE_OWNER, revenue_owner, collector)
        assignee[owner_codes == NONE] = None
        co_assignee = np.full(n, None, dtype=object)
        co_assignee[owner_codes == JOINT] = revenue_owner[owner_codes == JOINT]
        return DecisionBatch(
            owner=pd.Categorical.from_codes(owner_codes, categories=pd.Index(OWNERS)),
            action=self._batch_labels("action", hits),
            tier=self._batch_tier(hits, at_risk),
            risk=risk,
            amount_at_risk=at_risk,
            assignee=assignee,
            co_assignee=co_assignee,
            rows=hits,
            row_traces={
                t.name: tuple(TraceEntry(t.name, r.id, r.line) for r in t.rows)
                for t in self.spec.tables
            },
            row_reasons={
                t.name: tuple(self.rule_reason(t, r) for r in t.rows) for t in self.spec.tables
            },
            policy_version=self.version,
        )

    def _first_hits(self, table: DecisionTable, columns: Mapping, n: int) -> np.ndarray:
        hit = np.full(n, len(table.rows) - 1, dtype=np.int16)
        for index in range(len(table.rows) - 2, -1, -1):
            matches = evaluate_condition(table.rows[index].condition, columns, self.catalogue, n)
            hit[matches] = index
        return hit

    def _table_setting(self, output: str) -> DecisionTable | None:
        return next((t for t in self.spec.tables if output in t.sets), None)

    def _batch_codes(self, output: str, hits: dict, labels: tuple[str, ...]) -> np.ndarray:
        table = self._table_setting(output)
        assert table is not None
        by_row = np.array([labels.index(r.outputs[output]) for r in table.rows], dtype=np.int8)
        return by_row[hits[table.name]]

    def _batch_labels(self, output: str, hits: dict) -> pd.Categorical[str]:
        table = self._table_setting(output)
        assert table is not None
        labels = tuple(dict.fromkeys(r.outputs[output] for r in table.rows))
        codes = self._batch_codes(output, hits, labels)
        return pd.Categorical.from_codes(codes, categories=pd.Index(labels))

    def _batch_risk(self, hits: dict, columns: Mapping, n: int) -> np.ndarray:
        table = self._table_setting("risk")
        if table is None:
            return _as_array(evaluate_number(self.spec.default_risk, columns, n), n)
        risk = np.empty(n)
        hit = hits[table.name]
        for node in dict.fromkeys(r.risk for r in table.rows if r.risk is not None):
            uses_node = np.array([r.risk == node for r in table.rows])
            where = uses_node[hit]
            risk[where] = _as_array(evaluate_number(node, columns, n), n)[where]
        return risk

    def _batch_tier(self, hits: dict, at_risk: np.ndarray) -> pd.Categorical[str]:
        p1, p2, p3 = self.spec.tier_thresholds
        codes = np.full(len(at_risk), 3, dtype=np.int8)
        for code, threshold in ((2, p3), (1, p2), (0, p1)):
            codes[at_risk >= threshold] = code
        table = self._table_setting("tier")
        if table is not None:
            fixed = np.array([_tier_code(r.outputs["tier"]) for r in table.rows], dtype=np.int8)
            by_row = fixed[hits[table.name]]
            codes = np.where(by_row >= 0, by_row, codes)
        return pd.Categorical.from_codes(codes, categories=pd.Index(TIER_NAMES))


def assignees(
    owner: str, collector_id: str | None, revenue_owner_id: str | None
) -> tuple[str | None, str | None]:
    """(assignee, co_assignee) for an owner: joint goes to the collector with the revenue
    owner beside; none goes to nobody."""
    if owner == "finance":
        return collector_id, None
    if owner == "revenue_owner":
        return revenue_owner_id, None
    if owner == "joint":
        return collector_id, revenue_owner_id
    return None, None


def _tier_code(tier: str) -> int:
    return TIER_NAMES.index(tier) if tier in TIER_NAMES else -1


def _as_array(values: np.ndarray | float, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (n,))


def _ids(inputs: pd.DataFrame | Mapping[str, object], name: str) -> np.ndarray:
    """An assignment id column as an object array of ``str`` or None."""
    series = pd.Series(inputs[name], copy=False).reset_index(drop=True)  # type: ignore[index]
    nulls = series.isna().to_numpy()
    if infer_dtype(series, skipna=True) not in ("string", "empty"):
        series = series.map(str, na_action="ignore")
    values = series.to_numpy(dtype=object)
    values[nulls] = None
    return values


def _used_names(spec: PolicySpec) -> list[str]:
    names: set[str] = set(field_names(spec.default_risk))
    for table in spec.tables:
        for row in table.rows:
            names |= field_names(row.condition)
            if row.risk is not None:
                names |= field_names(row.risk)
    return sorted(names)


def default_policy_path() -> Path:
    """The shipped default policy file."""
    return Path(str(resources.files("serving.policy") / "default_policy.yaml"))


def load_policy(path: str | Path | None = None, catalogue: Catalogue | None = None) -> Policy:
    """Load, validate and compile a policy file (the default policy when ``path`` is None).

    Raises:
        PolicyError: listing every problem with file, line, field and the fix.
    """
    catalogue = catalogue if catalogue is not None else default_catalogue()
    spec = load_policy_file(path or default_policy_path(), catalogue)
    return Policy(spec, catalogue)


def policy_from_text(
    text: str, source: str = "<string>", catalogue: Catalogue | None = None
) -> Policy:
    """Validate and compile a policy given as text."""
    catalogue = catalogue if catalogue is not None else default_catalogue()
    return Policy(parse_policy(text, source, catalogue), catalogue)


@dataclass(frozen=True)
class ShadowDecision:
    """The acting policy's decision and the challenger's on the same inputs."""

    decision: Decision
    challenger: Decision


@dataclass(frozen=True)
class ShadowBatch:
    """Batch decisions of the acting policy and of the challenger on the same inputs."""

    decisions: DecisionBatch
    challenger: DecisionBatch


def decide_shadow(
    policy: Policy,
    challenger: Policy,
    inputs: Mapping[str, object],
    model_reasons: tuple[Reason, ...] = (),
) -> ShadowDecision:
    """Decide one invoice with both policies; the caller acts on ``decision`` only."""
    return ShadowDecision(
        policy.decide(inputs, model_reasons), challenger.decide(inputs, model_reasons)
    )


def decide_shadow_batch(
    policy: Policy, challenger: Policy, inputs: pd.DataFrame | Mapping[str, object]
) -> ShadowBatch:
    """Decide a batch with both policies; the caller acts on ``decisions`` only."""
    return ShadowBatch(policy.decide_batch(inputs), challenger.decide_batch(inputs))
