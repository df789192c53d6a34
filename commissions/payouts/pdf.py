"""PDF statements and invoices, laid out by ReportLab (platypus): what a partner downloads and finance files."""

import io
from collections import defaultdict
from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.money import quantize

from . import selectors
from .exports import amount_due
from .models import PayoutStatement

MAX_DETAIL_ROWS = 500  # a statement with more entries lists them by kind and brand; the CSV has every one

_TABLE = TableStyle([
    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
    ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
    ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
    ("FONTSIZE", (0, 0), (-1, -1), 8),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
])  # fmt: skip


def _p(text: str, style) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _title(statement: PayoutStatement) -> str:
    where = statement.brand.name if statement.brand_id else "all brands"
    return f"Payout statement #{statement.pk}, {statement.period} ({where})"


def _build(flowables, title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, title=title, author=settings.PDF_ISSUER, leftMargin=18 * mm, rightMargin=18 * mm,
        topMargin=16 * mm, bottomMargin=16 * mm,
    )  # fmt: skip
    doc.build(flowables)
    return buffer.getvalue()


def statement_pdf(statement: PayoutStatement) -> bytes:
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10)
    ccy = statement.currency
    a = statement.affiliate

    def m(amount: Decimal, currency: str = ccy) -> str:
        return f"{quantize(amount, currency)} {currency}"

    flow = [_p(_title(statement), styles["Title"])]
    flow.append(_p(f"Issued by {settings.PDF_ISSUER}", body))
    flow.append(_p(f"Affiliate: {a.name} (#{a.pk})" + (f", {a.company}" if a.company else ""), body))
    flow.append(_p(f"Period: {statement.period_start.isoformat()} to {statement.period_end.isoformat()}", body))
    flow.append(_p(f"Status: {statement.get_status_display()}", body))
    flow.append(Spacer(1, 4 * mm))
    vat, due = amount_due(statement)
    summary = [["", "Amount"], ["Approved entries", m(statement.entries_total)]]
    if statement.carried_in:
        summary.append([f"Carried from statement #{statement.carried_from_id}", m(statement.carried_in)])
    for adjustment in statement.adjustments.all():
        summary.append([f"Adjustment: {adjustment.reason}", m(adjustment.amount)])
    summary.append(["Total", m(statement.total)])
    if statement.carry_out:
        summary.append(["Carried into the next statement", m(statement.carry_out)])
    if statement.written_off:
        summary.append(["Negative balance reset to zero", m(statement.written_off)])
    summary.append(["Amount payable", m(statement.amount)])
    if vat:
        summary.append([f"VAT {statement.invoice.vat_rate}%", m(vat)])
        summary.append(["Amount due (invoice gross)", m(due)])
    flow.append(Table([[_p(c, small) if i == 0 else c for i, c in enumerate(row)] for row in summary],
                      colWidths=[120 * mm, 50 * mm], style=_TABLE))  # fmt: skip
    for row in statement.fx_rates or []:
        if row["currency"] != ccy:
            flow.append(_p(
                f"FX: {row['amount']} {row['currency']} at {row['rate']} {ccy}/{row['currency']} "
                f"(rate of {row['rate_date']}) = {row['converted']} {ccy}", small,
            ))  # fmt: skip
    if statement.status == "paid":
        flow.append(Spacer(1, 3 * mm))
        flow.append(_p(
            f"Paid on {statement.paid_on.isoformat()} by {statement.payment_method}, reference "
            f"{statement.payment_reference}", body,
        ))  # fmt: skip
    invoice = getattr(statement, "invoice", None)
    if invoice is not None:
        flow.append(_p(f"Invoice {invoice.number}" + (" (void)" if invoice.voided_at else ""), body))
    flow.append(Spacer(1, 5 * mm))
    flow.append(_p("Entries", styles["Heading3"]))
    lines = list(selectors.statement_lines(statement)[: MAX_DETAIL_ROWS + 1])
    if len(lines) <= MAX_DETAIL_ROWS:
        rows = [["#", "Kind", "Period", "Explanation", "Amount"]]
        for line in lines:
            e = line.entry
            rows.append([str(e.pk), line.kind, e.period, _p(e.explanation, small), m(line.amount, line.currency)])
        widths = [14 * mm, 20 * mm, 16 * mm, 94 * mm, 30 * mm]
    else:
        sums: dict = defaultdict(lambda: [0, Decimal(0)])
        for kind, brand, currency, amount in statement.lines.filter(live=True).values_list(
            "kind", "entry__brand__slug", "currency", "amount"
        ):
            sums[(kind, brand, currency)][0] += 1
            sums[(kind, brand, currency)][1] += amount
        rows = [["Kind", "Brand", "Entries", "Amount"]]
        rows += [[k, b, str(n), m(total, c)] for (k, b, c), (n, total) in sorted(sums.items())]
        widths = [40 * mm, 60 * mm, 30 * mm, 44 * mm]
    flow.append(Table(rows, colWidths=widths, style=_TABLE, repeatRows=1))
    return _build(flow, _title(statement))


def invoice_pdf(statement: PayoutStatement) -> bytes:
    invoice = statement.invoice
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    ccy = invoice.currency
    a = statement.affiliate
    flow = [_p(f"Invoice {invoice.number}" + (" (VOID)" if invoice.voided_at else ""), styles["Title"])]
    flow.append(_p(f"From: {invoice.billed_by}" + (f", VAT number {invoice.vat_number}" if invoice.vat_number else ""),
                   body))  # fmt: skip
    flow.append(_p(f"To: {settings.PDF_ISSUER}" + (f" ({statement.brand.name})" if statement.brand_id else ""), body))
    flow.append(_p(f"Date: {invoice.issued_on.isoformat()}", body))
    flow.append(_p(f"Affiliate commission for {statement.period} (statement #{statement.pk}), affiliate #{a.pk}",
                   body))  # fmt: skip
    flow.append(Spacer(1, 4 * mm))
    rows = [
        ["", "Amount"], ["Net", f"{quantize(invoice.net, ccy)} {ccy}"],
        [f"VAT {invoice.vat_rate}%", f"{quantize(invoice.vat_amount, ccy)} {ccy}"],
        ["Total", f"{quantize(invoice.gross, ccy)} {ccy}"],
    ]  # fmt: skip
    flow.append(Table(rows, colWidths=[120 * mm, 50 * mm], style=_TABLE))
    if invoice.voided_at:
        flow.append(_p(f"Void: {invoice.void_reason}", body))
    return _build(flow, f"Invoice {invoice.number}")
