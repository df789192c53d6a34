"""Ledger rows for partner API tests, written directly so each amount and status is exactly as given."""

import datetime as dt
from decimal import Decimal

import factory

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry


def at(day: str, hour: int = 12) -> dt.datetime:
    """A UTC moment on an ISO day."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


class CommissionEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommissionEntry

    slot = factory.Sequence(lambda n: f"test:{n}")
    kind = EntryKind.CPA
    status = EntryStatus.APPROVED
    affiliate = factory.SubFactory(AffiliateFactory)
    brand = factory.SubFactory(BrandFactory)
    amount = Decimal("200.00")
    currency = "EUR"
    period = factory.LazyAttribute(lambda e: e.occurred_at.strftime("%Y-%m"))
    occurred_at = factory.LazyFunction(lambda: at("2026-11-02"))
    explanation = factory.LazyAttribute(lambda e: f"{e.kind} {e.amount} {e.currency}")
