"""The online feature path: incremental per-customer state, one invoice at a time.

``OnlineFeatures`` consumes ledger events (``features.online_events``) in any order and answers
the feature vector of one invoice at a time ``t`` from the events dated before ``t``, exactly
as ``features.offline.build_features`` computes it for the whole book. Events dated on or
after ``t`` may already be applied: every aggregate is read at ``t`` by bisection, so the
common service case (everything so far applied, query as of today) and replaying a past
book agree.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from features.online_compute import families_for
from features.online_events import (
    ActivityLogged,
    CustomerUpserted,
    DisputeOpened,
    DisputeResolved,
    Event,
    InvoiceIssued,
    InvoicePaid,
    PaymentReceived,
    day_number,
    event_from_dict,
    events_from_book,
)
from features.online_state import NEVER, PROBLEM_KINDS, CustomerState, Dispute, InvoiceState
from features.registry import FeatureSet
from features.schema import DISPUTE_REASONS, SEGMENTS

MONTH_END_DAYS = 5
REASON_CODE = {reason: code for code, reason in enumerate(DISPUTE_REASONS)}
SEGMENT_CODE = {segment: code for code, segment in enumerate(SEGMENTS)}

__all__ = ["OnlineFeatures", "events_from_book"]


class OnlineFeatures:
    """Per-customer incremental feature state for one ``FeatureSet``.

    Args:
        feature_set: The features to answer, in its (registry) order.
    """

    def __init__(self, feature_set: FeatureSet) -> None:
        self.feature_set = feature_set
        self.names = feature_set.names
        self.customers: dict[str, CustomerState] = {}
        self.invoices: dict[str, InvoiceState] = {}
        self.disputes: dict[str, Dispute] = {}
        self.applied = 0
        self._families = families_for(self.names)

    # -- ingest -------------------------------------------------------------------------
    def customer(self, customer_id: str) -> CustomerState:
        state = self.customers.get(customer_id)
        if state is None:
            state = self.customers[customer_id] = CustomerState(customer_id)
        return state

    def invoice(self, invoice_id: str) -> InvoiceState:
        try:
            return self.invoices[invoice_id]
        except KeyError:
            raise KeyError(
                f"invoice {invoice_id!r} is unknown to the feature state: apply its "
                "invoice_issued event first"
            ) from None

    def apply(self, event: Event | Mapping[str, Any]) -> None:
        """Apply one event (a typed record or a dict with a ``kind`` key)."""
        if isinstance(event, Mapping):
            event = event_from_dict(event)
        handler = getattr(self, f"_on_{event.kind}")
        handler(event)
        self.applied += 1

    def apply_all(self, events: Iterable[Event | Mapping[str, Any]]) -> None:
        for event in events:
            self.apply(event)

    def replay(self, book: object, until: object | None = None) -> OnlineFeatures:
        """Apply a book's events in time order; with ``until``, only those dated before it."""
        limit = NEVER if until is None else day_number(until)
        for event in events_from_book(book):
            if event.date is not None and day_number(event.date) >= limit:
                break
            self.apply(event)
        return self

    def _on_customer_upsert(self, event: CustomerUpserted) -> None:
        state = self.customer(event.customer_id)
        state.segment = SEGMENT_CODE.get(event.segment) if event.segment else None
        state.strategic = event.strategic
        state.credit_limit = event.credit_limit
        state.created = None if event.created_date is None else day_number(event.created_date)

    def _on_invoice_issued(self, event: InvoiceIssued) -> None:
        issue = day_number(event.date)
        year, month = event.date.year, event.date.month
        invoice = InvoiceState(
            invoice_id=event.invoice_id,
            customer_id=event.customer_id,
            issue=issue,
            due=day_number(event.due_date),
            amount=float(event.amount),
            cents=round(float(event.amount) * 100),
            order_id=event.order_id,
            paperless=event.paperless,
            issue_month=month,
            month_end=event.date.day > calendar.monthrange(year, month)[1] - MONTH_END_DAYS,
        )
        self.invoices[event.invoice_id] = invoice
        self.customer(event.customer_id).add_issued(invoice)

    def _on_payment(self, event: PaymentReceived) -> None:
        invoice = self.invoice(event.invoice_id)
        day = day_number(event.date)
        if day > invoice.paid:
            return  # the balance was already settled; a later payment cannot reduce it
        cents = round(float(event.amount) * 100)
        invoice.payments.append((day, cents))
        invoice.payments.sort()
        self.customers[invoice.customer_id].add_payment(invoice, day, cents)

    def _on_invoice_paid(self, event: InvoicePaid) -> None:
        invoice = self.invoice(event.invoice_id)
        invoice.paid = day_number(event.date)
        customer = self.customers[invoice.customer_id]
        customer.add_paid(invoice)
        for promised_on, promised_for in invoice.promises:
            self._record_kept(customer, invoice, promised_on, promised_for)

    def _on_dispute_opened(self, event: DisputeOpened) -> None:
        invoice = self.invoice(event.invoice_id)
        reason = REASON_CODE[event.reason]
        dispute = Dispute(event.dispute_id, event.invoice_id, day_number(event.date), reason)
        self.disputes[event.dispute_id] = dispute
        invoice.disputes.append(dispute)
        one_hot = tuple(int(r == reason) for r in range(len(DISPUTE_REASONS)))
        self.customers[invoice.customer_id].opened.add(dispute.opened, one_hot, event.dispute_id)

    def _on_dispute_resolved(self, event: DisputeResolved) -> None:
        dispute = self.disputes[event.dispute_id]
        dispute.resolved = day_number(event.date)
        customer = self.customers[self.invoices[dispute.invoice_id].customer_id]
        days = customer.resolved_days
        days.insert(np.searchsorted(days, dispute.resolved, side="right"), dispute.resolved)

    def _on_activity(self, event: ActivityLogged) -> None:
        customer = self.customer(event.customer_id)
        day = day_number(event.date)
        kind = event.activity
        customer.add_activity(kind, day)
        invoice = self.invoices.get(event.invoice_id) if event.invoice_id else None
        if kind in PROBLEM_KINDS:
            if invoice is not None:
                invoice.problems[kind] = min(invoice.problems.get(kind, NEVER), day)
            if event.order_id is not None:
                key = (kind, event.order_id)
                customer.order_problems[key] = min(customer.order_problems.get(key, NEVER), day)
        if kind == "promise_to_pay" and invoice is not None and event.promised_date is not None:
            promised_for = day_number(event.promised_date)
            invoice.promises.append((day, promised_for))
            self._record_kept(customer, invoice, day, promised_for)

    @staticmethod
    def _record_kept(
        customer: CustomerState, invoice: InvoiceState, promised_on: int, promised_for: int
    ) -> None:
        if invoice.paid != NEVER and invoice.paid <= promised_for:
            customer.add_activity("kept_promise", max(promised_on, invoice.paid))

    # -- answer -------------------------------------------------------------------------
    def values(self, invoice_id: str, as_of: object) -> dict[str, float]:
        """Feature values of one invoice at ``as_of``, by name, in feature-set order."""
        invoice = self.invoice(invoice_id)
        t = day_number(as_of)
        if t < invoice.issue:
            raise ValueError(
                f"invoice {invoice_id!r} is scored at {as_of}, before its issue date; "
                "use a date on or after it"
            )
        everything: dict[str, float] = {}
        customer = self.customers[invoice.customer_id]
        for family in self._families:
            family(customer, invoice, t, everything)
        return {name: float(everything[name]) for name in self.names}

    def vector(self, invoice_id: str, as_of: object) -> np.ndarray:
        """Feature vector (float64, feature-set order) of one invoice at ``as_of``."""
        values = self.values(invoice_id, as_of)
        return np.fromiter(values.values(), dtype=np.float64, count=len(self.names))
