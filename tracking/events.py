"""Recording canonical events: one ConversionEvent per (source, external id), ever.

Ingestion (integrations.ingestion) maps and attributes inbound events, then calls `events_record`
with drafts inside its transaction. Here the events are written, deduplicated by the database's
unique constraint, announced in the outbox, linked to the events they change (status updates,
refunds, chargebacks, which wait unapplied until their event arrives), and handed to the commission
engine on commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.bulk_sql import columns_insert, run_bound
from integrations.webhooks.outbox import outbox_publish_many

from .choices import MONEY_TYPES, REFERRING_TYPES, EventStatus, EventType
from .models import ConversionEvent, Customer

logger = logging.getLogger(__name__)
SUB_FIELDS = ("sub1", "sub2", "sub3", "sub4", "sub5")
COMMISSION_MESSAGE_SIZE = 500


@dataclass
class EventDraft:
    """A canonical event ready to be written (mapped, converted, attributed)."""

    source_id: int
    brand_id: int
    inbound_id: int | None
    external_id: str
    type: str
    status: str
    occurred_at: datetime
    customer: Customer | None = None
    amount: Decimal | None = None
    currency: str = ""
    amount_base: Decimal | None = None
    fx_rate: Decimal | None = None
    fx_date: object = None
    ref_external_id: str = ""
    ref_order_id: str = ""
    country: str = ""
    hints: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    is_test: bool = False
    derive_ftd: bool = False


@dataclass
class Recorded:
    """What became of a draft: the event written, or the original it duplicates."""

    event_id: int
    duplicate: bool
    original_inbound_id: int | None = None


def _event_fields(draft: EventDraft) -> dict:
    """The ConversionEvent's field values (by attname) for a draft."""
    data = dict(draft.data)
    if draft.ref_order_id:
        data["ref_order_id"] = draft.ref_order_id
    customer = draft.customer
    return {
        "source_id": draft.source_id,
        "external_id": draft.external_id,
        "inbound_id": draft.inbound_id,
        "brand_id": draft.brand_id,
        "type": draft.type,
        "status": draft.status,
        "customer_id": customer.pk if customer is not None else None,
        "affiliate_id": customer.affiliate_id if customer is not None else None,
        "amount": draft.amount,
        "currency": draft.currency,
        "amount_base": draft.amount_base,
        "fx_rate": draft.fx_rate,
        "fx_date": draft.fx_date,
        "occurred_at": draft.occurred_at,
        "ref_external_id": draft.ref_external_id,
        "country": draft.country,
        "hints": draft.hints,
        "data": data,
        "is_test": draft.is_test,
    }


_EVENT_COLUMNS = tuple(_event_fields(EventDraft(0, 0, None, "", "", "", None)))


def _insert(drafts: list[EventDraft]) -> list[int]:
    """Write the drafts in one statement; their ids, in order (IntegrityError if one exists already)."""
    rows = [_event_fields(d) for d in drafts]
    return columns_insert(model=ConversionEvent, columns={name: [r[name] for r in rows] for name in _EVENT_COLUMNS})


def _insert_one(draft: EventDraft) -> int:
    event = ConversionEvent(**_event_fields(draft))
    event.save(force_insert=True)
    return event.pk


def conversion_created_payload(draft: EventDraft, event_id: int) -> dict:
    hints = draft.hints or {}
    customer = draft.customer
    return {
        "id": event_id,
        "event_id": draft.external_id,
        "type": draft.type,
        "status": draft.status,
        "customer": customer.pk if customer is not None else None,
        "customer_external_id": customer.external_id if customer is not None else None,
        "affiliate_id": customer.affiliate_id if customer is not None else None,
        "click_id": hints.get("click_id"),
        **{name: hints.get(name) for name in SUB_FIELDS},
        "amount": format(draft.amount, "f") if draft.amount is not None else None,
        "currency": draft.currency or None,
        "amount_base": format(draft.amount_base, "f") if draft.amount_base is not None else None,
        "occurred_at": draft.occurred_at.isoformat(),
        "is_test": draft.is_test,
    }


