"""The feature registry: every point-in-time feature declared once.

Each ``FeatureSpec`` names a feature, its family, its dtype, the tables (and optional columns)
it needs, and a plain-language template used for reasons. The offline path
(``features.offline``) and the online path (``features.online``) both compute exactly the
features of a ``FeatureSet``, in registry order.

Time semantics shared by both paths: at time ``t`` (a day) an event dated ``d`` is known iff
``d < t``. The scored invoice itself (amount, dates, order) is known from its issue date on.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from features.schema import DISPUTE_REASONS, SEGMENTS

Dtype = Literal["float", "int", "bool", "category"]
FAMILIES = ("inv", "cust", "hist", "exp", "disp", "rel", "life")

# Parameters of the definitions below, shared by the offline and the online path.
EWM_ALPHA = 0.3  # weight of the latest payment in hist_days_late_ewm
RECENT_PAYMENTS = 5  # the window of hist_*_last5
MONTH_END_DAYS = 5  # inv_issue_month_end: issued in the month's last days
YEAR_DAYS = 365
RECENT_DAYS = 90  # the window of hist_*_90d
LONG_LATE_DAYS = 30  # hist_late30_share: paid more than this many days after due


@dataclass(frozen=True)
class FeatureSpec:
    """One feature, declared once.

    Attributes:
        name: Column name in feature frames and key in online value dicts.
        family: One of ``FAMILIES`` (invoice, customer, payment history, exposure, disputes,
            relationship context, lifecycle).
        dtype: ``float``, ``int``, ``bool`` (0/1) or ``category`` (integer code into
            ``choices``, NaN when there is no value).
        tables: Tables the feature needs; it is left out of books that lack one.
        template: Plain-language reason text; ``{name}`` fields refer to feature names.
        description: What the feature means, precisely, including its time window.
        choices: The categories of a ``category`` feature, in code order.
        columns: ``table.column`` entries that must hold at least one value in the book.
    """

    name: str
    family: str
    dtype: Dtype
    tables: tuple[str, ...]
    template: str
    description: str
    choices: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.dtype == "category" and not self.choices:
            raise ValueError(f"feature {self.name!r}: a category feature needs choices")
        if self.family not in FAMILIES:
            raise ValueError(f"feature {self.name!r}: unknown family {self.family!r}")


def _spec(
    name: str,
    dtype: Dtype,
    tables: tuple[str, ...],
    template: str,
    description: str,
    **extra: tuple[str, ...],
) -> FeatureSpec:
    family = (
        "inv" if name == "amount" else "life" if name == "days_past_due" else name.split("_")[0]
    )
    return FeatureSpec(name, family, dtype, tables, template, description, **extra)


INV = ("invoices",)
CUS = ("customers",)
PAY = ("invoices", "payments")
DIS = ("invoices", "disputes")
ACT = ("activities",)

REGISTRY: tuple[FeatureSpec, ...] = (
    # -- invoice -------------------------------------------------------------------------
    _spec("amount", "float", INV, "Invoice amount {amount:,.2f}", "Invoice amount."),
    _spec(
        "inv_terms_days",
        "int",
        INV,
        "Payment terms of {inv_terms_days:.0f} days",
        "Days from issue date to due date.",
    ),
    _spec(
        "inv_issue_month",
        "int",
        INV,
        "Issued in month {inv_issue_month:.0f}",
        "Calendar month (1-12) of the issue date.",
    ),
    _spec(
        "inv_issue_month_end",
        "bool",
        INV,
        "Issued in the last days of the month",
        "Issued in the last 5 days of its calendar month.",
    ),
    _spec(
        "inv_due_day_of_month",
        "int",
        INV,
        "Due on day {inv_due_day_of_month:.0f} of the month",
        "Day of the month (1-31) of the due date (payment runs cluster at month ends).",
    ),
    _spec(
        "inv_due_month",
        "int",
        INV,
        "Due in month {inv_due_month:.0f}",
        "Calendar month (1-12) of the due date (quarter and year closes).",
    ),
    _spec(
        "inv_paperless",
        "bool",
        INV,
        "Invoice sent paperless",
        "The invoice was sent electronically (NaN when unknown).",
        columns=("invoices.paperless",),
    ),
    _spec(
        "inv_amount_vs_usual",
        "float",
        INV,
        "Amount is {inv_amount_vs_usual:.1f} times the customer's usual invoice",
        "Amount / median amount of the customer's invoices issued before this invoice's "
        "issue date (NaN for a first invoice).",
    ),
    _spec(
        "inv_dispute_open",
        "bool",
        DIS,
        "A dispute is open on this invoice",
        "A dispute on this invoice was opened before t and not resolved before t.",
    ),
    _spec(
        "inv_dispute_reason",
        "category",
        DIS,
        "Open dispute on this invoice: {inv_dispute_reason}",
        "Reason of the latest dispute on this invoice open at t (NaN when none is open).",
        choices=DISPUTE_REASONS,
    ),
    _spec(
        "inv_disputes",
        "int",
        DIS,
        "{inv_disputes:.0f} disputes on this invoice",
        "Disputes on this invoice opened before t.",
    ),
    # -- customer ------------------------------------------------------------------------
    _spec(
        "cust_segment",
        "category",
        CUS,
        "Customer segment: {cust_segment}",
        "The customer's segment.",
        choices=SEGMENTS,
        columns=("customers.segment",),
    ),
    _spec(
        "cust_strategic",
        "bool",
        CUS,
        "Strategic account",
        "The customer is flagged strategic.",
        columns=("customers.strategic",),
    ),
    _spec(
        "cust_credit_limit",
        "float",
        CUS,
        "Credit limit {cust_credit_limit:,.0f}",
        "The customer's credit limit (NaN when unknown).",
        columns=("customers.credit_limit",),
    ),
    _spec(
        "cust_tenure_days",
        "int",
        CUS,
        "Customer for {cust_tenure_days:.0f} days",
        "Days from the customer's created date to t (NaN when unknown).",
        columns=("customers.created_date",),
    ),
    _spec(
        "cust_legal_hold",
        "bool",
        ACT,
        "Customer account is on legal hold",
        "A legal_hold activity for the customer is dated before t.",
    ),
    _spec(
        "cust_insolvent",
        "bool",
        ACT,
        "Customer reported insolvent",
        "An insolvency activity for the customer is dated before t.",
    ),
    _spec(
        "cust_dispute_top_reason",
        "category",
        DIS,
        "Most frequent dispute reason of this customer: {cust_dispute_top_reason}",
        "Most frequent reason among the customer's disputes opened before t; ties go to the "
        "earlier reason in DISPUTE_REASONS (NaN when there are none).",
        choices=DISPUTE_REASONS,
    ),
    # -- payment history -----------------------------------------------------------------
    _spec(
        "hist_n_invoices",
        "int",
        INV,
        "{hist_n_invoices:.0f} earlier invoices",
        "The customer's invoices issued before t.",
    ),
    _spec(
        "hist_n_paid",
        "int",
        INV,
        "{hist_n_paid:.0f} invoices paid so far",
        "The customer's invoices fully paid before t.",
    ),
    _spec(
        "hist_n_late",
        "int",
        INV,
        "Paid {hist_n_late:.0f} of {hist_n_paid:.0f} invoices late",
        "Invoices paid before t whose paid date is after their due date.",
    ),
    _spec(
        "hist_late_share",
        "float",
        INV,
        "Paid {hist_n_late:.0f} of {hist_n_paid:.0f} invoices late "
        "({hist_late_share:.0%}), {hist_days_late_mean:.0f} days on average",
        "hist_n_late / hist_n_paid (NaN without paid invoices).",
    ),
    _spec(
        "hist_late_share_amount",
        "float",
        INV,
        "{hist_late_share_amount:.0%} of the amount paid so far was paid late",
        "Amount of invoices paid late / amount of invoices paid, both before t.",
    ),
    _spec(
        "hist_days_late_mean",
        "float",
        INV,
        "Pays {hist_days_late_mean:.0f} days after the due date on average",
        "Mean of (paid date - due date) in days over invoices paid before t (negative = early).",
    ),
    _spec(
        "hist_days_late_median",
        "float",
        INV,
        "Median payment {hist_days_late_median:.0f} days after due",
        "Median of days late over invoices paid before t.",
    ),
    _spec(
        "hist_days_late_p90",
        "float",
        INV,
        "One payment in ten comes {hist_days_late_p90:.0f} or more days after due",
        "90th percentile (linear interpolation) of days late over invoices paid before t.",
    ),
    _spec(
        "hist_days_late_ewm",
        "float",
        INV,
        "Recent payments average {hist_days_late_ewm:.0f} days late",
        "Exponentially weighted mean of days late (alpha 0.3, in paid-date order, most "
        "recent weighs most) over invoices paid before t.",
    ),
    _spec(
        "hist_late_share_last5",
        "float",
        INV,
        "{hist_late_share_last5:.0%} of the last five payments were late",
        "Late share over the last (up to) 5 invoices paid before t.",
    ),
    _spec(
        "hist_days_late_mean_last5",
        "float",
        INV,
        "The last five payments came {hist_days_late_mean_last5:.0f} days after due on average",
        "Mean days late over the last (up to) 5 invoices paid before t.",
    ),
    _spec(
        "hist_days_late_trend",
        "float",
        INV,
        "Paying {hist_days_late_trend:+.0f} days later than usual recently",
        "hist_days_late_mean_last5 - hist_days_late_mean (positive = getting later).",
    ),
    _spec(
        "hist_late_share_90d",
        "float",
        INV,
        "{hist_late_share_90d:.0%} of payments in the last 90 days were late",
        "Late share over the invoices paid in the 90 days before t (NaN when none).",
    ),
    _spec(
        "hist_days_late_mean_90d",
        "float",
        INV,
        "Payments in the last 90 days came {hist_days_late_mean_90d:.0f} days after due",
        "Mean days late over the invoices paid in the 90 days before t (NaN when none).",
    ),
    _spec(
        "hist_late30_share",
        "float",
        INV,
        "{hist_late30_share:.0%} of payments came more than 30 days late",
        "Share of the invoices paid before t that were paid more than 30 days after due.",
    ),
    _spec(
        "hist_days_since_last_late",
        "int",
        INV,
        "Last late payment {hist_days_since_last_late:.0f} days ago",
        "Days from the paid date of the latest invoice paid late before t to t.",
    ),
    _spec(
        "hist_days_since_last_paid",
        "int",
        INV,
        "Last payment {hist_days_since_last_paid:.0f} days ago",
        "Days from the latest paid date before t to t.",
    ),
    _spec(
        "hist_days_to_pay_mean",
        "float",
        INV,
        "Takes {hist_days_to_pay_mean:.0f} days to pay on average",
        "Mean of (paid date - issue date) in days over invoices paid before t.",
    ),
    _spec(
        "hist_partial_share",
        "float",
        PAY,
        "Settled {hist_partial_share:.0%} of invoices in instalments",
        "Share of the customer's invoices paid before t that took more than one payment.",
    ),
    # -- exposure ------------------------------------------------------------------------
    _spec(
        "exp_open_count",
        "int",
        INV,
        "{exp_open_count:.0f} invoices open",
        "The customer's invoices issued before t and not fully paid before t.",
    ),
    _spec(
        "exp_open_balance",
        "float",
        INV,
        "Open balance {exp_open_balance:,.2f}",
        "Amount still owed at t on invoices issued before t (partial payments deducted when "
        "the book has payments).",
    ),
    _spec(
        "exp_overdue_count",
        "int",
        INV,
        "{exp_overdue_count:.0f} invoices overdue",
        "Open invoices whose due date is before t.",
    ),
    _spec(
        "exp_overdue_balance",
        "float",
        INV,
        "Overdue balance {exp_overdue_balance:,.2f}",
        "Amount still owed at t on invoices whose due date is before t.",
    ),
    _spec(
        "exp_overdue_share",
        "float",
        INV,
        "{exp_overdue_share:.0%} of the open balance is overdue",
        "exp_overdue_balance / exp_open_balance (NaN when nothing is open).",
    ),
    _spec(
        "exp_oldest_overdue_days",
        "int",
        INV,
        "Oldest overdue invoice is {exp_oldest_overdue_days:.0f} days past due",
        "Days past due of the customer's oldest overdue invoice at t (NaN when none).",
    ),
    _spec(
        "exp_credit_use",
        "float",
        ("invoices", "customers"),
        "Uses {exp_credit_use:.0%} of the credit limit",
        "exp_open_balance / credit limit (NaN without a positive limit).",
        columns=("customers.credit_limit",),
    ),
    # -- disputes ------------------------------------------------------------------------
    _spec(
        "disp_n",
        "int",
        DIS,
        "{disp_n:.0f} disputes so far",
        "The customer's disputes opened before t.",
    ),
    _spec(
        "disp_n_365d",
        "int",
        DIS,
        "{disp_n_365d:.0f} disputes in the last year",
        "The customer's disputes opened in the 365 days before t.",
    ),
    _spec(
        "disp_open_count",
        "int",
        DIS,
        "{disp_open_count:.0f} disputes open",
        "The customer's disputes opened before t and not resolved before t.",
    ),
    _spec(
        "disp_days_since_last",
        "int",
        DIS,
        "Last dispute {disp_days_since_last:.0f} days ago",
        "Days from the customer's latest dispute opened before t to t (NaN when none).",
    ),
    _spec(
        "disp_per_invoice",
        "float",
        DIS,
        "{disp_per_invoice:.0%} disputes per invoice",
        "disp_n / hist_n_invoices (NaN without earlier invoices).",
    ),
    *(
        _spec(
            f"disp_n_{reason}",
            "int",
            DIS,
            f"{{disp_n_{reason}:.0f}} {reason} disputes so far",
            f"The customer's disputes with reason {reason} opened before t.",
        )
        for reason in DISPUTE_REASONS
    ),
    # -- relationship context ------------------------------------------------------------
    _spec(
        "rel_open_tickets",
        "int",
        ACT,
        "{rel_open_tickets:.0f} support tickets open",
        "Support tickets opened minus closed before t for the customer.",
    ),
    _spec(
        "rel_tickets_30d",
        "int",
        ACT,
        "{rel_tickets_30d:.0f} support tickets in 30 days",
        "Support tickets opened in the 30 days before t.",
    ),
    _spec(
        "rel_tickets_90d",
        "int",
        ACT,
        "{rel_tickets_90d:.0f} support tickets in 90 days",
        "Support tickets opened in the 90 days before t.",
    ),
    _spec(
        "rel_order_delivery_problem",
        "bool",
        ACT,
        "Incomplete delivery reported on this order",
        "A delivery_incomplete activity on this invoice or its order is dated before t.",
    ),
    _spec(
        "rel_order_quality_problem",
        "bool",
        ACT,
        "Quality issue reported on this order",
        "A quality_issue activity on this invoice or its order is dated before t.",
    ),
    _spec(
        "rel_pricing_discrepancy_90d",
        "bool",
        ACT,
        "Pricing change or discrepancy in 90 days",
        "A price_change or pricing_discrepancy activity in the 90 days before t.",
    ),
    _spec(
        "rel_days_since_contact",
        "int",
        ACT,
        "Last contact {rel_days_since_contact:.0f} days ago",
        "Days from the latest contact activity before t to t (NaN when none).",
    ),
    _spec(
        "rel_owner_changes_365d",
        "int",
        ACT,
        "Revenue owner changed {rel_owner_changes_365d:.0f} times in a year",
        "owner_change activities in the 365 days before t.",
    ),
    _spec(
        "rel_escalations_90d",
        "int",
        ACT,
        "{rel_escalations_90d:.0f} escalations in 90 days",
        "escalation activities in the 90 days before t.",
    ),
    _spec(
        "rel_promises_made",
        "int",
        ACT,
        "{rel_promises_made:.0f} promises to pay",
        "promise_to_pay activities before t.",
    ),
    _spec(
        "rel_promises_kept",
        "int",
        ("activities", "invoices"),
        "Kept {rel_promises_kept:.0f} promises to pay",
        "Promises to pay (with an invoice) whose invoice was paid on or before the promised "
        "date, counted once both the promise and the payment are before t.",
    ),
    _spec(
        "rel_promises_broken",
        "int",
        ACT,
        "Broke {rel_promises_broken:.0f} promises to pay",
        "broken_promise activities before t.",
    ),
    _spec(
        "rel_broken_promises_90d",
        "int",
        ACT,
        "Broke {rel_broken_promises_90d:.0f} promises to pay in 90 days",
        "broken_promise activities in the 90 days before t.",
    ),
    # -- lifecycle -----------------------------------------------------------------------
    _spec(
        "days_past_due",
        "int",
        INV,
        "{days_past_due:.0f} days past due",
        "t - due date in days (negative: days until due).",
    ),
    _spec(
        "life_days_since_issue",
        "int",
        INV,
        "Issued {life_days_since_issue:.0f} days ago",
        "t - issue date in days.",
    ),
    _spec(
        "life_paid_share",
        "float",
        PAY,
        "{life_paid_share:.0%} of this invoice already paid",
        "Share of this invoice's amount paid before t (1 once fully paid before t).",
    ),
)

REGISTRY_BY_NAME: dict[str, FeatureSpec] = {spec.name: spec for spec in REGISTRY}


@dataclass
class FeatureSet:
    """The features a book can support.

    Attributes:
        included: Specs computed for this book, in registry order.
        excluded: Why each left-out feature is missing, by feature name.
    """

    included: list[FeatureSpec]
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.included]

    def __contains__(self, name: str) -> bool:
        return any(spec.name == name for spec in self.included)


def _missing_reason(spec: FeatureSpec, tables: Mapping[str, object]) -> str | None:
    for table in spec.tables:
        if table not in tables:
            return f"needs table {table}, absent from this book"
    for entry in spec.columns:
        table, column = entry.split(".")
        frame = tables[table]
        if column not in frame.columns or not frame[column].notna().any():  # type: ignore[attr-defined]
            return f"needs column {entry}, empty in this book"
    return None


def feature_set(book: object, names: list[str] | None = None) -> FeatureSet:
    """The features ``book`` supports, with the reason for each one left out.

    Args:
        book: A ``features.book.Book`` (anything with a ``tables`` dict of frames).
        names: Restrict to these features (default: the whole registry).

    Raises:
        ValueError: A name in ``names`` is not in the registry.
    """
    unknown = [n for n in names or [] if n not in REGISTRY_BY_NAME]
    if unknown:
        raise ValueError(f"unknown features {unknown}: not in features.registry.REGISTRY")
    tables = book.tables  # type: ignore[attr-defined]
    included, excluded = [], {}
    for spec in REGISTRY:
        if names is not None and spec.name not in names:
            continue
        reason = _missing_reason(spec, tables)
        if reason is None:
            included.append(spec)
        else:
            excluded[spec.name] = reason
    return FeatureSet(included, excluded)


def display_value(spec: FeatureSpec, value: float) -> object:
    """A feature value as a reason shows it: category label, or the number itself."""
    if spec.dtype == "category":
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "none"
        return spec.choices[int(value)]
    return float(value)


def render_reason(spec: FeatureSpec, values: Mapping[str, float]) -> str:
    """Fill ``spec.template`` with an invoice's real values.

    Args:
        spec: The feature whose reason is wanted.
        values: Feature values by name (as ``OnlineFeatures.values`` or a frame row gives).

    Raises:
        ValueError: The template refers to a feature missing from ``values``.
    """
    fields = [f for _, f, _, _ in string.Formatter().parse(spec.template) if f]
    missing = [f for f in fields if f not in values]
    if missing:
        raise ValueError(
            f"reason for {spec.name!r} needs the value of {missing[0]!r}; pass it in values"
        )
    filled = {f: display_value(REGISTRY_BY_NAME[f], values[f]) for f in fields}
    return spec.template.format(**filled)
