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
import datetime as dt
import gc
from bisect import insort
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any

import numpy as np

from features.online_compute import families_for
from features.online_events import (
    EPOCH_ORDINAL,
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
from features.online_replay import book_event_calls
from features.online_state import NEVER, PROBLEM_KINDS, CustomerState, Dispute, InvoiceState
from features.registry import MONTH_END_DAYS, FeatureSet
from features.schema import DISPUTE_REASONS, SEGMENTS

REASON_CODE = {reason: code for code, reason in enumerate(DISPUTE_REASONS)}
SEGMENT_CODE = {segment: code for code, segment in enumerate(SEGMENTS)}

__all__ = ["OnlineFeatures", "events_from_book"]


def _picker(names: list[str]) -> Callable[[dict], tuple]:
    """A function taking the values of ``names`` out of a dict, as a tuple, in order."""
    if len(names) == 1:
        return lambda values: (values[names[0]],)
    return itemgetter(*names)


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
        self._customer_families, self._invoice_families = families_for(self.names)
        self._pick = (
            itemgetter(*self.names) if len(self.names) > 1 else lambda d: (d[self.names[0]],)
        )

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
        """Apply a book's events in time order; with ``until``, only those dated before it.

        Goes through the same handlers as ``apply``, without building a record per event.
        """
        limit = NEVER if until is None else day_number(until)
        # The state is millions of small objects that are never garbage: letting the cyclic
        # collector walk them again and again during a bulk load makes it quadratic.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for handler, args in book_event_calls(book, limit):
                getattr(self, handler)(*args)
                self.applied += 1
        finally:
            if collecting:
                gc.enable()
        self.refresh()
        return self

    def refresh(self) -> None:
        """Bring every customer's running sums up to date (they are otherwise refreshed on
        the first query after an update), so that answers after a bulk load are all fast."""
        for customer in self.customers.values():
            customer.refresh()

    def _on_customer_upsert(self, event: CustomerUpserted) -> None:
        created = None if event.created_date is None else day_number(event.created_date)
        self.upsert_customer(
            event.customer_id, event.segment, event.strategic, event.credit_limit, created
        )

    def _on_invoice_issued(self, event: InvoiceIssued) -> None:
        self.issue_invoice(
            event.invoice_id,
            event.customer_id,
            day_number(event.date),
            day_number(event.due_date),
            event.amount,
            event.order_id,
            event.paperless,
        )

    def _on_payment(self, event: PaymentReceived) -> None:
        self.receive_payment(event.invoice_id, day_number(event.date), event.amount)

    def _on_invoice_paid(self, event: InvoicePaid) -> None:
        self.settle_invoice(event.invoice_id, day_number(event.date))

    def _on_dispute_opened(self, event: DisputeOpened) -> None:
        self.open_dispute(event.dispute_id, event.invoice_id, day_number(event.date), event.reason)

    def _on_dispute_resolved(self, event: DisputeResolved) -> None:
        self.resolve_dispute(event.dispute_id, day_number(event.date))

    def _on_activity(self, event: ActivityLogged) -> None:
        promised = None if event.promised_date is None else day_number(event.promised_date)
        self.log_activity(
            event.customer_id,
            day_number(event.date),
            event.activity,
            event.invoice_id,
            event.order_id,
            promised,
        )

    # -- state updates (dates as day numbers since 1970-01-01) ----------------------------
    def upsert_customer(
        self,
        customer_id: str,
        segment: str | None,
        strategic: bool | None,
        credit_limit: float | None,
        created: int | None,
    ) -> None:
        state = self.customer(customer_id)
        state.version += 1
        state.segment = SEGMENT_CODE.get(segment) if segment else None
        state.strategic = strategic
        state.credit_limit = credit_limit
        state.created = created

    def issue_invoice(
        self,
        invoice_id: str,
        customer_id: str,
        issue: int,
        due: int,
        amount: float,
        order_id: str | None = None,
        paperless: bool | None = None,
    ) -> None:
        date = dt.date.fromordinal(issue + EPOCH_ORDINAL)
        due_date = dt.date.fromordinal(due + EPOCH_ORDINAL)
        last_day = calendar.monthrange(date.year, date.month)[1]
        invoice = InvoiceState(
            invoice_id=invoice_id,
            customer_id=customer_id,
            issue=issue,
            due=due,
            amount=float(amount),
            cents=round(float(amount) * 100),
            order_id=order_id,
            paperless=paperless,
            issue_month=date.month,
            due_day_of_month=due_date.day,
            due_month=due_date.month,
            month_end=date.day > last_day - MONTH_END_DAYS,
        )
        self.invoices[invoice_id] = invoice
        customer = self.customer(customer_id)
        customer.version += 1
        customer.add_issued(invoice)

    def receive_payment(self, invoice_id: str, day: int, amount: float) -> None:
        invoice = self.invoice(invoice_id)
        if day > invoice.paid:
            return  # the balance was already settled; a later payment cannot reduce it
        cents = round(float(amount) * 100)
        insort(invoice.payments, (day, cents))
        customer = self.customers[invoice.customer_id]
        customer.version += 1
        customer.add_payment(invoice, day, cents)

    def settle_invoice(self, invoice_id: str, day: int) -> None:
        invoice = self.invoice(invoice_id)
        invoice.paid = day
        customer = self.customers[invoice.customer_id]
        customer.version += 1
        customer.add_paid(invoice)
        for promiser, promised_on, promised_for in invoice.promises:
            promising_customer = self.customers[promiser]
            promising_customer.version += 1
            self._record_kept(promising_customer, invoice, promised_on, promised_for)

    def open_dispute(self, dispute_id: str, invoice_id: str, day: int, reason: str) -> None:
        invoice = self.invoice(invoice_id)
        code = REASON_CODE[reason]
        dispute = Dispute(dispute_id, invoice_id, day, code)
        self.disputes[dispute_id] = dispute
        invoice.disputes.append(dispute)
        one_hot = tuple(int(r == code) for r in range(len(DISPUTE_REASONS)))
        customer = self.customers[invoice.customer_id]
        customer.version += 1
        customer.opened.add(day, one_hot, dispute_id)

    def resolve_dispute(self, dispute_id: str, day: int) -> None:
        dispute = self.disputes[dispute_id]
        dispute.resolved = day
        customer = self.customers[self.invoices[dispute.invoice_id].customer_id]
        customer.version += 1
        insort(customer.resolved_days, day)

    def log_activity(
        self,
        customer_id: str,
        day: int,
        kind: str,
        invoice_id: str | None = None,
        order_id: str | None = None,
        promised: int | None = None,
    ) -> None:
        customer = self.customer(customer_id)
        customer.version += 1
        customer.add_activity(kind, day)
        invoice = self.invoices.get(invoice_id) if invoice_id else None
        if kind in PROBLEM_KINDS:
            if invoice is not None:
                invoice.problems[kind] = min(invoice.problems.get(kind, NEVER), day)
            if order_id is not None:
                key = (kind, order_id)
                customer.order_problems[key] = min(customer.order_problems.get(key, NEVER), day)
        if kind == "promise_to_pay" and invoice is not None and promised is not None:
            invoice.promises.append((customer_id, day, promised))
            self._record_kept(customer, invoice, day, promised)

    @staticmethod
    def _record_kept(
        customer: CustomerState, invoice: InvoiceState, promised_on: int, promised_for: int
    ) -> None:
        if invoice.paid != NEVER and invoice.paid <= promised_for:
            customer.add_activity("kept_promise", max(promised_on, invoice.paid))

    # -- answer -------------------------------------------------------------------------
    def values(self, invoice_id: str, as_of: object) -> dict[str, float]:
        """Feature values of one invoice at ``as_of``, by name, in feature-set order."""
        return dict(zip(self.names, self._answer(invoice_id, as_of), strict=True))

    def vector(self, invoice_id: str, as_of: object) -> np.ndarray:
        """Feature vector (float64, feature-set order) of one invoice at ``as_of``."""
        return np.array(self._answer(invoice_id, as_of), dtype=np.float64)

    def _answer(self, invoice_id: str, as_of: object) -> tuple[float, ...]:
        invoice = self.invoice(invoice_id)
        t = day_number(as_of)
        if t < invoice.issue:
            raise ValueError(
                f"invoice {invoice_id!r} is scored at {as_of}, before its issue date; "
                "use a date on or after it"
            )
        customer = self.customers[invoice.customer_id]
        everything = dict(self._customer_answer(customer, t))
        for family in self._invoice_families:
            family(customer, invoice, t, everything)
        return tuple(map(float, self._pick(everything)))

    def _customer_answer(self, customer: CustomerState, t: int) -> dict[str, float]:
        """The customer-level features at ``t``, kept until the customer's state changes."""
        cached = customer.answer
        if cached is not None and cached[0] == t and cached[1] == customer.version:
            return cached[2]
        values: dict[str, float] = {}
        for family in self._customer_families:
            family(customer, None, t, values)
        customer.answer = (t, customer.version, values)
        return values
