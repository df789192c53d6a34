"""Recording canonical events: dedup by the constraint, referring events linked in either order, FTDs."""

import datetime as dt
from decimal import Decimal

import pytest

from integrations.tests.factories import SourceFactory
from tracking.events import EventDraft, event_apply, events_record
from tracking.models import ConversionEvent
from tracking.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)


def draft(source, external_id, type_="deposit", **extra):
    fields = {"source_id": source.pk, "brand_id": source.brand_id, "inbound_id": None, "external_id": external_id,
              "type": type_, "status": "qualified", "occurred_at": AT}  # fmt: skip
    if type_ in ("deposit", "refund", "chargeback", "ftd"):
        fields.update(amount=Decimal("50.00"), currency="EUR", amount_base=Decimal("50.00"))
    fields.update(extra)
    return EventDraft(**fields)


def test_an_external_id_is_written_once_also_within_one_call():
    source = SourceFactory()
    first = events_record(drafts=[draft(source, "D1"), draft(source, "D1")])
    assert [o.duplicate for o in first] == [False, True]
    assert first[1].event_id == first[0].event_id
    again = events_record(drafts=[draft(source, "D1")])
    assert again[0].duplicate and again[0].event_id == first[0].event_id
    assert ConversionEvent.objects.filter(source=source).count() == 1


def test_the_same_external_id_from_two_sources_is_two_events():
    one, two = SourceFactory(), SourceFactory()
    events_record(drafts=[draft(one, "D1"), draft(two, "D1")])
    assert ConversionEvent.objects.count() == 2


def test_a_waiting_status_update_is_applied_when_its_event_is_recorded():
    source = SourceFactory()
    events_record(drafts=[draft(source, "S1", "status_update", status="rejected", ref_external_id="D1")])
    events_record(drafts=[draft(source, "D1", status="pending")])
    deposit = ConversionEvent.objects.get(external_id="D1")
    assert deposit.status == "rejected"
    assert ConversionEvent.objects.get(external_id="S1").ref_event == deposit


def test_a_referring_event_never_applies_to_another_sources_event():
    one, two = SourceFactory(), SourceFactory()
    events_record(drafts=[draft(one, "D1", status="pending")])
    events_record(drafts=[draft(two, "S1", "status_update", status="rejected", ref_external_id="D1")])
    assert ConversionEvent.objects.get(external_id="D1").status == "pending"
    assert ConversionEvent.objects.get(external_id="S1").ref_event is None


def test_a_partial_refund_leaves_the_status_and_a_full_one_rejects():
    source = SourceFactory()
    events_record(drafts=[draft(source, "D1"), draft(source, "D2")])
    events_record(drafts=[draft(source, "R1", "refund", ref_external_id="D1", amount=Decimal("20.00"))])
    events_record(drafts=[draft(source, "R2", "refund", ref_external_id="D2")])
    statuses = dict(ConversionEvent.objects.filter(type="deposit").values_list("external_id", "status"))
    assert statuses == {"D1": "qualified", "D2": "rejected"}


def test_ftd_derivation_makes_one_ftd_per_customer():
    source = SourceFactory()
    customer = CustomerFactory(brand=source.brand)
    events_record(drafts=[draft(source, "D1", customer=customer, derive_ftd=True),
                          draft(source, "D2", customer=customer, derive_ftd=True)])  # fmt: skip
    assert dict(ConversionEvent.objects.values_list("external_id", "type")) == {"D1": "ftd", "D2": "deposit"}
    events_record(drafts=[draft(source, "D3", customer=customer, derive_ftd=True)])
    assert ConversionEvent.objects.get(external_id="D3").type == "deposit"


def test_event_apply_reports_whether_the_status_changed():
    source = SourceFactory()
    events_record(drafts=[draft(source, "D1", status="pending"), draft(source, "S9", "status_update")])
    target = ConversionEvent.objects.get(external_id="D1")
    update = ConversionEvent.objects.get(external_id="S9")
    update.ref_event = None
    assert event_apply(event=update, target=target) is True
    assert event_apply(event=update, target=target) is False


def test_a_worker_hands_a_whole_batch_to_the_commission_queue_in_one_message(django_capture_on_commit_callbacks):
    import contextlib
    from unittest import mock

    from commissions.tasks import process_events
    from config.celery import app

    source = SourceFactory()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with (
            mock.patch.object(app, "producer_or_acquire", lambda: contextlib.nullcontext(None)),
            mock.patch.object(process_events, "apply_async") as send,
            mock.patch("tracking.events.outbox_publish_many"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            recorded = events_record(drafts=[draft(source, f"D{n}") for n in range(3)])
    finally:
        app.conf.task_always_eager = eager
    [call] = send.call_args_list
    assert call.args[0] == ([o.event_id for o in recorded],) and len(recorded) == 3


def test_the_bulk_commission_task_computes_each_event_and_a_failing_one_does_not_stop_the_rest():
    from unittest import mock

    from commissions.tasks import process_events

    seen = []

    def compute(*, event_id):
        seen.append(event_id)
        if event_id == 2:
            raise ValueError("broken event")

    with mock.patch("commissions.services.commission_process_event", side_effect=compute):
        process_events([1, 2, 3])
    assert seen == [1, 2, 3]


def test_an_event_another_worker_records_after_the_duplicate_check_is_a_duplicate_of_it():
    from unittest import mock

    import tracking.events

    source = SourceFactory()
    derive = tracking.events._derive_ftds

    def other_worker_first(drafts):
        if not ConversionEvent.objects.filter(source=source, external_id="D2").exists():
            ConversionEvent.objects.create(
                source=source, brand_id=source.brand_id, external_id="D2", type="deposit", occurred_at=AT
            )
        derive(drafts)

    with mock.patch.object(tracking.events, "_derive_ftds", side_effect=other_worker_first):
        first, second = events_record(drafts=[draft(source, "D1"), draft(source, "D2")])
    d2 = ConversionEvent.objects.get(source=source, external_id="D2")
    assert not first.duplicate and second.duplicate and second.event_id == d2.pk
    assert ConversionEvent.objects.filter(source=source).count() == 2
