"""The canonical AR book: every table and column, declared once.

A book is a folder of tables. Only ``invoices`` is required; a feature that needs a table the
book lacks is left out, never faked. The loader (``features.book``) validates every load
against these declarations, and the importer (``features.importer``) maps foreign extracts
onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "str", "date", "money", "int", "bool", "category", "currency"]

SEGMENTS = ("enterprise", "mid_market", "small")
DISPUTE_REASONS = ("pricing", "delivery", "quality", "billing_error", "admin", "other")
DISPUTE_RESOLUTIONS = ("credit_note", "partial_credit", "rejected", "reissued", "withdrawn")
ACTIVITY_KINDS = (
    "support_ticket_opened",
    "support_ticket_closed",
    "delivery_incomplete",
    "quality_issue",
    "price_change",
    "pricing_discrepancy",
    "contact",
    "promise_to_pay",
    "broken_promise",
    "escalation",
    "owner_change",
    "legal_hold",
    "insolvency",
    "note",
)

# ISO 4217 codes in active use; an unknown code is a rejected row, not a silent conversion.
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)


@dataclass(frozen=True)
class Column:
    """One declared column.

    Attributes:
        name: Column name in the canonical book.
        kind: How values are parsed and checked (``money`` must be > 0, ``category`` must be
            one of ``choices``, ``currency`` an ISO 4217 code).
        required: The column must be present in the file; a missing required column is an
            error for the whole table, naming the column and the file.
        nullable: Empty values are allowed.
        choices: Allowed values for ``category`` columns.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """A foreign key: ``column`` names a row of ``table`` whenever that table is loaded."""

    column: str
    table: str


@dataclass(frozen=True)
class Table:
    """One declared table: its key, columns, foreign keys and date-order rules."""

    name: str
    key: str
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = ()
    # (later, earlier): the later date may not fall before the earlier one on the same row.
    date_order: tuple[tuple[str, str], ...] = ()
    required: bool = False
    columns_by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns_by_name", {c.name: c for c in self.columns})

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _optional(name: str, kind: Kind, choices: tuple[str, ...] = ()) -> Column:
    return Column(name, kind, required=False, nullable=True, choices=choices)


CUSTOMERS = Table(
    name="customers",
    key="customer_id",
    columns=(
        Column("customer_id", "id"),
        _optional("name", "str"),
        _optional("segment", "category", SEGMENTS),
        _optional("industry", "str"),
        _optional("country", "str"),
        _optional("payment_terms_days", "int"),
        _optional("credit_limit", "money"),
        _optional("revenue_owner_id", "str"),
        _optional("collector_id", "str"),
        _optional("strategic", "bool"),
        _optional("created_date", "date"),
    ),
)

INVOICES = Table(
    name="invoices",
    key="invoice_id",
    columns=(
        Column("invoice_id", "id"),
        Column("customer_id", "id"),
        Column("issue_date", "date"),
        Column("due_date", "date"),
        Column("amount", "money"),
        Column("currency", "currency"),
        _optional("order_id", "str"),
        _optional("paperless", "bool"),
        Column("paid_date", "date", required=False, nullable=True),
    ),
    references=(Reference("customer_id", "customers"),),
    date_order=(("due_date", "issue_date"), ("paid_date", "issue_date")),
    required=True,
)

PAYMENTS = Table(
    name="payments",
    key="payment_id",
    columns=(
        Column("payment_id", "id"),
        Column("invoice_id", "id"),
        Column("payment_date", "date"),
        Column("amount", "money"),
    ),
    references=(Reference("invoice_id", "invoices"),),
)

DISPUTES = Table(
    name="disputes",
    key="dispute_id",
    columns=(
        Column("dispute_id", "id"),
        Column("invoice_id", "id"),
        Column("opened_date", "date"),
        Column("reason", "category", choices=DISPUTE_REASONS),
        Column("amount", "money"),
        _optional("resolved_date", "date"),
        _optional("resolution", "category", DISPUTE_RESOLUTIONS),
    ),
    references=(Reference("invoice_id", "invoices"),),
    date_order=(("resolved_date", "opened_date"),),
)

ACTIVITIES = Table(
    name="activities",
    key="activity_id",
    columns=(
        Column("activity_id", "id"),
        Column("customer_id", "id"),
        _optional("invoice_id", "id"),
        _optional("order_id", "str"),
        Column("date", "date"),
        Column("kind", "category", choices=ACTIVITY_KINDS),
        _optional("detail", "str"),
        _optional("promised_date", "date"),
    ),
    references=(Reference("customer_id", "customers"), Reference("invoice_id", "invoices")),
)

# Load order matters: a table's references point only to tables earlier in this tuple.
TABLES: tuple[Table, ...] = (CUSTOMERS, INVOICES, PAYMENTS, DISPUTES, ACTIVITIES)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

# Kept beside a simulated book for evaluation only; features must never read it.
ORACLE_TABLE = "oracle"
