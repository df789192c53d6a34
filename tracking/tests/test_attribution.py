import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection

from affiliates.choices import AffiliateStatus
from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking.attribution import CustomerClaim, clean_sub_id, customer_resolve, customers_resolve
from tracking.choices import AttributionMethod
from tracking.models import AttributionConflict, Customer
from tracking.tests.factories import ClickFactory, CustomerFactory, PromoCodeFactory, TrackingLinkFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def brand():
    return BrandFactory(slug="lucky", attribution_window_days=30)


def resolve(brand, hints, external_id="P-1", **kwargs):
    kwargs.setdefault("occurred_at", NOW)
    return customer_resolve(brand=brand, external_id=external_id, hints=hints, **kwargs)


def test_click_id_attributes_customer_with_click_sub_ids_and_link(brand):
    click = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(days=2), sub1="fb", sub3="adset-9")

    customer = resolve(brand, {"click_id": click.click_id, "sub1": "ignored-because-click-wins"})

    assert customer.affiliate == click.affiliate
    assert customer.attribution_method == AttributionMethod.CLICK_ID
    assert customer.click == click
    assert customer.link == click.link
    assert (customer.sub1, customer.sub2, customer.sub3) == ("fb", "", "adset-9")
    assert customer.attributed_at == NOW


def test_tracking_token_attributes_with_sub_ids_from_hints(brand):
    link = TrackingLinkFactory(brand=brand)

    customer = resolve(brand, {"tracking_token": link.token, "sub2": "email\x00-campaign", "sub5": "x" * 400})

    assert customer.affiliate == link.affiliate
    assert customer.attribution_method == AttributionMethod.TRACKING_TOKEN
    assert customer.link == link and customer.click is None
    assert customer.sub2 == "email-campaign"
    assert customer.sub5 == "x" * 255


def test_affiliate_id_attributes_customer(brand):
    affiliate = AffiliateFactory()

    customer = resolve(brand, {"affiliate_id": str(affiliate.pk)})

    assert customer.affiliate == affiliate
    assert customer.attribution_method == AttributionMethod.AFFILIATE_ID
    assert customer.link is None and customer.promo_code is None


def test_promo_code_matches_case_insensitively(brand):
    promo = PromoCodeFactory(brand=brand, code="Welcome100")

    customer = resolve(brand, {"promo_code": "wELCOME100"})

    assert customer.affiliate == promo.affiliate
    assert customer.attribution_method == AttributionMethod.PROMO_CODE
    assert customer.promo_code == promo


def test_first_resolving_hint_wins_in_contract_order(brand):
    click = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(hours=1))
    link = TrackingLinkFactory(brand=brand)
    promo = PromoCodeFactory(brand=brand)

    customer = resolve(
        brand,
        {"click_id": click.click_id, "tracking_token": link.token, "affiliate_id": "1", "promo_code": promo.code},
    )

    assert customer.attribution_method == AttributionMethod.CLICK_ID
    assert customer.affiliate == click.affiliate


def test_unresolvable_hints_are_skipped_until_one_resolves(brand):
    other_brand_click = ClickFactory(created_at=NOW - dt.timedelta(hours=1))
    inactive_link = TrackingLinkFactory(brand=brand, is_active=False)
    promo = PromoCodeFactory(brand=brand)

    customer = resolve(
        brand,
        {
            "click_id": other_brand_click.click_id,
            "tracking_token": inactive_link.token,
            "affiliate_id": "999999999",
            "promo_code": promo.code,
        },
    )

    assert customer.attribution_method == AttributionMethod.PROMO_CODE
    assert customer.affiliate == promo.affiliate


def test_click_older_than_brand_window_does_not_attribute(brand):
    old = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(days=30, seconds=1))

    customer = resolve(brand, {"click_id": old.click_id})

    assert customer.affiliate is None
    assert customer.attribution_method == AttributionMethod.NONE


def test_click_on_the_window_edge_attributes(brand):
    edge = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(days=30))

    assert resolve(brand, {"click_id": edge.click_id}).affiliate == edge.affiliate


def test_window_is_per_brand():
    short = BrandFactory(slug="short", attribution_window_days=7)
    click = ClickFactory(link__brand=short, created_at=NOW - dt.timedelta(days=8))

    assert resolve(short, {"click_id": click.click_id}).affiliate is None


