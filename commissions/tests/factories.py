"""Factories and a small world builder for commission tests: a brand, a source, a deal assigned to an
affiliate, and helpers that create canonical events and run the task ingestion would run."""

import datetime as dt
from decimal import Decimal

import factory

from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from commissions.models import AffiliateDayTotal, BrandRevenueRule, ReviewPolicy
from commissions.tasks import process_event
from integrations.tests.factories import SourceFactory
from tracking.choices import EventStatus
from tracking.tests.factories import ConversionEventFactory, CustomerFactory

UTC = dt.UTC


def at(day: str, hour: int = 12) -> dt.datetime:
    """A UTC moment on an ISO day (noon by default, clear of any month boundary in Europe)."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


class BrandRevenueRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrandRevenueRule

    brand = factory.SubFactory(BrandFactory)
    tax_factor = Decimal("0.82")


class World:
    """One brand with one deal, assigned to `self.affiliate` (or as the default with default=True)."""

    def __init__(self, terms: dict, *, tz: str = "Europe/Malta", default: bool = False, overrides=None, **aff):
        self.brand = BrandFactory(timezone=tz)
        self.source = SourceFactory(brand=self.brand)
        self.deal = DealFactory(brand=self.brand, terms=terms)
        self.affiliate = AffiliateFactory(**aff)
        DealAssignmentFactory(deal=self.deal, affiliate=None if default else self.affiliate, overrides=overrides or {})

    def assign(self, affiliate, **overrides):
        return DealAssignmentFactory(deal=self.deal, affiliate=affiliate, overrides=overrides)

    def customer(self, *, affiliate=None, country: str = "DE", registered: str = "2026-11-01"):
        return CustomerFactory(
            brand=self.brand, affiliate=affiliate or self.affiliate, country=country, registered_at=at(registered, 9)
        )

    def event(self, customer, type: str, amount=None, *, on: str, status=EventStatus.QUALIFIED, data=None,
              ref=None, currency=None, run: bool = True, **extra):  # fmt: skip
        amount = None if amount is None else Decimal(amount)
        event = ConversionEventFactory(
            customer=customer, source=extra.pop("source", self.source), type=type, amount=amount,
            amount_base=amount, currency=currency or self.deal.current.currency if amount is not None else "",
            occurred_at=at(on), status=status, data=data or {}, ref_event=ref,
            ref_external_id=ref.external_id if ref else "", **extra,
        )  # fmt: skip
        if run:
            process_event(event.pk)
        return event


class ReviewPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewPolicy

    brand = factory.SubFactory(BrandFactory)


def day_totals(affiliate, brand, *, last_day: str, days: int, total: str, entries: int = 1, currency: str = "EUR"):
    """`days` days of booked history ending on `last_day`, `total` and `entries` each day."""
    end = dt.date.fromisoformat(last_day)
    return AffiliateDayTotal.objects.bulk_create(
        AffiliateDayTotal(affiliate=affiliate, brand=brand, currency=currency, day=end - dt.timedelta(days=n),
                          total=Decimal(total), entries=entries)
        for n in range(days)
    )  # fmt: skip
