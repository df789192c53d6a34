"""Processing: referring events that wait, refunds by order id, FTD derivation, test mode, FX, replay,
idempotency, hand-over to commissions and the outbox."""

import datetime as dt
import json
from decimal import Decimal
from unittest import mock

import pytest

from affiliates.tests.factories import AffiliateFactory
from integrations.ingestion import inbound_process, inbound_replay, inbound_sweep
from integrations.models import FxRate, InboundEvent, InboundStatus
from tracking.models import ConversionEvent, Customer
from tracking.tests.factories import ClickFactory

pytestmark = pytest.mark.django_db


def send(client, *events):
    response = client.post("/api/v1/events", json.dumps({"events": list(events)}), content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["results"]


def ev(event_id, type_="deposit", customer="C1", **extra):
    body = {"type": type_, "event_id": event_id, "customer_id": customer, "occurred_at": "2026-11-01T10:00:00Z"}
    if type_ in ("deposit", "ftd", "refund", "chargeback", "challenge_purchase", "reset_fee"):
        body.update(amount="50.00", currency="EUR")
    body.update(extra)
    return body


def test_a_status_update_before_its_event_waits_and_is_applied_when_the_event_arrives(source_client):
    source, client = source_client()
    # given a status update for an event the platform has not seen
    [result] = send(client, {"type": "status_update", "event_id": "S1", "ref_event_id": "D1", "status": "rejected",
                             "occurred_at": "2026-11-01T11:00:00Z"})  # fmt: skip
    assert result["status"] == "accepted"
    update = ConversionEvent.objects.get(source=source, external_id="S1")
    assert update.ref_event is None and update.applied_at is None  # it waits
    # when the event arrives
    send(client, ev("D1", status="pending"))
    # then the waiting update is applied to it
    deposit = ConversionEvent.objects.get(source=source, external_id="D1")
    update.refresh_from_db()
    assert update.ref_event == deposit and update.applied_at is not None
    assert deposit.status == "rejected"


def test_an_older_status_update_never_overwrites_a_newer_one(source_client):
    source, client = source_client()
    send(client, ev("D1", status="pending"))
    send(client, {"type": "status_update", "event_id": "S2", "ref_event_id": "D1", "status": "qualified",
                  "occurred_at": "2026-11-02T10:00:00Z"})  # fmt: skip
    send(client, {"type": "status_update", "event_id": "S1", "ref_event_id": "D1", "status": "rejected",
                  "occurred_at": "2026-11-01T12:00:00Z"})  # fmt: skip
    assert ConversionEvent.objects.get(source=source, external_id="D1").status == "qualified"


def test_commissions_are_asked_for_the_new_event_and_the_one_it_changed(
    source_client, django_capture_on_commit_callbacks
):
    source, client = source_client()
    send(client, ev("D1", status="pending"))
    deposit = ConversionEvent.objects.get(source=source, external_id="D1")
    with mock.patch("commissions.tasks.process_event.delay") as delay, django_capture_on_commit_callbacks(execute=True):
        send(client, {"type": "status_update", "event_id": "S1", "ref_event_id": "D1", "status": "qualified",
                          "occurred_at": "2026-11-01T12:00:00Z"})  # fmt: skip
    update = ConversionEvent.objects.get(source=source, external_id="S1")
    assert sorted(call.args[0] for call in delay.call_args_list) == sorted([update.pk, deposit.pk])


def test_every_new_event_is_announced_in_the_outbox_with_its_attribution(source_client):
    source, client = source_client()
    affiliate = AffiliateFactory()
    click = ClickFactory(affiliate=affiliate, link__affiliate=affiliate, link__brand=source.brand, brand=source.brand,
                         sub1="fb", created_at=dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC))  # fmt: skip
    from integrations.webhooks.models import OutboxEvent

    send(client, ev("R1", "registration", click_id=click.click_id, sub1="fb"))
    [announced] = OutboxEvent.objects.filter(type="conversion.created")
    data = announced.data
    event = ConversionEvent.objects.get(source=source, external_id="R1")
    assert (announced.affiliate_id, announced.brand_id) == (affiliate.pk, source.brand_id)
    assert data["id"] == event.pk and data["type"] == "registration" and data["customer_external_id"] == "C1"
    assert (data["click_id"], data["sub1"], data["affiliate_id"]) == (click.click_id, "fb", affiliate.pk)
    customer = Customer.objects.get(brand=source.brand, external_id="C1")
    assert customer.affiliate == affiliate and customer.registered_at is not None


