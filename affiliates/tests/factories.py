import datetime as dt
from decimal import Decimal

import factory

from affiliates import services
from affiliates.choices import AffiliateStatus, DealKind, Vertical
from affiliates.models import Affiliate, Brand, Deal, DealAssignment

CPA_TERMS = {
    "kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30,
    "qualification": {"min_ftd": "20.00", "min_deposits": "50.00", "window_days": 30},
}  # fmt: skip


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.LazyAttribute(lambda b: b.slug.replace("-", " ").title())
    vertical = Vertical.CASINO
    currency = "EUR"
    timezone = "Europe/Malta"


class AffiliateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Affiliate

    name = factory.Faker("company")
    email = factory.Sequence(lambda n: f"partner{n}@example.com")
    status = AffiliateStatus.ACTIVE
    country = "DE"
    payout_threshold = Decimal("100.00")


class DealFactory(factory.django.DjangoModelFactory):
    """A deal made through the service, so it always has a valid first version."""

    class Meta:
        model = Deal

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    terms = factory.LazyFunction(lambda: dict(CPA_TERMS))
    effective_from = dt.date(2020, 1, 1)

    @classmethod
    def _create(cls, model_class, brand, name, terms, effective_from, **kwargs):
        return services.deal_create(brand=brand, terms={"name": name, **terms}, effective_from=effective_from)


class DealAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealAssignment

    deal = factory.SubFactory(DealFactory)
    affiliate = factory.SubFactory(AffiliateFactory)
    valid_from = dt.date(2020, 1, 1)
    valid_to = None
    overrides = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class, **kwargs):
        return services.deal_assignment_create(**kwargs)
