"""Payout statements: the partner's approved and paid statements (drafts and cancelled ones are finance's
own), each with its PDF. Reads go through the payouts app's selectors and its PDF export."""

from django.shortcuts import get_object_or_404, render

from commissions.payouts import selectors as payouts
from commissions.payouts.api.files import statement_pdf_response

from ..access import partner_required


@partner_required
def statements(request):
    rows = payouts.partner_statements(affiliate_id=request.affiliate.pk).order_by("-period_start", "-pk")
    return render(request, "portal/statements.html", {"statements": rows})


@partner_required
def statement_pdf(request, pk: int):
    statement = get_object_or_404(payouts.partner_statements(affiliate_id=request.affiliate.pk), pk=pk)
    return statement_pdf_response(statement)
