"""Factories for payout tests: ledger entries booked directly (approved, in a given month) and FX rates."""

import datetime as dt
from decimal import Decimal

import factory

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from integrations.models import FxRate

UTC = dt.UTC


class EntryFactory(factory.django.DjangoModelFactory):
    """An approved ledger entry (CPA by default) of 150.00 EUR on 2026-10-15 noon UTC."""

    class Meta:
        model = CommissionEntry

    slot = factory.Sequence(lambda n: f"test:{n}")
    seq = 0
    kind = EntryKind.CPA
    status = EntryStatus.APPROVED
    affiliate = factory.SubFactory(AffiliateFactory)
    brand = factory.SubFactory(BrandFactory)
    amount = Decimal("150.00")
    currency = "EUR"
    occurred_at = dt.datetime(2026, 10, 15, 12, tzinfo=UTC)
    period = factory.LazyAttribute(lambda e: e.occurred_at.strftime("%Y-%m"))
    explanation = factory.LazyAttribute(lambda e: f"{e.kind} {e.amount} {e.currency} (test entry)")


def fx(currency: str, rate: str, day: dt.date) -> FxRate:
    """Units of the base currency (EUR) per 1 `currency` on `day`."""
    return FxRate.objects.create(currency=currency, rate=Decimal(rate), date=day)