def test_click_long_after_event_does_not_attribute(brand):
    later = ClickFactory(link__brand=brand, created_at=NOW + dt.timedelta(hours=1))

    assert resolve(brand, {"click_id": later.click_id}).affiliate is None


def test_empty_and_missing_hints_leave_customer_unattributed(brand):
    customer = resolve(brand, {"click_id": "", "promo_code": "   ", "affiliate_id": None, "sub1": "s"})

    assert customer.affiliate is None
    assert customer.sub1 == ""
    assert Customer.objects.count() == 1


def test_malformed_hint_values_never_crash(brand):
    customer = resolve(
        brand,
        {"click_id": "x" * 5000, "tracking_token": ["a"], "affiliate_id": "1e9", "promo_code": {"a": 1}},
    )

    assert customer.affiliate is None


def test_first_touch_is_kept_and_later_hint_for_other_affiliate_is_recorded_once(brand):
    first = TrackingLinkFactory(brand=brand)
    rival = PromoCodeFactory(brand=brand)
    resolve(brand, {"tracking_token": first.token, "sub1": "a"})

    for _ in range(3):
        customer = resolve(brand, {"promo_code": rival.code, "sub1": "b"}, occurred_at=NOW + dt.timedelta(days=1))

    assert customer.affiliate == first.affiliate
    assert customer.attribution_method == AttributionMethod.TRACKING_TOKEN
    assert customer.sub1 == "a"
    assert customer.attributed_at == NOW
    conflict = AttributionConflict.objects.get()
    assert (conflict.method, conflict.value, conflict.claimed_affiliate) == (
        AttributionMethod.PROMO_CODE,
        rival.code,
        rival.affiliate,
    )


def test_later_hint_for_the_same_affiliate_is_no_conflict(brand):
    link = TrackingLinkFactory(brand=brand)
    resolve(brand, {"tracking_token": link.token})

    resolve(brand, {"affiliate_id": str(link.affiliate_id)})

    assert not AttributionConflict.objects.exists()


def test_each_conflicting_method_is_recorded(brand):
    resolve(brand, {"affiliate_id": str(AffiliateFactory().pk)})
    link = TrackingLinkFactory(brand=brand)
    promo = PromoCodeFactory(brand=brand)

    resolve(brand, {"tracking_token": link.token, "promo_code": promo.code})

    assert set(AttributionConflict.objects.values_list("method", flat=True)) == {"tracking_token", "promo_code"}


def test_unattributed_customer_is_attributed_by_a_later_event(brand):
    resolve(brand, {"promo_code": "UNKNOWN"})
    link = TrackingLinkFactory(brand=brand)

    customer = resolve(brand, {"tracking_token": link.token}, occurred_at=NOW + dt.timedelta(days=3))

    assert customer.affiliate == link.affiliate
    assert customer.first_event_at == NOW
    assert customer.attributed_at == NOW + dt.timedelta(days=3)


def test_suspended_affiliate_still_gets_the_customer(brand):
    link = TrackingLinkFactory(brand=brand, affiliate__status=AffiliateStatus.SUSPENDED)

    assert resolve(brand, {"tracking_token": link.token}).affiliate == link.affiliate


def test_registration_sets_registered_at_once_and_country_if_empty(brand):
    resolve(brand, {}, registration=True, country="de")
    customer = resolve(brand, {}, registration=True, country="FR", occurred_at=NOW + dt.timedelta(days=1))

    assert customer.registered_at == NOW
    assert customer.country == "DE"


def test_invalid_country_is_ignored_and_non_registration_leaves_registered_at_empty(brand):
    customer = resolve(brand, {}, country="Germany")

    assert customer.country == ""
    assert customer.registered_at is None
    assert customer.first_event_at == NOW


def test_earlier_event_arriving_late_moves_first_event_at_back(brand):
    resolve(brand, {})

    customer = resolve(brand, {}, occurred_at=NOW - dt.timedelta(hours=5))

    assert customer.first_event_at == NOW - dt.timedelta(hours=5)


def test_customers_are_per_brand(brand):
    other = BrandFactory(slug="other")

    a = resolve(brand, {})
    b = resolve(other, {})

    assert a.pk != b.pk


