"""File answers shared by the management and partner APIs."""

from django.http import HttpResponse

from .. import exports, pdf
from ..models import PayoutStatement


def _attachment(body, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _name(statement: PayoutStatement) -> str:
    return f"statement-{statement.pk}-{statement.period.replace('..', '_')}"


def statement_pdf_response(statement: PayoutStatement) -> HttpResponse:
    return _attachment(pdf.statement_pdf(statement), "application/pdf", f"{_name(statement)}.pdf")


def invoice_pdf_response(statement: PayoutStatement) -> HttpResponse:
    return _attachment(pdf.invoice_pdf(statement), "application/pdf", f"invoice-{statement.invoice.number}.pdf")


def entries_csv_response(statement: PayoutStatement) -> HttpResponse:
    return _attachment(exports.entries_csv(statement), "text/csv; charset=utf-8", f"{_name(statement)}-entries.csv")


def statements_csv_response(statements, period: str) -> HttpResponse:
    return _attachment(
        exports.statements_csv(statements), "text/csv; charset=utf-8", f"payouts-{period.replace('..', '_')}.csv"
    )