def test_a_refund_finds_its_purchase_by_order_id_and_rejects_it(source_client, fx_rates):
    source, client = source_client(preset="prop_shop_webhooks")
    paid = {"id": "e1", "type": "order.paid", "created": "2026-11-10T08:00:00Z",
            "data": {"order": {"id": "o1", "customer_id": "c1", "product": "challenge-50k", "total": "300.00",
                               "currency": "USD"}}}  # fmt: skip
    passed = {"id": "e2", "type": "challenge.passed", "created": "2026-11-11T08:00:00Z",
              "data": {"order": {"id": "o1", "customer_id": "c1"}}}  # fmt: skip
    refund = {"id": "e3", "type": "order.refunded", "created": "2026-11-12T08:00:00Z",
              "data": {"order": {"id": "o1", "customer_id": "c1", "total": "300.00", "currency": "USD"}}}  # fmt: skip
    send(client, paid, passed, refund)
    purchase = ConversionEvent.objects.get(source=source, external_id="e1")
    refunded = ConversionEvent.objects.get(source=source, external_id="e3")
    assert refunded.ref_event == purchase  # the purchase, not the pass that shares the order id
    assert purchase.status == "rejected"
    assert ConversionEvent.objects.get(source=source, external_id="e2").status == "qualified"


def test_a_refund_by_order_id_that_comes_first_waits_for_its_purchase(source_client, fx_rates):
    source, client = source_client(preset="prop_shop_webhooks")
    refund = {"id": "e3", "type": "order.refunded", "created": "2026-11-12T08:00:00Z",
              "data": {"order": {"id": "o1", "customer_id": "c1", "total": "100.00", "currency": "USD"}}}  # fmt: skip
    send(client, refund)
    inbound = InboundEvent.objects.get(source=source, external_id="e3")
    assert inbound.canonical["ref_order_id"] == "o1"
    paid = {"id": "e1", "type": "order.paid", "created": "2026-11-10T08:00:00Z",
            "data": {"order": {"id": "o1", "customer_id": "c1", "product": "reset-50k", "total": "300.00",
                               "currency": "USD"}}}  # fmt: skip
    send(client, paid)
    purchase = ConversionEvent.objects.get(source=source, external_id="e1")
    refunded = ConversionEvent.objects.get(source=source, external_id="e3")
    assert refunded.ref_event == purchase
    assert purchase.status == "qualified"  # a partial refund (100 of 300) leaves the status to the commission engine


def test_a_chargeback_of_the_whole_amount_rejects_the_deposit(source_client):
    source, client = source_client()
    send(client, ev("D1"), ev("CB1", "chargeback", ref_event_id="D1"))
    assert ConversionEvent.objects.get(source=source, external_id="D1").status == "rejected"


def test_first_qualified_deposit_becomes_the_ftd_when_the_source_derives_ftds(source_client):
    source, client = source_client(derive_ftd=True)
    send(client, ev("D1", occurred_at="2026-11-01T10:00:00Z"), ev("D2", occurred_at="2026-11-02T10:00:00Z"),
         ev("D3", customer="C2", status="pending"))  # fmt: skip
    types = dict(ConversionEvent.objects.filter(source=source).values_list("external_id", "type"))
    assert types == {"D1": "ftd", "D2": "deposit", "D3": "deposit"}
    assert ConversionEvent.objects.get(source=source, external_id="D1").data == {"derived_ftd": True}
    # a pending first deposit becomes the FTD when it is qualified
    send(client, {"type": "status_update", "event_id": "S1", "ref_event_id": "D3", "status": "qualified",
                  "occurred_at": "2026-11-03T10:00:00Z"})  # fmt: skip
    assert ConversionEvent.objects.get(source=source, external_id="D3").type == "ftd"