def _existing(source_id: int, external_ids: list[str]) -> list[tuple[int, str, int | None]]:
    """(id, external id, inbound id) of this source's events with these external ids."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(ConversionEvent._meta.db_table)
        return run_bound(
            f"SELECT id, external_id, inbound_id FROM {table} "  # noqa: S608 (the model's table)
            "WHERE source_id = %s AND external_id = ANY(%b::text[])",
            [source_id, external_ids],
        )
    return list(
        ConversionEvent.objects.filter(source_id=source_id, external_id__in=external_ids).values_list(
            "pk", "external_id", "inbound_id"
        )
    )


def _waiting(source_id: int, external_ids: list[str], order_ids: list[str]) -> list[int]:
    """Ids of this source's referring events not yet applied that name one of these events (by event id, or by
    order id). Two lookups rather than one with OR, so that the event id one keeps to its index."""
    referring = sorted(REFERRING_TYPES)
    if connection.vendor != "postgresql":
        waiting = ConversionEvent.objects.filter(source_id=source_id, type__in=referring, ref_event__isnull=True)
        found = set(waiting.filter(ref_external_id__in=external_ids).values_list("pk", flat=True))
        if order_ids:
            found.update(waiting.filter(data__ref_order_id__in=order_ids).values_list("pk", flat=True))
        return sorted(found)
    table = connection.ops.quote_name(ConversionEvent._meta.db_table)
    where = f"FROM {table} WHERE source_id = %s AND type = ANY(%b::text[]) AND ref_event_id IS NULL"
    # `<> ''` lets the planner use the partial index of referring events.
    sql = f"SELECT id {where} AND ref_external_id <> '' AND ref_external_id = ANY(%b::text[])"
    params = [source_id, referring, external_ids]
    if order_ids:
        # `data ? …` as in the condition of the partial index on waiting order references.
        sql += f" UNION SELECT id {where} AND (data ? 'ref_order_id') AND data->>'ref_order_id' = ANY(%b::text[])"
        params += [source_id, referring, order_ids]
    return sorted(pk for (pk,) in run_bound(sql, params))


def _derive_ftds(drafts: list[EventDraft]) -> None:
    """A source that never flags FTDs: a customer's first qualified deposit becomes the FTD.

    The customer rows are locked (customer_resolve) for the caller's transaction, so two first
    deposits of one customer processed at once cannot both become FTDs.
    """
    candidates = [
        d for d in drafts
        if d.derive_ftd and d.type == EventType.DEPOSIT and d.status == EventStatus.QUALIFIED and d.customer
    ]  # fmt: skip
    if not candidates:
        return
    customer_ids = {d.customer.pk for d in candidates}
    has_ftd = set(
        ConversionEvent.objects.filter(customer_id__in=customer_ids, type=EventType.FTD).values_list(
            "customer_id", flat=True
        )
    )
    for draft in candidates:
        if draft.customer.pk in has_ftd:
            continue
        draft.type = EventType.FTD
        draft.data = {**draft.data, "derived_ftd": True}
        has_ftd.add(draft.customer.pk)


def _derive_ftd_on_qualify(event: ConversionEvent, derive_ftd: bool) -> None:
    if not (derive_ftd and event.type == EventType.DEPOSIT and event.customer_id):
        return
    if event.status != EventStatus.QUALIFIED:
        return
    Customer.objects.select_for_update().filter(pk=event.customer_id).first()
    if not ConversionEvent.objects.filter(customer_id=event.customer_id, type=EventType.FTD).exists():
        event.type = EventType.FTD
        event.data = {**event.data, "derived_ftd": True}


def events_record(*, drafts: list[EventDraft]) -> list[Recorded]:
    """Write the drafts (in order) inside the caller's transaction; duplicates write nothing.

    Fast path: one existence query and one bulk INSERT. A concurrent writer of the same external id
    makes the INSERT fail; the drafts are then written one by one, each in a savepoint, and the
    loser reads the winner's row as its original.
    """
    if not drafts:
        return []
    with transaction.atomic():
        source_ids = {d.source_id for d in drafts}
        existing: dict[tuple[int, str], tuple[int, int | None]] = {}
        for source_id in source_ids:
            ids = [d.external_id for d in drafts if d.source_id == source_id]
            for pk, ext, inbound_id in _existing(source_id, ids):
                existing[(source_id, ext)] = (pk, inbound_id)

        outcomes: list[Recorded | None] = [None] * len(drafts)
        fresh: list[tuple[int, EventDraft]] = []
        seen: dict[tuple[int, str], int] = {}
        for index, draft in enumerate(drafts):
            key = (draft.source_id, draft.external_id)
            if key in existing:
                pk, inbound_id = existing[key]
                outcomes[index] = Recorded(pk, True, inbound_id)
            elif key in seen:
                outcomes[index] = Recorded(0, True, drafts[seen[key]].inbound_id)
            else:
                seen[key] = index
                fresh.append((index, draft))
        _derive_ftds([d for _, d in fresh])

        created: list[int | None] = []
        try:
            with transaction.atomic():
                created = _insert([d for _, d in fresh])
        except IntegrityError:
            created = []
            for index, draft in fresh:
                try:
                    with transaction.atomic():
                        created.append(_insert_one(draft))
                except IntegrityError:
                    original = (
                        ConversionEvent.objects.filter(source_id=draft.source_id, external_id=draft.external_id)
                        .values_list("pk", "inbound_id")
                        .first()
                    )
                    outcomes[index] = Recorded(original[0] if original else 0, True, original[1] if original else None)
                    created.append(None)
        new_events: list[tuple[EventDraft, int]] = []
        ids_by_index: dict[int, int] = {}
        for (index, draft), event_id in zip(fresh, created, strict=True):
            if event_id is not None:
                ids_by_index[index] = event_id
                outcomes[index] = Recorded(event_id, False)
                new_events.append((draft, event_id))
        for index, outcome in enumerate(outcomes):
            if outcome.duplicate and outcome.event_id == 0:
                outcome.event_id = ids_by_index.get(seen[(drafts[index].source_id, drafts[index].external_id)], 0)

        derive = {d.source_id: d.derive_ftd for d in drafts}
        outbox_publish_many(  # one INSERT for the whole batch
            items=[
                {
                    "type": "conversion.created",
                    "data": conversion_created_payload(draft, event_id),
                    "affiliate_id": draft.customer.affiliate_id if draft.customer is not None else None,
                    "brand_id": draft.brand_id,
                }
                for draft, event_id in new_events
            ]
        )
        changed = _link_referring(new_events, derive)
        _mark_rollups(new_events, changed)
        new_ids = [event_id for _, event_id in new_events]
        _enqueue_commissions(new_ids + sorted(changed - set(new_ids)))
    return outcomes


def _mark_rollups(new_events: list[tuple[EventDraft, int]], changed: set[int]) -> None:
    """Mark the report rollups of the new events, their customers' registrations and the events whose status
    changed (one INSERT; the targets' days need one read, only when some changed)."""
    from reports.upkeep import rollups_mark

    pairs = []
    for draft, _ in new_events:
        customer = draft.customer
        if customer is not None and customer.affiliate_id is not None:
            pairs.append((customer.affiliate_id, draft.occurred_at))
            pairs.append((customer.affiliate_id, customer.registered_at))
    new_ids = {event_id for _, event_id in new_events}
    targets = sorted(changed - new_ids)
    if targets:
        pairs.extend(ConversionEvent.objects.filter(pk__in=targets).values_list("affiliate_id", "occurred_at"))
    rollups_mark(pairs=pairs)


def _target_for(event: ConversionEvent) -> ConversionEvent | None:
    queryset = ConversionEvent.objects.select_for_update().filter(source_id=event.source_id)
    if event.ref_external_id:
        return queryset.filter(external_id=event.ref_external_id).exclude(pk=event.pk).first()
    order_id = (event.data or {}).get("ref_order_id")
    if order_id:
        money = MONEY_TYPES - REFERRING_TYPES
        # has_key as in the partial index's condition, so that the index serves the lookup.
        return queryset.filter(data__has_key="order_id", data__order_id=order_id, type__in=money).order_by("pk").first()
    return None


def _link_referring(new_events: list[tuple[EventDraft, int]], derive: dict[int, bool]) -> set[int]:
    """Apply new referring events to their targets, and waiting referring events to new targets."""
    changed: set[int] = set()
    pairs: list[tuple[ConversionEvent, ConversionEvent]] = []
    referring_ids = [event_id for draft, event_id in new_events if draft.type in REFERRING_TYPES]
    for event in ConversionEvent.objects.filter(pk__in=referring_ids).order_by("pk") if referring_ids else ():
        target = _target_for(event)
        if target is not None:
            pairs.append((event, target))
    by_source: dict[int, list[tuple[EventDraft, int]]] = {}
    for draft, event_id in new_events:
        if draft.type not in REFERRING_TYPES:
            by_source.setdefault(draft.source_id, []).append((draft, event_id))
    for source_id, group in by_source.items():
        by_ext = {d.external_id: event_id for d, event_id in group}
        by_order = {
            str(d.data["order_id"]): event_id for d, event_id in group if d.type in MONEY_TYPES and "order_id" in d.data
        }
        waiting_ids = _waiting(source_id, list(by_ext), list(by_order))
        if not waiting_ids:
            continue
        waiting = list(ConversionEvent.objects.filter(pk__in=waiting_ids).order_by("occurred_at", "pk"))
        matches = []
        for event in waiting:
            target_id = by_ext.get(event.ref_external_id) if event.ref_external_id else None
            if target_id is None:
                target_id = by_order.get(str((event.data or {}).get("ref_order_id")))
            if target_id is not None and event.pk != target_id:
                matches.append((event, target_id))
        targets = ConversionEvent.objects.select_for_update().in_bulk({target_id for _, target_id in matches})
        pairs.extend((event, targets[target_id]) for event, target_id in matches)
    pairs.sort(key=lambda pair: (pair[0].occurred_at, pair[0].pk))
    applied: set[int] = set()
    for event, target in pairs:
        if event.pk in applied:  # found both ways (the event and its target arrived together): once
            continue
        applied.add(event.pk)
        if event_apply(event=event, target=target, derive_ftd=derive.get(target.source_id, False)):
            changed.add(target.pk)
        changed.add(event.pk)
    return changed


def event_apply(*, event: ConversionEvent, target: ConversionEvent, derive_ftd: bool = False) -> bool:
    """Apply a status update, refund or chargeback to the event it refers to; True if its status changed.

    A status update older than one already applied does not overwrite it. A refund or chargeback of
    the whole amount (or of no stated amount) rejects the event; a partial one leaves its status to the
    commission engine, which reads the referring events.
    """
    changed = False
    if event.type == EventType.STATUS_UPDATE:
        newer = ConversionEvent.objects.filter(
            ref_event=target, type=EventType.STATUS_UPDATE, occurred_at__gt=event.occurred_at
        ).exists()
        if not newer and target.status != event.status:
            target.status = event.status
            changed = True
    elif (
        event.status != EventStatus.REJECTED
        and target.status != EventStatus.REJECTED
        and (event.amount is None or target.amount is None or event.amount >= target.amount)
    ):
        target.status = EventStatus.REJECTED
        changed = True
    if changed:
        _derive_ftd_on_qualify(target, derive_ftd)
        target.save(update_fields=["status", "type", "data"])
    event.ref_event = target
    event.ref_external_id = target.external_id
    event.applied_at = timezone.now()
    event.save(update_fields=["ref_event", "ref_external_id", "applied_at"])
    return changed


def _enqueue_commissions(event_ids: list[int]) -> None:
    if not event_ids:
        return

    def send():
        from commissions.tasks import process_event, process_events

        if process_event.app.conf.task_always_eager:
            for event_id in event_ids:
                process_event.delay(event_id)
            return
        try:
            # One message per batch of events: a message per event costs more than recording the event.
            with process_events.app.producer_or_acquire() as producer:
                for start in range(0, len(event_ids), COMMISSION_MESSAGE_SIZE):
                    process_events.apply_async((event_ids[start : start + COMMISSION_MESSAGE_SIZE],), producer=producer)
        except Exception:  # broker down: the events are stored; process_event can be re-run for them
            logger.exception("could not enqueue commissions for %d event(s)", len(event_ids))

    transaction.on_commit(send)
