"""Webhook retries in a real deployment: gunicorn, one worker started as
`celery -A config worker -P solo -Q celery,default,ingest,commissions,delivery`, a real receiver.

The first retry is due 5 s (±10 %) after a failed attempt and goes out by a countdown task, with no beat
running. Later retries are sent by beat's sweep; the whole schedule is proven with its later delays shortened
by the settings an operator has for it (WEBHOOKS_RETRY_SCHEDULE, WEBHOOKS_RETRY_COUNTDOWN_SECONDS,
WEBHOOKS_SWEEP_INTERVAL_SECONDS), the first retry's 5 s left as it is.
"""

import pytest
from standardwebhooks import Webhook

from core.keys import api_key_create
from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.models import Delivery
from reliability.processes import call, wait_until
from reliability.receiver import TimedReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def _subscribe(web, key: str, url: str) -> str:
    status, _, body = call("POST", f"{web.url}/api/v1/webhook-endpoints", key=key,
                           body={"url": url, "event_types": ["affiliate.created"]})  # fmt: skip
    assert status == 201, body
    return body["secret"]


def _create_affiliate(web, key: str, name: str) -> int:
    status, _, body = call("POST", f"{web.url}/api/v1/affiliates", key=key,
                           body={"name": name, "email": f"{name.lower().replace(' ', '.')}@example.com"})  # fmt: skip
    assert status == 201, body
    return body["id"]


def test_a_webhook_that_failed_with_500_is_retried_about_5_seconds_later_without_beat(
    deployment, database_url, private_redis
):
    _, key = api_key_create(name="back office", scope="management")
    deployment.configure(database_url=database_url, redis_url=private_redis.url)
    web = deployment.gunicorn()
    deployment.worker()  # no beat: the first retry must not depend on the sweep
    with TimedReceiver(script=[500, 200]) as receiver:
        secret = _subscribe(web, key, receiver.url)
        affiliate_id = _create_affiliate(web, key, "Retry Media")

        assert wait_until(lambda: len(receiver.arrivals) >= 2, 30), deployment.logs()
        first, second = receiver.arrivals[:2]
        # the second attempt came 5 s x (0.9 … 1.1) later, rounded up to a whole second, plus the hand-over
        assert 4.4 <= second.at - first.at <= 7.5, second.at - first.at
        assert (first.answered, second.answered) == (500, 200)
        # the same message, signed anew, with the affiliate it announces
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        payload = Webhook(secret).verify(second.body, second.headers)
        assert payload["type"] == "affiliate.created"
        assert payload["data"]["id"] == affiliate_id
        wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(), 5)
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 2, 200)
        assert list(delivery.attempt_log.order_by("number").values_list("response_status", flat=True)) == [500, 200]
        # and nothing more arrives
        assert not wait_until(lambda: len(receiver.arrivals) > 2, 3)


def test_the_whole_retry_schedule_runs_to_its_last_attempt_with_a_worker_and_beat(
    deployment, database_url, private_redis
):
    # 8 attempts: the first retry after 5 s (countdown), the six later ones after 6.5 s each (beat's sweep:
    # 6.5 s less its 10 % jitter is still past the 5.5 s up to which retries are enqueued with a countdown).
    later = 6.5
    _, key = api_key_create(name="back office", scope="management")
    deployment.configure(
        database_url=database_url, redis_url=private_redis.url,
        WEBHOOKS_RETRY_SCHEDULE=",".join(["5"] + [str(later)] * 6), WEBHOOKS_RETRY_COUNTDOWN_SECONDS="5.5",
        WEBHOOKS_SWEEP_INTERVAL_SECONDS="1", WEBHOOKS_SWEEP_GRACE_SECONDS="0",
    )  # fmt: skip
    web = deployment.gunicorn(workers=1)
    deployment.worker()
    deployment.beat()
    with (
        TimedReceiver(script=[500] * 7 + [200]) as recovers,
        TimedReceiver(script=[503]) as never,
    ):
        _subscribe(web, key, recovers.url)
        _subscribe(web, key, never.url)
        _create_affiliate(web, key, "Schedule Media")

        assert wait_until(lambda: len(recovers.arrivals) >= 8 and len(never.arrivals) >= 8, 150), deployment.logs()
        for receiver in (recovers, never):
            gaps = [b.at - a.at for a, b in zip(receiver.arrivals, receiver.arrivals[1:], strict=False)]
            assert 4.4 <= gaps[0] <= 7.5, gaps
            # each later retry is due 6.5 s (±10 %) after the last attempt; the sweep runs every second
            assert all(later * 0.9 - 0.1 <= gap <= later * 1.1 + 4 for gap in gaps[1:]), gaps
            assert len({a.headers["webhook-id"] for a in receiver.arrivals}) == 1
        # eight attempts and no ninth: one delivery succeeded at the last attempt, the other failed for good
        assert not wait_until(lambda: len(never.arrivals) > 8 or len(recovers.arrivals) > 8, later * 1.1 + 1)
    assert wait_until(lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(), 10)
    outcomes = {d.endpoint.url: (d.status, d.attempts, d.last_status_code) for d in Delivery.objects.all()}
    assert outcomes == {
        recovers.url: (DeliveryStatus.SUCCEEDED, 8, 200),
        never.url: (DeliveryStatus.FAILED, 8, 503),
    }
