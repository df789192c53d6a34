"""Each alert driven from open to resolved with the clock moved by time-machine."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from integrations.models import InboundEvent, InboundStatus
from integrations.monitoring import services
from integrations.monitoring.models import Alert, AlertKind, Severity
from tracking.tests.factories import ConversionEventFactory

from .conftest import T0
from .factories import AlertFactory, AlertRuleFactory, InboundEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks, announced, manager):
    def run(source):
        with django_capture_on_commit_callbacks(execute=True):
            return services.alerts_evaluate_source(source=source, now=timezone.now())

    return run


def kinds(source, open_only=True):
    qs = Alert.objects.filter(source=source)
    if open_only:
        qs = qs.filter(resolved_at__isnull=True)
    return sorted((a.kind, a.subject) for a in qs)


def events(source, n, at, **kwargs):
    InboundEvent.objects.bulk_create(
        InboundEventFactory.build(source=source, received_at=at + dt.timedelta(seconds=i), **kwargs) for i in range(n)
    )


def test_silent_source_opens_one_alert_mails_and_announces_then_resolves_when_events_return(
    old_source, traveller, evaluate, announced
):
    # given a source that last sent an event at 10:30
    traveller(T0)
    events(old_source, 1, T0)
    # when nothing comes for 61 minutes and beat evaluates twice
    traveller.move(minutes=61)
    evaluate(old_source)
    traveller.move(minutes=5)
    evaluate(old_source)
    # then one alert is open, announced once and mailed once
    alert = Alert.objects.get(source=old_source)
    assert (alert.kind, alert.severity, alert.resolved_at) == (AlertKind.NO_EVENTS, Severity.CRITICAL, None)
    assert alert.opened_at == T0 + dt.timedelta(minutes=61)
    assert "no events for 66 minutes" in alert.title  # the figures follow the condition while it holds
    assert [c["type"] for c in announced] == ["alert.raised"]
    assert announced[0]["brand_id"] == old_source.brand_id
    assert announced[0]["data"]["source"] == "casino-crm"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["manager@example.com"]
    assert "[CRITICAL]" in mail.outbox[0].subject
    # when an event arrives and beat evaluates
    traveller.move(minutes=1)
    events(old_source, 1, timezone.now())
    evaluate(old_source)
    # then the alert resolves itself and says so
    alert.refresh_from_db()
    assert alert.resolved_at == T0 + dt.timedelta(minutes=67)
    assert [c["type"] for c in announced] == ["alert.raised", "alert.resolved"]
    assert announced[1]["data"]["resolved_at"] == alert.resolved_at.isoformat()
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("[CRITICAL] Resolved")


def test_source_that_never_sent_anything_is_not_silent(old_source, traveller, evaluate):
    traveller(T0)
    evaluate(old_source)
    assert kinds(old_source) == []


def test_expected_type_missing_for_its_minutes_opens_per_type_and_resolves_on_the_next_one(
    old_source, traveller, evaluate
):
    # given FTDs are expected at least every 2 hours, and one came at 10:30
    AlertRuleFactory(source=old_source, expected_types={"ftd": 120}, silence_minutes=0)
    traveller(T0)
    ConversionEventFactory(source=old_source, brand=old_source.brand, type="ftd")
    # when 2 hours and 1 minute pass without an FTD (other traffic flowing)
    traveller.move(minutes=121)
    events(old_source, 3, timezone.now())
    evaluate(old_source)
    # then an alert for the type is open
    assert kinds(old_source) == [(AlertKind.NO_EVENTS, "ftd")]
    assert Alert.objects.get(source=old_source).severity == Severity.WARNING
    # when an FTD arrives
    traveller.move(minutes=2)
    ConversionEventFactory(source=old_source, brand=old_source.brand, type="ftd")
    evaluate(old_source)
    # then it resolves
    assert kinds(old_source) == []
    assert kinds(old_source, open_only=False) == [(AlertKind.NO_EVENTS, "ftd")]


def _baseline(source, per_hour, hour_start, weeks=4):
    for k in range(1, weeks + 1):
        events(source, per_hour, hour_start - dt.timedelta(weeks=k))


def test_volume_drop_against_same_hour_of_week_opens_and_resolves_when_volume_recovers(old_source, traveller, evaluate):
    # given 40 events between 10:00 and 11:00 on each of the last four Mondays (silence judged elsewhere)
    AlertRuleFactory(source=old_source, silence_minutes=0)
    hour = T0.replace(minute=0)
    _baseline(old_source, 40, hour)
    _baseline(old_source, 40, hour + dt.timedelta(hours=1))
    # when only 10 come this Monday 10:00-11:00 (25% of baseline) and beat runs at 11:05
    events(old_source, 10, hour)
    traveller(hour + dt.timedelta(hours=1, minutes=5))
    evaluate(old_source)
    # then a volume drop alert opens with the figures
    alert = Alert.objects.get(source=old_source, resolved_at__isnull=True)
    assert alert.kind == AlertKind.VOLUME_DROP
    assert alert.details["count"] == 10 and alert.details["baseline"] == "40.00" and alert.details["percent"] == "25.0"
    # when 11:00-12:00 is back to 38 events (95%) and beat runs at 12:05
    events(old_source, 38, hour + dt.timedelta(hours=1))
    traveller.move(hours=1)
    evaluate(old_source)
    # then it resolves
    assert kinds(old_source) == []


def test_volume_spike_opens_and_resolves_when_the_next_hour_is_normal(old_source, traveller, evaluate):
    AlertRuleFactory(source=old_source, silence_minutes=0)
    hour = T0.replace(minute=0)
    _baseline(old_source, 20, hour)
    _baseline(old_source, 20, hour + dt.timedelta(hours=1))
    events(old_source, 70, hour)  # 350% of 20
    traveller(hour + dt.timedelta(hours=1, minutes=5))
    evaluate(old_source)
    assert kinds(old_source) == [(AlertKind.VOLUME_SPIKE, "")]
    events(old_source, 22, hour + dt.timedelta(hours=1))
    traveller.move(hours=1)
    evaluate(old_source)
    assert kinds(old_source) == []


def test_volume_is_not_judged_without_enough_baseline(old_source, traveller, evaluate):
    AlertRuleFactory(source=old_source, silence_minutes=0)
    hour = T0.replace(minute=0)
    _baseline(old_source, 5, hour)  # below the default minimum baseline of 20
    traveller(hour + dt.timedelta(hours=1, minutes=5))
    evaluate(old_source)
    assert kinds(old_source) == []


def test_rejected_share_above_threshold_opens_with_reasons_and_resolves_when_the_window_is_clean(
    old_source, traveller, evaluate
):
    # given 5% allowed, and in the last hour 16 processed and 4 rejected (20%)
    traveller(T0)
    events(old_source, 16, T0 - dt.timedelta(minutes=30))
    events(old_source, 3, T0 - dt.timedelta(minutes=20), status=InboundStatus.REJECTED, reason_code="invalid_amount")
    events(old_source, 1, T0 - dt.timedelta(minutes=10), status=InboundStatus.REJECTED, reason_code="unknown_currency")
    evaluate(old_source)
    alert = Alert.objects.get(source=old_source)
    assert alert.kind == AlertKind.REJECTED_SHARE
    assert alert.details["share"] == "20.00"
    assert alert.details["reasons"] == {"invalid_amount": 3, "unknown_currency": 1}
    # when an hour of clean traffic passes
    traveller.move(minutes=61)
    events(old_source, 30, timezone.now() - dt.timedelta(minutes=30))
    evaluate(old_source)
    assert kinds(old_source) == []


def test_rejected_share_needs_the_minimum_number_of_events(old_source, traveller, evaluate):
    traveller(T0)
    events(old_source, 2, T0 - dt.timedelta(minutes=5), status=InboundStatus.REJECTED, reason_code="invalid_amount")
    evaluate(old_source)
    assert kinds(old_source) == []


def test_unknown_event_type_opens_and_resolves_after_a_window_without_them(old_source, traveller, evaluate):
    traveller(T0)
    events(old_source, 5, T0 - dt.timedelta(minutes=40))
    InboundEventFactory(
        source=old_source,
        received_at=T0 - dt.timedelta(minutes=3),
        status=InboundStatus.REJECTED,
        reason_code="unknown_event_type",
        reason_detail="unknown event type 'bonus_claim'",
    )
    evaluate(old_source)
    alert = Alert.objects.get(source=old_source)
    assert alert.kind == AlertKind.UNKNOWN_EVENT_TYPE
    assert alert.details == {"count": 1, "samples": ["unknown event type 'bonus_claim'"]}
    traveller.move(minutes=58)
    events(old_source, 3, timezone.now())
    evaluate(old_source)
    assert kinds(old_source) == []


def _payloads(source, payload, n, start):
    for i in range(n):
        InboundEventFactory(source=source, received_at=start + dt.timedelta(minutes=i), payload=payload)


@pytest.mark.parametrize(
    ("new_payload", "expected"),
    [
        ({"id": "1", "player": "P1", "amt": "10.00", "bonus": "5"}, ("schema_drift", "new:bonus")),
        ({"id": "1", "amt": "10.00"}, ("schema_drift", "vanished:player")),
        ({"id": "1", "player": "P1", "amt": 1000}, ("schema_drift", "type_changed:amt")),
    ],
    ids=["new-field", "vanished-field", "changed-type"],
)
def test_schema_drift_opens_per_field_and_resolves_once_the_new_shape_is_the_norm(
    old_source, traveller, evaluate, new_payload, expected
):
    # given two days of payloads of one shape
    _payloads(old_source, {"id": "1", "player": "P1", "amt": "10.00"}, 20, T0 - dt.timedelta(days=2))
    # when the last hour's payloads have another shape
    _payloads(old_source, new_payload, 5, T0 - dt.timedelta(minutes=30))
    traveller(T0)
    evaluate(old_source)
    # then one drift alert per changed field
    assert kinds(old_source) == [expected]
    # when the new shape keeps coming for another hour, it is the reference
    _payloads(old_source, new_payload, 5, T0 + dt.timedelta(minutes=40))
    traveller.move(minutes=61)
    evaluate(old_source)
    assert kinds(old_source) == []


def test_processing_lag_opens_for_stuck_events_and_resolves_when_processing_catches_up(old_source, traveller, evaluate):
    traveller(T0)
    stuck = InboundEventFactory(
        source=old_source, received_at=T0 - dt.timedelta(minutes=10), status=InboundStatus.RECEIVED
    )
    evaluate(old_source)
    alert = Alert.objects.get(source=old_source)
    assert alert.kind == AlertKind.PROCESSING_LAG
    assert alert.details["oldest_waiting"] == 600.0
    # when the worker catches up and an hour of promptly processed events follows
    type(stuck).objects.filter(pk=stuck.pk).update(status=InboundStatus.PROCESSED, processed_at=T0)
    traveller.move(minutes=70)
    events(old_source, 5, timezone.now() - dt.timedelta(minutes=5))
    evaluate(old_source)
    assert kinds(old_source) == []


def test_delivery_latency_opens_when_tuned_and_resolves_when_feeds_arrive_promptly(old_source, traveller, evaluate):
    AlertRuleFactory(source=old_source, delivery_latency_seconds=3600)
    traveller(T0)
    events(old_source, 1, T0)
    ConversionEventFactory(source=old_source, brand=old_source.brand, occurred_at=T0 - dt.timedelta(hours=3))
    evaluate(old_source)
    assert kinds(old_source) == [(AlertKind.DELIVERY_LATENCY, "")]
    traveller.move(minutes=61)
    events(old_source, 1, timezone.now())
    ConversionEventFactory(source=old_source, brand=old_source.brand, occurred_at=timezone.now())
    evaluate(old_source)
    assert kinds(old_source) == []


def test_webhook_endpoint_disabled_by_delivery_opens_once_and_resolves_when_re_enabled(
    traveller, django_capture_on_commit_callbacks, announced, manager
):
    from integrations.webhooks.models import WebhookEndpoint

    # given an endpoint delivery disabled after repeated failures, and one a manager switched off on purpose
    failing = WebhookEndpoint.objects.create(
        url="https://ops.example.com/hooks", secret="whsec_x", enabled=False, disabled_reason="failing for 24 h"
    )
    WebhookEndpoint.objects.create(url="https://old.example.com/hooks", secret="whsec_y", enabled=False)
    traveller(T0)
    # when beat evaluates twice
    with django_capture_on_commit_callbacks(execute=True):
        services.alerts_evaluate_webhooks(now=timezone.now())
        services.alerts_evaluate_webhooks(now=timezone.now())
    # then one alert, for the failing endpoint only
    alert = Alert.objects.get()
    assert (alert.kind, alert.subject, alert.source) == (AlertKind.WEBHOOK_DISABLED, str(failing.pk), None)
    assert [c["type"] for c in announced] == ["alert.raised"]
    assert len(mail.outbox) == 1
    # when a manager enables it again
    WebhookEndpoint.objects.filter(pk=failing.pk).update(enabled=True, disabled_reason="")
    traveller.move(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        services.alerts_evaluate_webhooks(now=timezone.now())
    alert.refresh_from_db()
    assert alert.resolved_at == T0 + dt.timedelta(minutes=5)
    assert [c["type"] for c in announced] == ["alert.raised", "alert.resolved"]


def test_alert_is_written_to_the_real_outbox_with_its_brand(old_source, traveller, manager):
    from integrations.webhooks.models import OutboxEvent

    traveller(T0)
    events(old_source, 1, T0)
    traveller.move(minutes=61)
    services.alerts_evaluate_source(source=old_source, now=timezone.now())
    row = OutboxEvent.objects.get(type="alert.raised")
    assert row.brand_id == old_source.brand_id
    assert row.data["kind"] == "no_events" and row.data["source"] == "casino-crm"


def test_source_evaluation_leaves_webhook_alerts_alone(old_source, traveller, evaluate):
    traveller(T0)
    AlertFactory(
        source=None,
        brand=None,
        kind=AlertKind.WEBHOOK_DISABLED,
        subject="3",
        key="-:webhook_disabled:3",
        title="Webhook endpoint disabled",
    )
    evaluate(old_source)
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 1


def test_database_refuses_a_second_open_alert_for_the_same_condition(old_source):
    AlertFactory(source=old_source)
    with pytest.raises(IntegrityError):
        AlertFactory(source=old_source)


def test_a_resolved_condition_that_comes_back_opens_a_new_alert(old_source, traveller, evaluate):
    traveller(T0)
    events(old_source, 1, T0)
    traveller.move(minutes=61)
    evaluate(old_source)
    events(old_source, 1, timezone.now())
    evaluate(old_source)
    traveller.move(minutes=61)
    evaluate(old_source)
    assert Alert.objects.filter(source=old_source).count() == 2
    assert Alert.objects.filter(source=old_source, resolved_at__isnull=True).count() == 1


def test_rules_switched_off_resolve_open_alerts(old_source, traveller, evaluate):
    traveller(T0)
    events(old_source, 1, T0)
    traveller.move(minutes=61)
    evaluate(old_source)
    services.alert_rule_update(source=old_source, enabled=False)
    evaluate(old_source)
    assert kinds(old_source) == []


def test_alert_rule_update_validates_thresholds(old_source):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.alert_rule_update(source=old_source, rejected_share_percent=Decimal("1000.5"))
    rule = services.alert_rule_update(source=old_source, rejected_share_percent=Decimal("12.50"), silence_minutes=15)
    assert (rule.rejected_share_percent, rule.silence_minutes) == (Decimal("12.50"), 15)


def test_beat_task_evaluates_every_active_source(old_source, traveller, announced, manager, eager):
    from integrations.monitoring.tasks import evaluate_alerts

    traveller(T0)
    events(old_source, 1, T0)
    traveller.move(minutes=90)
    evaluate_alerts.delay()
    assert kinds(old_source) == [(AlertKind.NO_EVENTS, "")]