def test_without_derivation_deposits_stay_deposits(source_client):
    source, client = source_client()
    send(client, ev("D1"))
    assert ConversionEvent.objects.get(source=source, external_id="D1").type == "deposit"


def test_mt5_first_balance_deal_becomes_the_ftd_with_derivation_on(source_client, fx_rates):
    source, client = source_client(preset="mt5_deals", derive_ftd=True)
    rows = [
        {"Deal": 1, "Login": 7, "Action": 2, "Profit": "100.00", "Currency": "USD", "Time": 1761994800},
        {"Deal": 2, "Login": 7, "Action": 2, "Profit": "50.00", "Currency": "USD", "Time": 1761998400},
        {"Deal": 3, "Login": 7, "Action": 3, "Profit": "500.00", "Currency": "USD", "Time": 1761998400},
    ]
    results = send(client, *rows)
    assert [r["status"] for r in results] == ["accepted"] * 3
    assert dict(ConversionEvent.objects.filter(source=source).values_list("external_id", "type")) == {
        "1": "ftd", "2": "deposit",
    }  # fmt: skip
    credit = InboundEvent.objects.get(pk=int(results[2]["id"]))
    assert (credit.status, credit.reason_code) == (InboundStatus.IGNORED, "ignored_event_type")


def test_events_from_a_source_in_test_mode_are_marked_test(source_client):
    source, client = source_client(test_mode=True)
    send(client, ev("D1"))
    assert ConversionEvent.objects.get(source=source).is_test is True


def test_money_is_converted_with_the_rate_and_its_date_stored(source_client):
    source, client = source_client()
    FxRate.objects.create(currency="USD", date=dt.date(2026, 10, 30), rate=Decimal("0.9123456789"))
    send(client, ev("D1", amount="100.01", currency="USD"))  # 2026-11-01: the latest rate is from Friday 10-30
    event = ConversionEvent.objects.get(source=source)
    assert (event.amount, event.currency) == (Decimal("100.01"), "USD")
    assert event.fx_rate == Decimal("0.9123456789") and event.fx_date == dt.date(2026, 10, 30)
    assert event.amount_base == Decimal("91.24369135")  # 100.01 x 0.9123456789 = 91.243691346789, to 8 places


def test_a_missing_rate_rejects_visibly_and_the_event_replays_once_the_rate_exists(source_client):
    source, client = source_client()
    [result] = send(client, ev("D1", amount="10.00", currency="GBP"))
    assert result["status"] == "accepted"  # stored and durable; processing found no rate
    inbound = InboundEvent.objects.get(pk=int(result["id"]))
    assert (inbound.status, inbound.reason_code) == (InboundStatus.REJECTED, "missing_fx_rate")
    assert "GBP" in inbound.reason_detail
    assert not ConversionEvent.objects.exists()
    # a resend while it is rejected is not a duplicate: it is accepted (and rejected again for the same reason)
    FxRate.objects.create(currency="GBP", date=dt.date(2026, 11, 1), rate=Decimal("1.15"))
    assert inbound_replay(inbound_ids=[inbound.pk]) == {inbound.pk: InboundStatus.PROCESSED}
    assert ConversionEvent.objects.get(source=source).amount_base == Decimal("11.50000000")


def test_a_rate_older_than_a_week_is_not_used(source_client):
    _source, client = source_client()
    FxRate.objects.create(currency="USD", date=dt.date(2026, 10, 20), rate=Decimal("0.9"))
    [result] = send(client, ev("D1", amount="10.00", currency="USD"))
    assert InboundEvent.objects.get(pk=int(result["id"])).reason_code == "missing_fx_rate"


