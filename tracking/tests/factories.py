import datetime as dt
import secrets
from decimal import Decimal

import factory
from django.utils import timezone

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from integrations.tests.factories import SourceFactory
from tracking.choices import AttributionMethod, EventStatus, EventType
from tracking.models import Click, ConversionEvent, Customer, PromoCode, TrackingLink


class TrackingLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackingLink

    token = factory.LazyFunction(lambda: secrets.token_urlsafe(16))
    affiliate = factory.SubFactory(AffiliateFactory)
    brand = factory.SubFactory(BrandFactory)
    landing_url = "https://casino.example.com/welcome?lang=en"


class PromoCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromoCode

    brand = factory.SubFactory(BrandFactory)
    affiliate = factory.SubFactory(AffiliateFactory)
    code = factory.Sequence(lambda n: f"PROMO{n}")


class ClickFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Click

    click_id = factory.LazyFunction(lambda: secrets.token_hex(16))
    link = factory.SubFactory(TrackingLinkFactory)
    affiliate = factory.SelfAttribute("link.affiliate")
    brand = factory.SelfAttribute("link.brand")
    created_at = factory.LazyFunction(timezone.now)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    brand = factory.SubFactory(BrandFactory)
    external_id = factory.Sequence(lambda n: f"P-{1000 + n}")
    affiliate = factory.SubFactory(AffiliateFactory)
    attribution_method = AttributionMethod.AFFILIATE_ID
    country = "DE"
    registered_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    attributed_at = factory.SelfAttribute("registered_at")


class ConversionEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConversionEvent

    customer = factory.SubFactory(CustomerFactory)
    brand = factory.SelfAttribute("customer.brand")
    affiliate = factory.SelfAttribute("customer.affiliate")
    source = factory.SubFactory(SourceFactory, brand=factory.SelfAttribute("..brand"))
    external_id = factory.Sequence(lambda n: f"E-{n}")
    type = EventType.DEPOSIT
    status = EventStatus.QUALIFIED
    amount = Decimal("50.00")
    currency = "EUR"
    amount_base = factory.SelfAttribute("amount")
    fx_rate = Decimal("1")
    fx_date = factory.LazyAttribute(lambda e: e.occurred_at.date())
    occurred_at = factory.LazyFunction(timezone.now)
