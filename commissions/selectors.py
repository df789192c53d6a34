"""Reads of the commissions app."""

from decimal import Decimal

from django.db.models import QuerySet

from . import ledger
from .models import CommissionEntry


def commission_entries(*, affiliate_id: int | None = None) -> QuerySet[CommissionEntry]:
    rows = CommissionEntry.objects.select_related("affiliate", "brand", "deal_version", "customer")
    if affiliate_id is not None:
        rows = rows.filter(affiliate_id=affiliate_id)
    return rows


def affiliate_balance(*, affiliate_id: int, currency: str | None = None) -> dict[str, Decimal]:
    """The balance per currency: the sum of the affiliate's entries (rejected entries never count)."""
    return ledger.balance(affiliate_id=affiliate_id, currency=currency)
