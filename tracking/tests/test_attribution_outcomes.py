"""Every untagged customer says why: each reason code through the real postback and events API, read back from
the management API (customers and events)."""

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.test import Client

from affiliates.choices import AffiliateStatus
from affiliates.tests.factories import AffiliateFactory, BrandFactory
from integrations.services import source_create
from tracking.models import AttributionMiss, Customer
from tracking.tests.factories import ClickFactory, PromoCodeFactory, TrackingLinkFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_ingestion")]

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def brand():
    return BrandFactory(slug="lucky", attribution_window_days=30)


@pytest.fixture
def source(brand):
    source, raw = source_create(slug="lucky-crm", name="Lucky CRM", brand=brand)
    source.raw_key = raw
    return source


def send(channel: str, source, hints: dict, customer: str = "P-1", occurred_at: dt.datetime = NOW, **extra):
    """A registration carrying `hints`, through the postback (GET) or the events API."""
    event = {
        "type": "registration",
        "event_id": f"reg-{customer}-{len(hints)}-{occurred_at:%s}",
        "customer_id": customer,
        "occurred_at": occurred_at.isoformat(),
        **hints,
        **extra,
    }
    client = Client()
    if channel == "postback":
        response = client.get(f"/postback/{source.slug}/?{urlencode({**event, 'key': source.raw_key})}")
        assert response.status_code == 202, response.content
    else:
        response = client.post(
            "/api/v1/events",
            data=event,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {source.raw_key}",
        )
        assert response.status_code == 202, response.content
        assert response.json()["results"][0]["status"] == "accepted"
    return response


def read_customer(mgmt, external_id="P-1") -> dict:
    response = mgmt.get(f"/api/v1/customers?external_id={external_id}")
    assert response.status_code == 200
    [customer] = response.json()["results"]
    return customer


def read_event(mgmt, customer_pk) -> dict:
    response = mgmt.get(f"/api/v1/events?customer={customer_pk}")
    assert response.status_code == 200
    return response.json()["results"][0]


def _click_unknown(brand):
    return {"click_id": "not-a-click"}, "click_unknown", "Click id 'not-a-click' is not a click recorded here.", None


def _click_after_event(brand):
    click = ClickFactory(link__brand=brand, created_at=NOW + dt.timedelta(hours=2, minutes=30), click_id="late-1")
    message = (
        "Click 'late-1' was made 2 hours 30 minutes after the event (2026-11-20 14:30:00 UTC against "
        "2026-11-20 12:00:00 UTC; at most 5 minutes of clock difference is allowed)."
    )
    return {"click_id": click.click_id}, "click_after_event", message, 9000


def _click_outside_window(brand):
    click = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(days=32, hours=3), click_id="old-1")
    message = (
        "Click 'old-1' was made 32 days 3 hours before the event, 2 days 3 hours beyond lucky's attribution "
        "window of 30 days."
    )
    return {"click_id": click.click_id}, "click_outside_window", message, 2 * 86400 + 3 * 3600


def _link_unknown(brand):
    return {"tracking_token": "nope"}, "link_unknown", "Tracking token 'nope' is not a tracking link here.", None


def _link_inactive(brand):
    TrackingLinkFactory(brand=brand, token="off-link", is_active=False)
    return {"tracking_token": "off-link"}, "link_inactive", "Tracking link 'off-link' is disabled.", None


def _affiliate_unknown(brand):
    return {"affiliate_id": "999999"}, "affiliate_unknown", "Affiliate id '999999' names no affiliate.", None


def _promo_unknown(brand):
    return {"promo_code": "NOPE"}, "promo_unknown", "Promo code 'NOPE' is not a promo code of lucky.", None


def _promo_expired(brand):
    PromoCodeFactory(brand=brand, code="SUMMER", is_active=False)
    return {"promo_code": "summer"}, "promo_expired", "Promo code 'summer' of lucky is deactivated.", None


