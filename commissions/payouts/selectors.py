"""Reads of the payouts app."""

from django.db.models import Count, Q, QuerySet

from .choices import StatementStatus
from .models import PayoutStatement

# What a partner sees: statements finance has approved (and paid); drafts and cancelled ones are internal.
PARTNER_STATUSES = (StatementStatus.APPROVED, StatementStatus.PAID)


def payout_statements() -> QuerySet[PayoutStatement]:
    """Statements with what a list shows: affiliate, brand, invoice, adjustments and the number of entries."""
    return (
        PayoutStatement.objects.select_related("affiliate", "brand", "invoice")
        .prefetch_related("adjustments")
        .annotate(entry_count=Count("lines", filter=Q(lines__live=True)))
    )


def partner_statements(*, affiliate_id: int) -> QuerySet[PayoutStatement]:
    return payout_statements().filter(affiliate_id=affiliate_id, status__in=PARTNER_STATUSES)


def statement_lines(statement: PayoutStatement):
    return statement.lines.filter(live=True).select_related("entry", "entry__brand", "entry__customer").order_by("pk")


def period_statements(*, period: str, status: str | None = StatementStatus.APPROVED, brand_id: int | None = None):
    rows = payout_statements().filter(period=period).order_by("affiliate_id", "brand_id", "pk")
    if status:
        rows = rows.filter(status=status)
    if brand_id:
        rows = rows.filter(brand_id=brand_id)
    return rows
