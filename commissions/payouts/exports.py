"""CSV exports: a period's statements (one row per statement, ready for a bank or a mass-payout file) and the
entries behind one statement (with the carry and the adjustments, so the rows add up to the total)."""

import csv
import io
from decimal import Decimal

from core.money import quantize

from . import selectors
from .models import PayoutStatement

STATEMENT_COLUMNS = [
    "statement_id", "affiliate_id", "affiliate_name", "company", "email", "brand", "period", "period_start",
    "period_end", "status", "currency", "amount", "vat_amount", "amount_due", "invoice_number", "payment_method",
    "iban", "swift", "account_holder", "wallet", "payment_details", "payment_reference", "paid_on",
]  # fmt: skip
ENTRY_COLUMNS = [
    "row", "entry_id", "kind", "brand", "customer", "activity_period", "occurred_at", "amount", "currency", "fx_rate",
    "amount_in_payout_currency", "payout_currency", "explanation",
]  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str:
    """A text cell a spreadsheet never runs as a formula (names and references come from people)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _details(details: dict, *names: str) -> str:
    for name in names:
        for key, value in (details or {}).items():
            if key.lower() == name and value not in (None, ""):
                return str(value)
    return ""


def amount_due(statement: PayoutStatement) -> tuple[Decimal, Decimal]:
    """(VAT, amount to transfer): the invoice's gross where the affiliate invoices, else the statement amount."""
    invoice = getattr(statement, "invoice", None)
    if invoice is not None and invoice.voided_at is None:
        return invoice.vat_amount, invoice.gross
    return Decimal(0), statement.amount


def statements_csv(statements) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STATEMENT_COLUMNS)
    for s in statements:
        ccy = s.currency
        vat, due = amount_due(s)
        a = s.affiliate
        details = a.payment_details if isinstance(a.payment_details, dict) else {}
        invoice = getattr(s, "invoice", None)
        writer.writerow([
            s.pk, a.pk, _text(a.name), _text(a.company), _text(a.email), s.brand.slug if s.brand_id else "all",
            s.period, s.period_start.isoformat(), s.period_end.isoformat(), s.status, ccy, quantize(s.amount, ccy),
            quantize(vat, ccy), quantize(due, ccy), invoice.number if invoice else "",
            s.payment_method or a.payment_method,
            _text(_details(details, "iban")), _text(_details(details, "swift", "bic")),
            _text(_details(details, "account_holder", "holder", "name", "beneficiary")),
            _text(_details(details, "wallet", "address", "email")),
            _text(";".join(f"{k}={v}" for k, v in sorted(details.items()))), _text(s.payment_reference),
            s.paid_on.isoformat() if s.paid_on else "",
        ])  # fmt: skip
    return out.getvalue()


def entries_csv(statement: PayoutStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ENTRY_COLUMNS)
    ccy = statement.currency
    rates = {row["currency"]: Decimal(row["rate"]) for row in statement.fx_rates or []}
    n = 0
    for line in selectors.statement_lines(statement):
        n += 1
        e = line.entry
        rate = rates.get(line.currency, Decimal(1))
        writer.writerow([
            n, e.pk, line.kind, e.brand.slug, e.customer.external_id if e.customer_id else "", e.period,
            e.occurred_at.isoformat(), quantize(line.amount, line.currency), line.currency, rate,
            quantize(line.amount * rate, ccy), ccy, _text(e.explanation),
        ])  # fmt: skip
    if statement.carried_in:
        n += 1
        origin = statement.carried_from
        writer.writerow([
            n, "", "carried_in", "", "", origin.period if origin else "", "", quantize(statement.carried_in, ccy), ccy,
            1, quantize(statement.carried_in, ccy), ccy, f"Balance carried from statement #{statement.carried_from_id}",
        ])  # fmt: skip
    for adjustment in statement.adjustments.all():
        n += 1
        writer.writerow([
            n, "", "manual_adjustment", "", "", "", adjustment.created_at.isoformat(),
            quantize(adjustment.amount, ccy), ccy, 1, quantize(adjustment.amount, ccy), ccy, _text(adjustment.reason),
        ])  # fmt: skip
    return out.getvalue()