def _other_brand_click(brand):
    ClickFactory(link__brand=BrandFactory(slug="atlas"), created_at=NOW - dt.timedelta(hours=1), click_id="fx-1")
    return {"click_id": "fx-1"}, "other_brand", "Click 'fx-1' was made on brand atlas, not on lucky.", None


def _other_brand_promo(brand):
    PromoCodeFactory(brand=BrandFactory(slug="summit"), code="PROP50")
    return {"promo_code": "PROP50"}, "other_brand", "Promo code 'PROP50' belongs to brand summit, not lucky.", None


def _sub_ids_only(brand):
    message = "Only sub ids were sent (sub1=fb, sub3=x9): sub ids describe traffic but name no affiliate."
    return {"sub1": "fb", "sub3": "x9"}, "sub_ids_only", message, None


CASES = [
    _click_unknown, _click_after_event, _click_outside_window, _link_unknown, _link_inactive, _affiliate_unknown,
    _promo_unknown, _promo_expired, _other_brand_click, _other_brand_promo, _sub_ids_only,
]  # fmt: skip


@pytest.mark.parametrize("channel", ["postback", "api"])
@pytest.mark.parametrize("case", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_each_failed_hint_shows_its_reason_code_and_sentence_in_customers_and_events(
    case, channel, brand, source, mgmt
):
    # Given a hint that cannot attribute
    hints, reason, message, delta = case(brand)
    # When the operator sends a registration carrying it
    send(channel, source, hints)
    # Then the customer is credited to nobody and says why, in the customers API
    customer = read_customer(mgmt)
    assert customer["affiliate"] is None
    assert customer["attribution_method"] == "none"
    assert customer["attribution_reason"] == reason
    [outcome] = customer["attribution_outcomes"]
    assert (outcome["reason"], outcome["message"], outcome["attributed"]) == (reason, message, False)
    assert outcome["delta_seconds"] == delta
    assert outcome["occurred_at"] == "2026-11-20T12:00:00Z"
    # and in the events API, on the event that carried the hint
    event = read_event(mgmt, customer["id"])
    assert [(m["hint"], m["reason"], m["message"]) for m in event["attribution_misses"]] == [
        (outcome["hint"], reason, message)
    ]
    # and the miss names the source it came from (monitoring counts it there)
    assert AttributionMiss.objects.get().source_id == source.pk


def test_the_click_found_and_refused_is_attributed_to_its_partner_in_the_miss(brand, source, mgmt):
    click = ClickFactory(link__brand=brand, created_at=NOW + dt.timedelta(hours=1))

    send("postback", source, {"click_id": click.click_id, "sub1": "fb"})

    miss = AttributionMiss.objects.get()
    assert (miss.affiliate_id, miss.click_id, miss.hint) == (click.affiliate_id, click.pk, "click_id")
    assert read_customer(mgmt)["attribution_outcomes"][0]["click_id"] == click.click_id


def test_every_failed_hint_is_listed_in_contract_order(brand, source, mgmt):
    TrackingLinkFactory(brand=brand, token="off-link", is_active=False)

    send("api", source, {"promo_code": "NOPE", "tracking_token": "off-link", "click_id": "nope"})

    customer = read_customer(mgmt)
    reasons = [o["reason"] for o in customer["attribution_outcomes"]]
    assert reasons == ["click_unknown", "link_inactive", "promo_unknown"]
    assert customer["attribution_reason"] == "click_unknown"


def test_a_failed_hint_before_the_one_that_attributes_is_shown_beside_the_success(brand, source, mgmt):
    promo = PromoCodeFactory(brand=brand, code="WELCOME")

    send("api", source, {"click_id": "nope", "promo_code": "WELCOME"})

    customer = read_customer(mgmt)
    assert customer["affiliate"] == promo.affiliate_id
    assert customer["attribution_reason"] == "attributed"
    success, miss = customer["attribution_outcomes"]
    assert (success["hint"], success["reason"], success["attributed"]) == ("promo_code", "attributed", True)
    assert success["message"].startswith(f"Attributed to {promo.affiliate.name} (#{promo.affiliate_id}) by promo code")
    assert (miss["hint"], miss["reason"]) == ("click_id", "click_unknown")


def test_a_customer_attributed_to_a_suspended_affiliate_says_its_commissions_are_held(brand, source, mgmt):
    link = TrackingLinkFactory(brand=brand, affiliate=AffiliateFactory(status=AffiliateStatus.SUSPENDED))

    send("api", source, {"tracking_token": link.token})

    customer = read_customer(mgmt)
    assert customer["affiliate"] == link.affiliate_id
    assert customer["attribution_reason"] == "affiliate_inactive"
    [outcome] = customer["attribution_outcomes"]
    assert outcome["attributed"] is True
    assert "the affiliate is suspended: its commissions are held while it is not active" in outcome["message"]


def test_a_customer_attributed_at_once_writes_no_miss(brand, source, mgmt):
    click = ClickFactory(link__brand=brand, created_at=NOW - dt.timedelta(days=1))

    send("postback", source, {"click_id": click.click_id})

    assert not AttributionMiss.objects.exists()
    assert read_customer(mgmt)["attribution_outcomes"][0]["reason"] == "attributed"


def test_a_customer_without_hints_has_no_reason(source, mgmt):
    send("api", source, {})

    customer = read_customer(mgmt)
    assert (customer["attribution_reason"], customer["attribution_outcomes"]) == (None, [])


def test_the_same_failed_hint_on_later_events_is_recorded_once(brand, source, mgmt):
    send("api", source, {"promo_code": "NOPE"})
    send("api", source, {"promo_code": "NOPE"}, occurred_at=NOW + dt.timedelta(days=1), event_id="ftd-1", type="ftd",
         amount="20.00", currency="EUR")  # fmt: skip

    assert AttributionMiss.objects.count() == 1


def test_customers_filter_unattributed_with_hints_and_by_reason(brand, source, mgmt):
    send("api", source, {"promo_code": "NOPE"}, customer="A")
    send("api", source, {"click_id": "nope"}, customer="B")
    send("api", source, {}, customer="C")
    link = TrackingLinkFactory(brand=brand)
    send("api", source, {"tracking_token": link.token}, customer="D")

    def ids(query):
        response = mgmt.get(f"/api/v1/customers?{query}")
        assert response.status_code == 200, response.content
        return sorted(c["external_id"] for c in response.json()["results"])

    assert ids("unattributed_with_hints=true") == ["A", "B"]
    assert ids("unattributed_with_hints=false") == ["C", "D"]
    assert ids("miss_reason=promo_unknown") == ["A"]
    assert mgmt.get("/api/v1/customers?miss_reason=bogus").status_code == 400


def test_a_later_event_that_attributes_keeps_the_earlier_misses_as_history(brand, source, mgmt):
    send("api", source, {"promo_code": "NOPE"})
    link = TrackingLinkFactory(brand=brand)

    send("api", source, {"tracking_token": link.token}, occurred_at=NOW + dt.timedelta(hours=1), event_id="x-2")

    customer = Customer.objects.get()
    assert customer.affiliate_id == link.affiliate_id
    body = read_customer(mgmt)
    assert [o["reason"] for o in body["attribution_outcomes"]] == ["attributed", "promo_unknown"]


def test_times_in_the_sentence_are_utc_whatever_offset_the_operator_sent(brand, source, mgmt):
    ClickFactory(link__brand=brand, created_at=NOW + dt.timedelta(hours=1), click_id="tz-1")
    malta = dt.timezone(dt.timedelta(hours=1))

    send("api", source, {"click_id": "tz-1"}, occurred_at=NOW.astimezone(malta))

    [outcome] = read_customer(mgmt)["attribution_outcomes"]
    assert "(2026-11-20 13:00:00 UTC against 2026-11-20 12:00:00 UTC;" in outcome["message"]
