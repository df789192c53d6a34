"""Delivery to a real local receiver: signatures, retries, faults, endpoint health."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook

from integrations.webhooks.choices import DeliveryStatus, NoticeKind
from integrations.webhooks.delivery import MAX_ATTEMPTS, RETRY_SCHEDULE
from integrations.webhooks.models import Delivery, DeliveryNotice
from integrations.webhooks.outbox import outbox_publish, outbox_sweep
from integrations.webhooks.services import endpoint_rotate_secret

from .factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def publish(run_on_commit, type="affiliate.created", data=None):
    run_on_commit(outbox_publish, type=type, data=data or {"id": 7, "name": "Acme"}, affiliate_id=7)


def verify(request, secret: str) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def sweep_at(run_on_commit, moment):
    with time_machine.travel(moment, tick=False):
        return run_on_commit(outbox_sweep)


def test_committed_event_is_delivered_signed_and_verified_by_standard_webhooks(receiver, run_on_commit):
    endpoint = WebhookEndpointFactory(url=receiver.url(), event_types=["affiliate.created"])

    publish(run_on_commit, data={"id": 7, "name": "Acme", "amount": "200.00"})

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    payload = verify(request, endpoint.secret)
    assert payload["type"] == "affiliate.created"
    assert payload["data"] == {"id": 7, "name": "Acme", "amount": "200.00"}
    assert set(json.loads(request.body)) == {"type", "timestamp", "data"}
    assert request.headers["content-type"] == "application/json"
    delivery = Delivery.objects.get()
    assert request.headers["webhook-id"] == delivery.message_id
    assert delivery.status == DeliveryStatus.SUCCEEDED
    attempt = delivery.attempt_log.get()
    assert (attempt.number, attempt.response_status, attempt.response_body, attempt.success) == (1, 200, "ok", True)
    assert attempt.request_body == request.body.decode()
    assert attempt.latency_ms >= 0


def test_endpoint_receives_only_the_event_types_it_chose(receiver, run_on_commit):
    WebhookEndpointFactory(url=receiver.url(), event_types=["commission.approved"])

    publish(run_on_commit, type="affiliate.created")

    assert receiver.requests == []
    assert not Delivery.objects.exists()


def test_partner_endpoint_receives_only_its_own_affiliates_events(receiver, run_on_commit):
    from affiliates.tests.factories import AffiliateFactory

    mine, other = AffiliateFactory(), AffiliateFactory()
    WebhookEndpointFactory(url=receiver.url(), affiliate=mine)

    run_on_commit(outbox_publish, type="commission.created", data={"id": 1}, affiliate_id=other.pk)
    run_on_commit(outbox_publish, type="commission.created", data={"id": 2}, affiliate_id=mine.pk)

    assert [json.loads(r.body)["data"]["id"] for r in receiver.requests] == [2]


def test_500_is_retried_after_seconds_with_the_same_webhook_id_then_succeeds(receiver, run_on_commit):
    receiver.script = [(500, "boom", {}), 200]
    endpoint = WebhookEndpointFactory(url=receiver.url())
    start = timezone.now()

    publish(run_on_commit)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    wait = delivery.next_attempt_at - start
    assert timedelta(seconds=4) <= wait <= timedelta(seconds=6)
    assert endpoint.__class__.objects.get().failing_since is not None

    sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(seconds=60))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert [a.response_status for a in delivery.attempt_log.all()] == [500, 200]
    assert delivery.attempt_log.first().response_body == "boom"
    assert endpoint.__class__.objects.get().failing_since is None


def test_retries_follow_the_schedule_and_give_up_after_the_last_attempt(receiver, run_on_commit):
    receiver.script = [503]
    WebhookEndpointFactory(url=receiver.url())
    publish(run_on_commit)
    delivery = Delivery.objects.get()
    waits = []
    for _ in range(MAX_ATTEMPTS - 1):
        previous = delivery.attempt_log.last().at
        sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(seconds=30))
        delivery.refresh_from_db()
        waits.append(delivery.attempt_log.last().at - previous)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == MAX_ATTEMPTS == 8
    assert len(receiver.requests) == 8
    for wait, base in zip(waits, RETRY_SCHEDULE, strict=True):
        assert base * 0.9 <= wait <= base * 1.1 + timedelta(seconds=50)
    total = sum(waits, timedelta())
    assert timedelta(hours=24) <= total <= timedelta(hours=32)


def test_timeout_is_a_failure_that_is_retried(receiver, run_on_commit, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.3
    receiver.script = ["hang"]
    WebhookEndpointFactory(url=receiver.url())

    publish(run_on_commit)

    delivery = Delivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert attempt.response_status is None
    assert attempt.error.startswith("timeout")
    assert attempt.latency_ms < 2000


def test_connection_closed_without_an_answer_is_a_failure_that_is_retried(receiver, run_on_commit):
    receiver.script = ["close"]
    WebhookEndpointFactory(url=receiver.url())

    publish(run_on_commit)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None
    assert delivery.attempt_log.get().error


def test_huge_answer_is_read_only_up_to_the_cap(receiver, run_on_commit, settings):
    settings.WEBHOOKS_MAX_RESPONSE_BYTES = 1024
    receiver.script = ["huge"]
    WebhookEndpointFactory(url=receiver.url())

    publish(run_on_commit)

    delivery = Delivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert attempt.response_status == 200
    assert 0 < len(attempt.response_body) <= 1024


def test_redirect_to_a_private_address_is_not_followed(receiver, run_on_commit):
    receiver.script = [(302, "", {"Location": "http://10.0.0.5/admin"})]
    WebhookEndpointFactory(url=receiver.url())

    publish(run_on_commit)

    delivery = Delivery.objects.get()
    assert len(receiver.requests) == 1
    assert delivery.last_status_code == 302
    assert delivery.status == DeliveryStatus.PENDING  # a webhook treats anything but 2xx as a failure


def test_410_gone_disables_the_endpoint_at_once_and_tells_the_manager(receiver, run_on_commit, settings):
    settings.WEBHOOKS_ALERT_EMAILS = ["ops@example.com"]
    receiver.script = [410]
    endpoint = WebhookEndpointFactory(url=receiver.url())

    publish(run_on_commit)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    notice = DeliveryNotice.objects.get()
    assert notice.kind == NoticeKind.ENDPOINT_DISABLED
    assert mail.outbox[-1].to == ["ops@example.com"]
    publish(run_on_commit, data={"id": 8})
    assert len(receiver.requests) == 1


def test_endpoint_failing_for_the_configured_time_is_disabled_with_an_alert(receiver, run_on_commit, settings):
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 24
    settings.WEBHOOKS_ALERT_EMAILS = ["ops@example.com"]
    receiver.script = [500]
    endpoint = WebhookEndpointFactory(url=receiver.url())
    publish(run_on_commit)
    delivery = Delivery.objects.get()

    while delivery.status == DeliveryStatus.PENDING:
        sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(seconds=30))
        delivery.refresh_from_db()
        endpoint.refresh_from_db()
        if not endpoint.enabled:
            break

    assert not endpoint.enabled
    assert endpoint.disabled_at - endpoint.failing_since >= timedelta(hours=24)
    assert DeliveryNotice.objects.filter(endpoint=endpoint, kind=NoticeKind.ENDPOINT_DISABLED).count() == 1
    assert "disabled" in mail.outbox[-1].subject.lower()


def test_deliveries_of_a_disabled_endpoint_are_cancelled_not_sent(receiver, run_on_commit):
    receiver.script = [500]
    endpoint = WebhookEndpointFactory(url=receiver.url())
    publish(run_on_commit)
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(enabled=False)
    delivery = Delivery.objects.get()

    sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(seconds=30))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CANCELLED
    assert len(receiver.requests) == 1


def test_secret_rotated_mid_retry_signs_with_new_and_old_secret_during_the_grace_period(receiver, run_on_commit):
    receiver.script = [500, 200]
    endpoint = WebhookEndpointFactory(url=receiver.url())
    old = endpoint.secret
    publish(run_on_commit)
    assert verify(receiver.requests[0], old)

    new = endpoint_rotate_secret(endpoint=endpoint, grace_hours=1)
    delivery = Delivery.objects.get()
    sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(seconds=30))

    retry = receiver.requests[1]
    assert len(retry.headers["webhook-signature"].split(" ")) == 2
    assert verify(retry, new)["type"] == "affiliate.created"
    assert verify(retry, old)["type"] == "affiliate.created"


def test_after_the_grace_period_only_the_new_secret_signs(receiver, run_on_commit):
    from standardwebhooks.webhooks import WebhookVerificationError

    receiver.script = [500, 500, 200]
    endpoint = WebhookEndpointFactory(url=receiver.url())
    old = endpoint.secret
    publish(run_on_commit)
    new = endpoint_rotate_secret(endpoint=endpoint, grace_hours=0.01)
    delivery = Delivery.objects.get()

    sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(minutes=1))
    delivery.refresh_from_db()
    sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(minutes=1))

    last = receiver.requests[-1]
    assert len(receiver.requests) == 3
    assert last.headers["webhook-signature"].count("v1,") == 1
    with time_machine.travel(delivery.next_attempt_at + timedelta(minutes=1), tick=False):
        assert verify(last, new)
        with pytest.raises(WebhookVerificationError):
            verify(last, old)


@pytest.mark.parametrize("factor", [0.9, 0.97, 1.0, 1.08, 1.1])
def test_retry_task_is_never_scheduled_before_the_retry_is_due(receiver, run_on_commit, factor):
    # A countdown rounded down (5.4 s to 5 s) made the retry task run before next_attempt_at: it claimed
    # nothing, and without beat's sweep the retry never went out.
    from unittest import mock

    from integrations.webhooks import tasks

    receiver.script = [(500, "boom", {})]
    WebhookEndpointFactory(url=receiver.url())
    with (
        mock.patch("integrations.webhooks.delivery.random.uniform", return_value=factor),
        mock.patch.object(tasks, "enqueue_deliveries", wraps=tasks.enqueue_deliveries) as enqueue,
    ):
        publish(run_on_commit)

    delivery = Delivery.objects.get()
    retries = [c for c in enqueue.call_args_list if c.kwargs.get("countdown")]
    assert [c.args[0] for c in retries] == [[delivery.pk]]
    countdown = retries[0].kwargs["countdown"]
    # The retry is due 5 s x jitter after the attempt was recorded; the task waits at least that long.
    assert countdown >= 5 * factor
    assert countdown - 5 * factor < 1


def test_retry_task_that_runs_early_hands_the_delivery_back_for_the_time_left(receiver, run_on_commit):
    from unittest import mock

    from integrations.webhooks import tasks
    from integrations.webhooks.delivery import deliveries_run

    receiver.script = [(500, "boom", {}), 200]
    WebhookEndpointFactory(url=receiver.url())
    publish(run_on_commit)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=2.5))

    conf = tasks.webhooks_deliver.app.conf
    conf.task_always_eager = False  # as with a real broker, where countdowns are honoured
    try:
        with mock.patch.object(tasks, "enqueue_deliveries") as enqueue:
            assert run_on_commit(deliveries_run, delivery_ids=[delivery.pk]) == {"sent": 0}
    finally:
        conf.task_always_eager = True

    assert len(receiver.requests) == 1
    enqueue.assert_called_once_with([delivery.pk], countdown=3)


def test_a_schedule_from_the_settings_sets_the_waits_and_the_number_of_attempts(receiver, run_on_commit, settings):
    # Given an operator's shorter schedule: three retries, after 5 s, 2 min and 10 min
    settings.WEBHOOKS_RETRY_SCHEDULE = [5.0, 120.0, 600.0]
    receiver.script = [503]
    WebhookEndpointFactory(url=receiver.url())
    publish(run_on_commit)
    delivery = Delivery.objects.get()
    waits = []
    for _ in range(3):
        previous = delivery.attempt_log.last().at
        sweep_at(run_on_commit, delivery.next_attempt_at + timedelta(seconds=30))
        delivery.refresh_from_db()
        waits.append((delivery.attempt_log.last().at - previous).total_seconds())
    # Then the delivery gave up after four attempts, each retry after its wait (±10 %, plus the sweep's lag)
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == (DeliveryStatus.FAILED, 4, 4)
    for wait, base in zip(waits, [5, 120, 600], strict=True):
        assert base * 0.9 <= wait <= base * 1.1 + 50


def test_retries_past_the_countdown_limit_wait_for_the_sweep(receiver, run_on_commit, settings):
    from unittest import mock

    from integrations.webhooks import tasks

    settings.WEBHOOKS_RETRY_SCHEDULE = [30.0]
    settings.WEBHOOKS_RETRY_COUNTDOWN_SECONDS = 10.0
    receiver.script = [500]
    WebhookEndpointFactory(url=receiver.url())
    with mock.patch.object(tasks, "enqueue_deliveries", wraps=tasks.enqueue_deliveries) as enqueue:
        publish(run_on_commit)
    # the retry is due in about 30 s, past the 10 s limit: no countdown task, the sweep will send it
    assert not [c for c in enqueue.call_args_list if c.kwargs.get("countdown")]
    assert Delivery.objects.get().next_attempt_at > timezone.now() + timedelta(seconds=20)
