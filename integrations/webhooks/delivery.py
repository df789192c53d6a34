"""Sending deliveries: claim a batch, send its requests concurrently, record every attempt, schedule retries.

A delivery is claimed by a compare-and-swap update that also pushes `next_attempt_at` a lease ahead: a second
worker (or a duplicate task) finds nothing to claim, and a worker that dies mid-flight leaves a delivery that
falls due again when the lease runs out, for the sweep to pick up. At least once, never twice at a time.
"""

import logging
import math
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .choices import DeliveryStatus
from .models import Delivery, DeliveryAttempt, PartnerPostback, WebhookEndpoint
from .signing import signature_header, webhook_body
from .transport import HttpResult, http_send

log = logging.getLogger(__name__)

# Delay before attempt n+1 after attempt n failed: 8 attempts over about 28 hours (settings.WEBHOOKS_RETRY_SCHEDULE).
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# Retries this close are enqueued with a countdown; later ones wait for the sweep
# (settings.WEBHOOKS_RETRY_COUNTDOWN_SECONDS).
COUNTDOWN_LIMIT = timedelta(minutes=1)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
BODY_EXCERPT = 2000
REQUEST_EXCERPT = 4000
POSTBACK_RETRY_STATUSES = frozenset({408, 429})


def retry_schedule() -> tuple[timedelta, ...]:
    """The delays between attempts: the setting's seconds where it names them, else RETRY_SCHEDULE."""
    seconds = getattr(settings, "WEBHOOKS_RETRY_SCHEDULE", None)
    return tuple(timedelta(seconds=float(s)) for s in seconds) if seconds else RETRY_SCHEDULE


def max_attempts() -> int:
    return len(retry_schedule()) + 1


def countdown_limit() -> timedelta:
    seconds = getattr(settings, "WEBHOOKS_RETRY_COUNTDOWN_SECONDS", None)
    return COUNTDOWN_LIMIT if seconds is None else timedelta(seconds=float(seconds))


def retry_delay(attempts: int) -> timedelta | None:
    """The wait after `attempts` failed attempts, with ±10 % jitter; None when there are no retries left."""
    schedule = retry_schedule()
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * random.uniform(0.9, 1.1)


def countdown_for(delay: timedelta) -> int:
    """Whole seconds to wait before a retry task runs so that it never runs before the retry is due."""
    return max(1, math.ceil(delay.total_seconds()))


@dataclass
class _Prepared:
    delivery: Delivery
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    result: HttpResult | None = None
    at: object = None


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=settings.WEBHOOKS_DELIVERY_THREADS, thread_name_prefix="webhook-delivery"
            )
        return _executor


