"""The outbox: the one way the platform announces a change to the outside world.

Call `outbox_publish` inside the transaction that makes the change: the announcement commits or
rolls back with it. Delivery to operator webhook endpoints and partner postbacks happens later,
from the outbox, by the `delivery` queue: on commit the new events are handed to a dispatch task, and
a periodic sweep dispatches whatever that hand-over missed (a broker that was down, a worker that died).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.bulk_sql import json_text

from .choices import ALL_EVENTS, DeliveryStatus
from .models import Delivery, OutboxEvent, PartnerPostback, WebhookEndpoint
from .postbacks import postback_events_for, postback_values, render_template

log = logging.getLogger(__name__)


class _PendingBatch:
    """The events published in one transaction, handed to the dispatch task once, after commit."""

    def __init__(self):
        self.event_ids: list[int] = []
        self.handed_over = False

    def __call__(self) -> None:
        from .tasks import enqueue_dispatch

        self.handed_over = True
        enqueue_dispatch(self.event_ids)


def _current_batch() -> _PendingBatch | None:
    # A batch is reused while its on-commit callback is still registered; a rolled-back transaction drops
    # the callback, so the next publish starts a new batch.
    batch = getattr(connection, "_outbox_batch", None)
    if batch is None or batch.handed_over or not connection.in_atomic_block:
        return None
    if any(entry[1] is batch for entry in connection.run_on_commit):
        return batch
    return None


class _Collector:
    """Announcements made inside `outbox_collect`, written together when its block ends."""

    def __init__(self, depth: int):
        self.depth = depth
        self.items: list[dict] = []


def _collector() -> _Collector | None:
    collector = getattr(connection, "_outbox_collector", None)
    # Only at the transaction level the block was entered at: an announcement made inside a nested atomic
    # block is written at once, so a savepoint that rolls back takes its announcement with it.
    if collector is None or not connection.in_atomic_block or len(connection.atomic_blocks) != collector.depth:
        return None
    return collector


@contextmanager
def outbox_collect() -> Iterator[None]:
    """Group the `outbox_publish` calls of a block into one `outbox_publish_many` when the block ends.

    Use it inside the transaction of the change, around a loop that announces many things: the rows are
    the same, in the same order, handed over on commit the same way, but written with one INSERT. If the
    block raises, nothing it collected is written (the change it announces fails with it). Outside an
    atomic block every call writes at once, as without it.
    """
    collector = _Collector(len(connection.atomic_blocks)) if connection.in_atomic_block else None
    previous = getattr(connection, "_outbox_collector", None)
    connection._outbox_collector = collector
    try:
        yield
    finally:
        connection._outbox_collector = previous
    if collector is not None:
        outbox_publish_many(items=collector.items)


def outbox_publish(*, type: str, data: dict, affiliate_id: int | None = None, brand_id: int | None = None) -> None:
    """Record that `type` happened with `data` (JSON-safe: ids, strings, decimal strings)."""
    item = {"type": type, "data": data, "affiliate_id": affiliate_id, "brand_id": brand_id}
    collector = _collector()
    if collector is not None:
        collector.items.append(item)
        return
    outbox_publish_many(items=[item])


def _insert_postgresql(items: list[dict], now) -> list[int]:
    """The rows as one INSERT … SELECT FROM unnest(column arrays), parameters bound on the server: Django's
    bulk_create builds a model object per row and quotes every array element on the client, which costs
    more than the INSERT. Returns the new ids in the order of `items`."""
    import psycopg

    encoder = OutboxEvent._meta.get_field("data").encoder
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    sql = (
        f"INSERT INTO {table} (type, data, affiliate_id, brand_id, created_at) "  # noqa: S608 (names from the model)
        "SELECT u.type, u.data::jsonb, u.affiliate_id, u.brand_id, %s "
        "FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[]) WITH ORDINALITY "
        "AS u(type, data, affiliate_id, brand_id, n) ORDER BY u.n RETURNING id"
    )
    params = [
        now,
        [item["type"] for item in items],
        [json_text(item["data"], encoder) for item in items],
        [item.get("affiliate_id") for item in items],
        [item.get("brand_id") for item in items],
    ]
    connection.ensure_connection()
    # Django's cursor wrapper (query logging, error translation) around a server-binding psycopg cursor.
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def outbox_publish_many(*, items: list[dict]) -> None:
    """`outbox_publish` for many announcements at once (each item: type, data, and optionally affiliate_id
    and brand_id), in order: one INSERT for all of them, handed over with the transaction's other events."""
    if not items:
        return
    if connection.vendor == "postgresql":
        event_ids = _insert_postgresql(items, timezone.now())
    else:
        now = timezone.now()
        events = OutboxEvent.objects.bulk_create(
            [
                OutboxEvent(
                    type=item["type"],
                    data=item["data"],
                    affiliate_id=item.get("affiliate_id"),
                    brand_id=item.get("brand_id"),
                    created_at=now,
                )
                for item in items
            ],
            batch_size=1000,
        )
        event_ids = [event.pk for event in events]
    batch = _current_batch()
    if batch is not None:
        batch.event_ids.extend(event_ids)
        return
    batch = _PendingBatch()
    batch.event_ids.extend(event_ids)
    connection._outbox_batch = batch
    transaction.on_commit(batch)