def test_replay_after_a_mapping_fix_processes_rejected_events(source_client, mgmt):
    source, client = source_client(preset="casino_postbacks")
    response = client.get(f"/postback/{source.slug}/?action=jackpot&player=P1&dep_id=J1&amt=100&cur=EUR")
    assert response.status_code == 400
    inbound_id = int(response.json()["id"])
    mapping = {**source.mapping, "event_types": {**source.mapping["event_types"], "jackpot": "revenue"}}
    assert mgmt.patch(f"/api/v1/sources/{source.slug}", {"mapping": mapping}, format="json").status_code == 200
    answer = mgmt.post("/api/v1/inbound-events/replay", {"ids": [inbound_id]}, format="json").json()
    assert answer == {"outcomes": {str(inbound_id): "processed"}, "summary": "1 processed"}
    inbound = InboundEvent.objects.get(pk=inbound_id)
    assert inbound.mapping_version.version == 2
    assert ConversionEvent.objects.get(source=source).type == "revenue"


def test_processing_twice_changes_nothing(source_client):
    source, client = source_client()
    [result] = send(client, ev("D1"))
    inbound_id = int(result["id"])
    assert inbound_process(inbound_ids=[inbound_id]) == {}  # already processed: skipped
    InboundEvent.objects.filter(pk=inbound_id).update(status=InboundStatus.RECEIVED)  # a redelivered task
    assert inbound_process(inbound_ids=[inbound_id]) == {inbound_id: InboundStatus.DUPLICATE}
    assert ConversionEvent.objects.filter(source=source).count() == 1


def test_two_rows_with_one_event_id_make_one_event(source_client):
    source, client = source_client()
    with mock.patch("integrations.tasks.ingest_process.apply_async", side_effect=OSError("broker down")):
        first = send(client, ev("D1"))
    # the first is stored but unprocessed; a resend is answered as its duplicate at once
    again = send(client, ev("D1"))
    assert again[0] == {**first[0], "status": "duplicate"}
    assert inbound_sweep(grace=dt.timedelta(0)) == 1
    assert ConversionEvent.objects.filter(source=source).count() == 1


def test_the_sweep_leaves_fresh_rows_to_their_task(source_client):
    _source, client = source_client()
    with mock.patch("integrations.tasks.ingest_process.apply_async", side_effect=OSError("broker down")):
        send(client, ev("D1"))
    assert inbound_sweep() == 0  # received seconds ago: its task may still be on the way


def test_an_event_that_breaks_processing_is_rejected_alone_and_its_neighbours_go_through(source_client):
    source, client = source_client()
    import tracking.events

    real = tracking.events._event_fields

    def explode_on_d2(draft):
        if draft.external_id == "D2":
            raise RuntimeError("boom")
        return real(draft)

    with mock.patch.object(tracking.events, "_event_fields", side_effect=explode_on_d2):
        results = send(client, ev("D1"), ev("D2"), ev("D3"))
    assert set(ConversionEvent.objects.filter(source=source).values_list("external_id", flat=True)) == {"D1", "D3"}
    broken = InboundEvent.objects.get(pk=int(results[1]["id"]))
    assert (broken.status, broken.reason_code, broken.reason_detail) == (
        "rejected",
        "processing_error",
        "RuntimeError: boom",
    )
    assert inbound_replay(inbound_ids=[broken.pk]) == {broken.pk: InboundStatus.PROCESSED}


def test_rejections_are_counted_by_reason(source_client):
    from integrations.selectors import inbound_reason_counts

    source, client = source_client()
    send(client, ev("D1", amount="x"), ev("D2", amount="y"), ev("D3", type_="jackpot"), ev("D4"))
    assert inbound_reason_counts(source_id=source.pk) == {"invalid_amount": 2, "unknown_event_type": 1}
