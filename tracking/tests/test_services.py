from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking.choices import AttributionMethod
from tracking.models import CustomerReassignment, PromoCode
from tracking.services import customer_reassign, promo_code_create, tracking_link_create
from tracking.tests.factories import ClickFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_reassign_moves_customer_and_keeps_the_previous_attribution_in_the_audit(django_user_model):
    manager = django_user_model.objects.create(username="anna", is_staff=True)
    click = ClickFactory(sub1="fb")
    customer = CustomerFactory(
        brand=click.brand, affiliate=click.affiliate, click=click, link=click.link, sub1="fb",
        attribution_method=AttributionMethod.CLICK_ID,
    )  # fmt: skip
    new = AffiliateFactory()

    with mock.patch("tracking.services.outbox_publish") as publish:
        customer_reassign(customer=customer, affiliate=new, reason="  Proven by CRM notes  ", by=manager)

    customer.refresh_from_db()
    assert customer.affiliate == new
    assert customer.attribution_method == AttributionMethod.MANUAL
    assert (customer.click, customer.link, customer.sub1) == (None, None, "")
    audit = CustomerReassignment.objects.get()
    assert (audit.from_affiliate, audit.to_affiliate, audit.changed_by) == (click.affiliate, new, manager)
    assert audit.reason == "Proven by CRM notes"
    assert audit.previous["click_id"] == click.click_id and audit.previous["sub1"] == "fb"
    assert publish.call_args.kwargs["type"] == "customer.attributed"
    assert publish.call_args.kwargs["data"]["attribution_method"] == "manual"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_reassign_needs_a_reason(reason):
    customer = CustomerFactory()

    with pytest.raises(ValidationError):
        customer_reassign(customer=customer, affiliate=AffiliateFactory(), reason=reason, by=None)

    assert not CustomerReassignment.objects.exists()


def test_reassign_to_the_same_affiliate_is_refused():
    customer = CustomerFactory()

    with pytest.raises(ValidationError):
        customer_reassign(customer=customer, affiliate=customer.affiliate, reason="why", by=None)


def test_unattributed_customer_can_be_assigned_manually():
    customer = CustomerFactory(affiliate=None, attribution_method=AttributionMethod.NONE)

    customer_reassign(customer=customer, affiliate=(new := AffiliateFactory()), reason="Late paperwork", by=None)

    assert CustomerReassignment.objects.get().from_affiliate is None
    customer.refresh_from_db()
    assert customer.affiliate == new


def test_promo_codes_are_unique_per_brand_regardless_of_case():
    brand = BrandFactory()
    promo_code_create(brand=brand, affiliate=AffiliateFactory(), code="Welcome")

    with pytest.raises(ValidationError):
        promo_code_create(brand=brand, affiliate=AffiliateFactory(), code="WELCOME")
    promo_code_create(brand=BrandFactory(), affiliate=AffiliateFactory(), code="WELCOME")

    assert PromoCode.objects.count() == 2


@pytest.mark.parametrize("code", ["", "  ", "x" * 61, "bad\ncode"])
def test_malformed_promo_codes_are_refused(code):
    with pytest.raises(ValidationError):
        promo_code_create(brand=BrandFactory(), affiliate=AffiliateFactory(), code=code)


def test_link_tokens_are_unguessable_and_distinct():
    brand, affiliate = BrandFactory(), AffiliateFactory()

    tokens = {
        tracking_link_create(affiliate=affiliate, brand=brand, landing_url="https://a.example/").token
        for _ in range(20)
    }

    assert len(tokens) == 20
    assert all(len(t) == 22 for t in tokens)