def endpoint_wants(endpoint: WebhookEndpoint, event: OutboxEvent) -> bool:
    if endpoint.affiliate_id is not None and endpoint.affiliate_id != event.affiliate_id:
        return False
    types = endpoint.event_types or []
    return ALL_EVENTS in types or event.type in types


def _deliveries_for(event: OutboxEvent, endpoints: list[WebhookEndpoint], postbacks: dict) -> list[Delivery]:
    now = event.dispatched_at
    rows = [
        Delivery(event=event, endpoint=endpoint, next_attempt_at=now)
        for endpoint in endpoints
        if endpoint_wants(endpoint, event)
    ]
    if event.affiliate_id is None:
        return rows
    for kind in postback_events_for(type=event.type, data=event.data):
        postback = postbacks.get((event.affiliate_id, kind))
        if postback is None:
            continue
        values = postback_values(
            event=kind, type=event.type, data=event.data, raw_customer_ids=postback.raw_customer_ids
        )
        rows.append(
            Delivery(
                event=event, postback=postback, url=render_template(postback.url_template, values), next_attempt_at=now
            )
        )
    return rows


def outbox_dispatch(*, event_ids: list[int]) -> list[int]:
    """Create the deliveries of these events (once: an event already dispatched is skipped) and return the
    ids of the new deliveries, to be sent after commit."""
    if not event_ids:
        return []
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
            .filter(pk__in=event_ids, dispatched_at__isnull=True)
            .order_by("pk")
        )
        if not events:
            return []
        now = timezone.now()
        endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
        affiliates = {e.affiliate_id for e in events if e.affiliate_id is not None}
        postbacks = {
            (p.affiliate_id, p.event): p
            for p in PartnerPostback.objects.filter(affiliate_id__in=affiliates, enabled=True)
        }
        rows = []
        for event in events:
            event.dispatched_at = now
            rows.extend(_deliveries_for(event, endpoints, postbacks))
        Delivery.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
        return list(
            Delivery.objects.filter(event_id__in=[e.pk for e in events], status=DeliveryStatus.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def outbox_sweep(*, limit: int = 5000) -> dict:
    """Pick up what the on-commit hand-over missed: events not dispatched a while after they were written,
    and deliveries that are due (a retry whose time has come, or a claim whose worker never finished)."""
    from .tasks import enqueue_deliveries, enqueue_dispatch

    now = timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOKS_SWEEP_GRACE_SECONDS)
    stale_events = list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=grace)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if stale_events:
        enqueue_dispatch(stale_events)
    due = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__lte=grace) | Q(next_attempt_at__isnull=True))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if due:
        enqueue_deliveries(due)
    return {"events": len(stale_events), "deliveries": len(due)}


def outbox_purge(*, older_than_days: int | None = None, limit: int = 10000) -> int:
    """Delete announcements (with their deliveries and attempt logs) older than the retention period whose
    deliveries are all finished. Returns how many events went."""
    days = settings.WEBHOOKS_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    old = (
        OutboxEvent.objects.filter(created_at__lt=cutoff, dispatched_at__isnull=False)
        .exclude(deliveries__status=DeliveryStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(old)
    if ids:
        OutboxEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
