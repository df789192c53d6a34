"""Portal fixtures: partners with a login, and a second partner with rows of every kind for isolation tests."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryKind, EntryStatus
from integrations.webhooks.tests.factories import PartnerPostbackFactory
from tracking.choices import EventType
from tracking.redirect import link_cache_forget
from tracking.tests.factories import (
    ClickFactory,
    ConversionEventFactory,
    CustomerFactory,
    PromoCodeFactory,
    TrackingLinkFactory,
)

from .factories import CommissionEntryFactory

PASSWORD = "a-long-partner-password"


@pytest.fixture(autouse=True)
def _fresh_link_cache():
    link_cache_forget()
    yield
    link_cache_forget()


def make_partner(username: str, **fields):
    user = get_user_model().objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD)
    affiliate = AffiliateFactory(user=user, email=f"{username}@example.com", **fields)
    return user, affiliate


@dataclass
class World:
    """One partner's rows of every kind the portal shows."""

    user: object
    affiliate: object
    brand: object
    link: object
    click: object
    customer: object
    ftd: object
    entry: object
    postback: object
    promo: object


def make_world(username: str, brand=None) -> World:
    user, affiliate = make_partner(username)
    brand = brand or BrandFactory(slug="lucky", name="Lucky Casino")
    now = timezone.now()
    link = TrackingLinkFactory(affiliate=affiliate, brand=brand, name=f"{username} banner")
    click = ClickFactory(link=link, created_at=now - dt.timedelta(hours=3), sub1="spring")
    registered = now - dt.timedelta(hours=2)
    customer = CustomerFactory(
        affiliate=affiliate, brand=brand, link=link, click=click, sub1="spring", registered_at=registered
    )
    ftd = ConversionEventFactory(
        customer=customer, type=EventType.FTD, amount=Decimal("50.00"), occurred_at=now - dt.timedelta(hours=1)
    )
    entry = CommissionEntryFactory(
        affiliate=affiliate,
        brand=brand,
        customer=customer,
        kind=EntryKind.CPA,
        status=EntryStatus.ON_HOLD,
        amount=Decimal("200.00"),
        occurred_at=now - dt.timedelta(hours=1),
        hold_until=now + dt.timedelta(days=30),
        explanation="CPA 200.00 EUR: FTD 50.00 EUR ≥ 20.00 minimum, hold 30 days",
    )
    postback = PartnerPostbackFactory(affiliate=affiliate)
    promo = PromoCodeFactory(affiliate=affiliate, brand=brand)
    return World(user, affiliate, brand, link, click, customer, ftd, entry, postback, promo)


@pytest.fixture
def world(db):
    return make_world("alice")


@pytest.fixture
def other(db, world):
    return make_world("bob", brand=world.brand)


@pytest.fixture
def portal(client, world):
    """A client logged in as the first partner."""
    client.force_login(world.user)
    return client