def endpoint_secrets(endpoint: WebhookEndpoint, now) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until its grace period ends."""
    valid = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        valid.append(endpoint.previous_secret)
    return valid


def _prepare(delivery: Delivery, now) -> _Prepared:
    if delivery.endpoint_id is not None:
        event, endpoint = delivery.event, delivery.endpoint
        body = webhook_body(type=event.type, timestamp=event.created_at.isoformat(), data=event.data)
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                secrets_=endpoint_secrets(endpoint, now), message_id=delivery.message_id, timestamp=timestamp, body=body
            ),
        }
        return _Prepared(delivery=delivery, method="POST", url=endpoint.url, headers=headers, body=body)
    return _Prepared(delivery=delivery, method="GET", url=delivery.url, headers={"webhook-id": delivery.message_id})


def _send(prepared: _Prepared) -> _Prepared:
    prepared.at = timezone.now()
    prepared.result = http_send(
        method=prepared.method,
        url=prepared.url,
        headers=prepared.headers,
        body=prepared.body,
        timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
        max_bytes=settings.WEBHOOKS_MAX_RESPONSE_BYTES,
    )
    return prepared


def _is_success(result: HttpResult) -> bool:
    return result.status is not None and 200 <= result.status < 300


def _is_retryable(delivery: Delivery, result: HttpResult) -> bool:
    if result.refused:
        return False
    if delivery.endpoint_id is not None:
        return result.status != 410  # a webhook is retried on anything but success and Gone
    return result.status is None or result.status in POSTBACK_RETRY_STATUSES or result.status >= 500


def _claim(delivery_ids: list[int], now) -> list[Delivery]:
    token = uuid.uuid4()
    lease = now + timedelta(seconds=settings.WEBHOOKS_TIMEOUT_SECONDS * 2 + 30)
    claimed = Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    if not claimed.update(claim=token, next_attempt_at=lease):
        return []
    return list(Delivery.objects.filter(claim=token).select_related("event", "endpoint", "postback").order_by("pk"))


def deliveries_run(*, delivery_ids: list[int]) -> dict:
    """Send the due deliveries among `delivery_ids` concurrently and record the outcome of each."""
    now = timezone.now()
    deliveries = _claim(delivery_ids, now)
    _requeue_early(set(delivery_ids) - {d.pk for d in deliveries}, now)
    if not deliveries:
        return {"sent": 0}
    ready, cancelled = [], []
    for delivery in deliveries:
        target = delivery.endpoint or delivery.postback
        (ready if target.enabled else cancelled).append(delivery)
    if cancelled:
        Delivery.objects.filter(pk__in=[d.pk for d in cancelled], claim__in=[d.claim for d in cancelled]).update(
            status=DeliveryStatus.CANCELLED, finished_at=now, claim=None, last_error="target disabled"
        )
    prepared = [_prepare(d, now) for d in ready]
    sent = [_send(prepared[0])] if len(prepared) == 1 else list(_pool().map(_send, prepared))
    retries = _record(sent)
    if retries:
        from .tasks import enqueue_deliveries

        for delay, ids in retries.items():
            transaction.on_commit(lambda ids=ids, delay=delay: enqueue_deliveries(ids, countdown=delay))
    return {"sent": len(sent), "cancelled": len(cancelled)}


def _requeue_early(delivery_ids: set[int], now) -> None:
    """A retry task that runs a little before its delivery is due (another host's clock, a broker that hands
    an ETA message over early) hands it back for the time left instead of leaving it to the sweep."""
    from .tasks import enqueue_deliveries, webhooks_deliver

    if not delivery_ids or webhooks_deliver.app.conf.task_always_eager:
        return  # inline tasks ignore countdowns: the sweep sends what falls due

    early = Delivery.objects.filter(
        pk__in=delivery_ids, status=DeliveryStatus.PENDING, claim=None,
        next_attempt_at__gt=now, next_attempt_at__lte=now + countdown_limit(),
    ).values_list("pk", "next_attempt_at")  # fmt: skip
    by_wait: dict[int, list[int]] = {}
    for pk, due in early:
        by_wait.setdefault(countdown_for(due - now), []).append(pk)
    for wait, ids in by_wait.items():
        transaction.on_commit(lambda ids=ids, wait=wait: enqueue_deliveries(ids, countdown=wait))


def _excerpt(data: bytes | None, limit: int) -> str:
    if not data:
        return ""
    return data[:limit].decode("utf-8", errors="replace")


def _record(sent: list[_Prepared]) -> dict[int, list[int]]:
    """Write attempts and outcomes; returns the deliveries to retry soon, by countdown in seconds."""
    now = timezone.now()
    limit = countdown_limit()
    attempts, soon = [], {}
    succeeded: dict[int, list[int]] = {}
    endpoint_results: dict[int, list[tuple[Delivery, HttpResult]]] = {}
    postback_finals: dict[int, list[bool]] = {}
    with transaction.atomic():
        for item in sent:
            delivery, result = item.delivery, item.result
            number = delivery.attempts + 1
            success = _is_success(result)
            attempts.append(
                DeliveryAttempt(
                    delivery=delivery,
                    number=number,
                    at=item.at,
                    request_method=item.method,
                    request_url=item.url[:2000],
                    request_headers=item.headers,
                    request_body=_excerpt(item.body, REQUEST_EXCERPT),
                    response_status=result.status,
                    response_body=_excerpt(result.body, BODY_EXCERPT),
                    error=result.error,
                    latency_ms=result.latency_ms,
                    success=success,
                )
            )
            delay = None if success or not _is_retryable(delivery, result) else retry_delay(number)
            if success:
                # Successes are the bulk of the work: one UPDATE per status code below, not one per delivery.
                succeeded.setdefault(result.status, []).append(delivery.pk)
            else:
                update = {"attempts": number, "last_status_code": result.status, "last_error": result.error}
                if delay is None:
                    update |= {"status": DeliveryStatus.FAILED, "finished_at": now, "next_attempt_at": None}
                else:
                    update["next_attempt_at"] = now + delay
                    if delay <= limit:
                        # Rounded up: a task that arrives before next_attempt_at finds nothing due to claim.
                        soon.setdefault(countdown_for(delay), []).append(delivery.pk)
                Delivery.objects.filter(pk=delivery.pk, claim=delivery.claim).update(claim=None, **update)
            if delivery.endpoint_id is not None:
                endpoint_results.setdefault(delivery.endpoint_id, []).append((delivery, result))
            elif success or delay is None:
                postback_finals.setdefault(delivery.postback_id, []).append(success)
        claim = sent[0].delivery.claim if sent else None
        for status_code, ids in succeeded.items():
            Delivery.objects.filter(pk__in=ids, claim=claim).update(
                status=DeliveryStatus.SUCCEEDED,
                attempts=F("attempts") + 1,
                last_status_code=status_code,
                last_error="",
                claim=None,
                finished_at=now,
                next_attempt_at=None,
            )
        DeliveryAttempt.objects.bulk_create(attempts, batch_size=500)
        for endpoint_id, results in endpoint_results.items():
            _endpoint_health(endpoint_id, results, now)
        for postback_id, outcomes in postback_finals.items():
            _postback_health(postback_id, outcomes)
    return soon


def _endpoint_health(endpoint_id: int, results: list[tuple[Delivery, HttpResult]], now) -> None:
    from .services import endpoint_disable

    if any(result.status == 410 for _, result in results):
        endpoint_disable(endpoint_id=endpoint_id, reason="The endpoint answered 410 Gone.")
        return
    if any(_is_success(result) for _, result in results):
        WebhookEndpoint.objects.filter(pk=endpoint_id).exclude(failing_since=None).update(failing_since=None)
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(last_success_at=now)
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since=None).update(failing_since=now)
    limit = now - timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    if WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True, failing_since__lte=limit).exists():
        hours = settings.WEBHOOKS_DISABLE_AFTER_HOURS
        last = results[-1][1]
        endpoint_disable(
            endpoint_id=endpoint_id,
            reason=f"Every delivery failed for {hours:g} hours; the last answer: {last.status or last.error}.",
        )


def _postback_health(postback_id: int, outcomes: list[bool]) -> None:
    from .services import postback_disable

    for success in outcomes:
        if success:
            PartnerPostback.objects.filter(pk=postback_id).exclude(consecutive_failures=0).update(
                consecutive_failures=0
            )
        else:
            PartnerPostback.objects.filter(pk=postback_id).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = settings.POSTBACKS_DISABLE_AFTER_FAILURES
    if PartnerPostback.objects.filter(pk=postback_id, enabled=True, consecutive_failures__gte=limit).exists():
        postback_disable(postback_id=postback_id, reason=f"{limit} consecutive postbacks failed.")