def test_attribution_is_announced_once_through_the_outbox(brand):
    link = TrackingLinkFactory(brand=brand)
    with mock.patch("tracking.attribution.outbox_publish_many") as publish:
        customer = resolve(brand, {"tracking_token": link.token, "sub1": "s1"})
        resolve(brand, {"tracking_token": link.token})

    [kwargs] = [item for call in publish.call_args_list for item in call.kwargs["items"]]
    assert kwargs["type"] == "customer.attributed"
    assert kwargs["affiliate_id"] == link.affiliate_id
    assert kwargs["brand_id"] == brand.pk
    assert kwargs["data"]["customer"] == customer.pk
    assert kwargs["data"]["sub1"] == "s1"
    assert kwargs["data"]["tracking_link"] == link.token


def test_a_batch_of_claims_resolves_as_the_claims_would_one_by_one_in_order(brand):
    click = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(days=1), sub1="fb")
    rival = TrackingLinkFactory(brand=brand)
    CustomerFactory(brand=brand, external_id="OLD", affiliate=rival.affiliate)

    def claim(external_id, hints, hours=0, **extra):
        at = NOW + dt.timedelta(hours=hours)
        return CustomerClaim(brand=brand, external_id=external_id, hints=hints, occurred_at=at, **extra)

    with mock.patch("tracking.attribution.outbox_publish_many") as publish:
        customers = customers_resolve(
            claims=[
                claim("NEW", {}, hours=1),
                claim("NEW", {"click_id": click.click_id}, hours=2, registration=True, country="de"),
                claim("NEW", {"tracking_token": rival.token}, hours=3),
                claim("NEW", {"tracking_token": rival.token}, hours=4),
                claim("OLD", {"click_id": click.click_id}, hours=-5),
            ]
        )

    new, old = customers[0], customers[4]
    assert customers[:4] == [new] * 4
    new.refresh_from_db()
    assert (new.affiliate, new.click, new.attributed_at) == (click.affiliate, click, NOW + dt.timedelta(hours=2))
    assert (new.sub1, new.country, new.registered_at) == ("fb", "DE", NOW + dt.timedelta(hours=2))
    assert new.first_event_at == NOW + dt.timedelta(hours=1)
    assert [(c.customer, c.method, c.claimed_affiliate) for c in AttributionConflict.objects.order_by("pk")] == [
        (new, AttributionMethod.TRACKING_TOKEN, rival.affiliate),
        (old, AttributionMethod.CLICK_ID, click.affiliate),
    ]
    old.refresh_from_db()
    assert old.affiliate == rival.affiliate and old.first_event_at == NOW - dt.timedelta(hours=5)
    [item] = [item for call in publish.call_args_list for item in call.kwargs["items"]]
    assert item["data"]["customer"] == new.pk and item["data"]["click_id"] == click.click_id


def test_a_batch_of_many_customers_takes_a_few_queries_not_a_few_per_customer(brand, django_assert_max_num_queries):
    clicks = [ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(hours=n)) for n in range(20)]
    claims = [
        CustomerClaim(brand=brand, external_id=f"P{n}", hints={"click_id": c.click_id}, occurred_at=NOW)
        for n, c in enumerate(clicks)
    ]
    with mock.patch("tracking.attribution.outbox_publish_many"), django_assert_max_num_queries(10):
        customers = customers_resolve(claims=claims)
    assert [c.affiliate_id for c in customers] == [c.affiliate_id for c in clicks]
    assert Customer.objects.filter(brand=brand, affiliate__isnull=False).count() == 20


def test_blank_external_id_is_refused(brand):
    with pytest.raises(ValueError):
        resolve(brand, {}, external_id="  ")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("abc", "abc"), (" a\tb\n ", "ab"), ("\x1b[31mred", "[31mred"), ("é✓", "é✓"), (None, ""), (42, "42")],
)
def test_clean_sub_id(raw, clean):
    assert clean_sub_id(raw) == clean


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_events_create_one_customer():
    brand = BrandFactory(slug="race")
    link = TrackingLinkFactory(brand=brand)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=5)
            results.append(resolve(brand, {"tracking_token": link.token}, external_id="RACE-1").pk)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1
    assert Customer.objects.filter(brand=brand, external_id="RACE-1").count() == 1
    assert Customer.objects.get(external_id="RACE-1").affiliate == link.affiliate
