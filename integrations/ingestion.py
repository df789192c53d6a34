"""Ingestion: receive (store before answering), process (map → convert → attribute → record), sweep, replay.

Receiving is the hot path. It does what the CONTRACT answers need and nothing more: the source and
its compiled mapping come from a short in-process cache, the mapping pass (pure Python, no database)
decides a 400 for an unmappable request and finds the event id, one indexed query answers
duplicates, one INSERT stores the InboundEvent, and the worker is asked to process it. Nothing that
needs the database beyond that (FX, attribution, the ConversionEvent) happens before the answer.

Processing is at least once and idempotent: rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED`
while still `received`, the ConversionEvent's unique (source, external id) is the deduplication
record, and it is written in the same transaction that marks the inbound row processed. If the
broker is down, the request is still stored and answered; `inbound_sweep` (beat) picks it up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from affiliates.models import Brand
from tracking.attribution import CustomerClaim, customers_resolve
from tracking.events import EventDraft, events_record

from .fx import MissingRate, RateCache
from .mapping import HINT_FIELDS, IGNORE, Mapper, MappingResult, compile_mapping
from .models import InboundEvent, InboundStatus, MappingVersion, Source

logger = logging.getLogger(__name__)

SOURCE_CACHE_SECONDS = 5.0
PROCESS_CHUNK = 500
SWEEP_GRACE = timedelta(seconds=60)
SWEEP_LIMIT = 20_000
MAX_STORED_BODY = 64 * 1024


# --- the source at runtime ----------------------------------------------------------------------
@dataclass(frozen=True)
class SourceRuntime:
    """What the hot path needs to know about a source, cached briefly per process."""

    id: int
    slug: str
    brand_id: int
    is_active: bool
    rate_limit_per_minute: int
    mapper: Mapper | None
    mapping_error: str
    mapping_version_id: int | None


_runtime_cache: dict[object, tuple[float, SourceRuntime | None]] = {}
_runtime_lock = threading.Lock()


def _runtime_build(source: Source) -> SourceRuntime:
    try:
        mapper, error = compile_mapping(source.mapping), ""
    except ValueError as exc:  # MappingError: a stored mapping that no longer compiles rejects, loudly
        mapper, error = None, str(exc)
    version_id = (
        MappingVersion.objects.filter(source_id=source.pk).order_by("-version").values_list("pk", flat=True).first()
    )
    return SourceRuntime(
        id=source.pk,
        slug=source.slug,
        brand_id=source.brand_id,
        is_active=source.is_active,
        rate_limit_per_minute=source.rate_limit_per_minute,
        mapper=mapper,
        mapping_error=error,
        mapping_version_id=version_id,
    )


def source_runtime(*, slug: str | None = None, source_id: int | None = None) -> SourceRuntime | None:
    """The active source by slug or id (None if unknown or inactive), from a cache of a few seconds."""
    key = ("slug", slug) if slug is not None else ("id", source_id)
    now = time.monotonic()
    with _runtime_lock:
        hit = _runtime_cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    lookup = {"slug": slug} if slug is not None else {"pk": source_id}
    source = Source.objects.filter(**lookup).first()
    runtime = _runtime_build(source) if source is not None and source.is_active else None
    with _runtime_lock:
        if len(_runtime_cache) > 5_000:
            _runtime_cache.clear()
        _runtime_cache[key] = (now + SOURCE_CACHE_SECONDS, runtime)
    return runtime


def source_runtime_forget() -> None:
    """Called when a source or its mapping changes (other processes follow within the cache time)."""
    with _runtime_lock:
        _runtime_cache.clear()


# --- receiving ----------------------------------------------------------------------------------
@dataclass
class RequestMeta:
    channel: str
    method: str = ""
    content_type: str = ""
    query_string: str = ""
    remote_addr: str | None = None
    received_at: datetime = field(default_factory=timezone.now)


@dataclass
class Received:
    """The answer for one event: stored as `id`; `status` accepted, duplicate or rejected."""

    id: int
    status: str
    code: str = ""
    errors: list[dict] = field(default_factory=list)
    detail: str = ""


def _json_safe(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _inbound(runtime: SourceRuntime, meta: RequestMeta, **fields) -> InboundEvent:
    return InboundEvent(
        source_id=runtime.id,
        received_at=meta.received_at,
        channel=meta.channel,
        method=meta.method,
        content_type=meta.content_type[:120],
        query_string=meta.query_string,
        remote_addr=meta.remote_addr,
        **fields,
    )


def inbound_store_rejected(
    *, runtime: SourceRuntime, meta: RequestMeta, code: str, detail: str, body: str = "", payload=None
) -> InboundEvent:
    """Store a request that could not be taken apart (bad JSON, wrong content type, too large, rate limited)."""
    inbound = _inbound(
        runtime,
        meta,
        body=body[:MAX_STORED_BODY],
        payload=_json_safe(payload),
        status=InboundStatus.REJECTED,
        reason_code=code,
        reason_detail=detail,
        processed_at=meta.received_at,
    )
    inbound.save(force_insert=True)
    return inbound


def rate_limit_retry_after(*, runtime: SourceRuntime, count: int = 1) -> int:
    """Count `count` events against the source's per-minute limit; seconds to wait if over it, else 0."""
    now = time.time()
    window = int(now // 60)
    key = f"ingest-rate:{runtime.id}:{window}"
    try:
        used = cache.incr(key, count)
    except ValueError:
        used = count if cache.add(key, count, timeout=70) else cache.incr(key, count)
    if used > runtime.rate_limit_per_minute:
        return max(1, int(60 - (now % 60)) + 1)
    return 0


def _map(runtime: SourceRuntime, payload, received_at: datetime) -> MappingResult:
    if runtime.mapper is None:
        from .mapping import Problem

        return MappingResult(None, errors=[Problem("mapping", runtime.mapping_error, "invalid_mapping")])
    return runtime.mapper.map(payload, received_at=received_at)


def inbound_receive(
    *, runtime: SourceRuntime, payloads: list, meta: RequestMeta, bodies: list[str] | None = None
) -> list[Received]:
    """Map, deduplicate and store each payload (one bulk INSERT), then ask the worker to process them.

    Rejected events are stored too (status rejected, reason). A duplicate (an event id this source
    sent before and that was not rejected, or one earlier in the same batch) is stored as such and
    answers with the original's id.
    """
    batch_id = uuid.uuid4().hex if len(payloads) > 1 else ""
    results = [_map(runtime, payload, meta.received_at) for payload in payloads]
    ids = {r.external_id for r in results if r.ok and not r.ignored and r.external_id}
    originals: dict[str, int] = {}
    if len(ids) == 1:
        [external_id] = ids
        original = _original_of(runtime.id, external_id)
        if original is not None:
            originals[external_id] = original
    elif ids:
        for pk, ext in (
            InboundEvent.objects.filter(
                source_id=runtime.id,
                external_id__in=ids,
                status__in=(InboundStatus.RECEIVED, InboundStatus.PROCESSED),
            )
            .order_by("pk")
            .values_list("pk", "external_id")
        ):
            originals.setdefault(ext, pk)

    rows: list[InboundEvent] = []
    kinds: list[str] = []
    first_in_batch: dict[str, int] = {}
    for index, (payload, result) in enumerate(zip(payloads, results, strict=True)):
        body = bodies[index] if bodies is not None else ""
        common = {
            "body": body[:MAX_STORED_BODY],
            "payload": _json_safe(payload),
            "batch_id": batch_id,
            "batch_index": index if batch_id else None,
            "mapping_version_id": runtime.mapping_version_id,
            "canonical": result.canonical,
            "external_id": result.external_id[:200],
        }
        if not result.ok:
            row = _inbound(
                runtime, meta, status=InboundStatus.REJECTED, reason_code=result.reason_code,
                reason_detail=result.reason_detail, processed_at=meta.received_at, attempts=1, **common,
            )  # fmt: skip
            kind = "rejected"
        elif result.ignored:
            row = _inbound(
                runtime, meta, status=InboundStatus.IGNORED, reason_code="ignored_event_type",
                reason_detail=f"type: {result.canonical.get('source_type')!r} is ignored by the mapping",
                processed_at=meta.received_at, attempts=1, **common,
            )  # fmt: skip
            kind = "accepted"
        elif result.external_id in originals:
            row = _inbound(
                runtime, meta, status=InboundStatus.DUPLICATE, reason_code="duplicate",
                reason_detail=f"event_id: {result.external_id!r} was received as #{originals[result.external_id]}",
                duplicate_of_id=originals[result.external_id], processed_at=meta.received_at, attempts=1, **common,
            )  # fmt: skip
            kind = "duplicate"
        elif result.external_id in first_in_batch:
            row = _inbound(
                runtime, meta, status=InboundStatus.DUPLICATE, reason_code="duplicate",
                reason_detail=f"event_id: {result.external_id!r} appears earlier in this batch "
                f"(index {first_in_batch[result.external_id]})",
                processed_at=meta.received_at, attempts=1, **common,
            )  # fmt: skip
            kind = "duplicate_in_batch"
        else:
            row = _inbound(runtime, meta, status=InboundStatus.RECEIVED, **common)
            first_in_batch[result.external_id] = index
            kind = "accepted"
        rows.append(row)
        kinds.append(kind)

    if len(rows) == 1:
        _insert_one(rows[0])
    else:
        # Originals first: a duplicate inside the batch points at its original's id.
        leading = [r for r, k in zip(rows, kinds, strict=True) if k != "duplicate_in_batch"]
        InboundEvent.objects.bulk_create(leading)
        trailing = []
        for row, kind, result in zip(rows, kinds, results, strict=True):
            if kind == "duplicate_in_batch":
                row.duplicate_of_id = rows[first_in_batch[result.external_id]].pk
                trailing.append(row)
        if trailing:
            InboundEvent.objects.bulk_create(trailing)

    answers: list[Received] = []
    to_process: list[int] = []
    for row, kind, result in zip(rows, kinds, results, strict=True):
        if kind == "rejected":
            answers.append(
                Received(
                    row.pk,
                    "rejected",
                    code=result.reason_code,
                    errors=[p.as_dict() for p in result.errors],
                    detail=result.reason_detail,
                )
            )
        elif kind in ("duplicate", "duplicate_in_batch"):
            answers.append(Received(row.duplicate_of_id, "duplicate", code="duplicate"))
        else:
            answers.append(Received(row.pk, "accepted"))
            if row.status == InboundStatus.RECEIVED:
                to_process.append(row.pk)
    if len(payloads) == 1:
        inbound_handover(inbound_ids=to_process)
    else:
        inbound_enqueue(inbound_ids=to_process)
    return answers


# The single-event path (every postback) runs these two statements per request: prepared once as SQL,
# they skip the ORM's query compilation, which costs more than the statements themselves.
_ORIGINAL_SQL: str | None = None
_INSERT_SQL: str | None = None
_INSERT_FIELDS: list = []


def _original_of(source_id: int, external_id: str) -> int | None:
    """The earliest stored, not rejected, inbound event of this source with this event id."""
    global _ORIGINAL_SQL
    if _ORIGINAL_SQL is None:
        table = connection.ops.quote_name(InboundEvent._meta.db_table)
        _ORIGINAL_SQL = (
            f"SELECT id FROM {table} WHERE source_id = %s AND external_id = %s "  # noqa: S608 (model names only)
            "AND status IN (%s, %s) ORDER BY id LIMIT 1"
        )
    with connection.cursor() as cursor:
        cursor.execute(_ORIGINAL_SQL, [source_id, external_id, InboundStatus.RECEIVED, InboundStatus.PROCESSED])
        row = cursor.fetchone()
    return row[0] if row else None


def _insert_one(row: InboundEvent) -> None:
    global _INSERT_SQL, _INSERT_FIELDS
    if _INSERT_SQL is None:
        _INSERT_FIELDS = [f for f in InboundEvent._meta.concrete_fields if not f.primary_key]
        table = connection.ops.quote_name(InboundEvent._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in _INSERT_FIELDS)
        marks = ", ".join(["%s"] * len(_INSERT_FIELDS))
        _INSERT_SQL = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"  # noqa: S608
    params = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _INSERT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, params)
        row.pk = cursor.fetchone()[0]
    row._state.adding = False


def inbound_enqueue(*, inbound_ids: list[int]) -> bool:
    """Ask the `ingest` queue to process these rows. A broker failure is logged, never raised: the rows
    are stored and the sweep will process them."""
    if not inbound_ids:
        return True
    from .tasks import ingest_process

    try:
        for start in range(0, len(inbound_ids), PROCESS_CHUNK):
            ingest_process.apply_async(args=[inbound_ids[start : start + PROCESS_CHUNK]], retry=False)
    except Exception:
        logger.warning("broker unavailable; %d inbound event(s) left for the sweep", len(inbound_ids), exc_info=True)
        return False
    return True


# A postback is handed to the queue together with the others that arrive within this window: one queue
# message per group instead of one per request, which is most of a postback's cost after its INSERT. The
# rows are stored before the answer, so a process that stops with a group pending loses nothing: the
# sweep processes those rows.
HANDOVER_WINDOW = 0.05


class _Handover:
    def __init__(self):
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._timer: threading.Timer | None = None

    def add(self, inbound_ids: list[int]) -> None:
        with self._lock:
            self._ids.extend(inbound_ids)
            if self._timer is None:
                self._timer = threading.Timer(HANDOVER_WINDOW, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            ids, timer = self._ids, self._timer
            self._ids, self._timer = [], None
        if timer is not None:
            timer.cancel()
        inbound_enqueue(inbound_ids=ids)


_handover = _Handover()


def inbound_handover(*, inbound_ids: list[int]) -> None:
    """Hand single events to the queue in groups (inline at once where tasks run eagerly)."""
    from .tasks import ingest_process

    if ingest_process.app.conf.task_always_eager:
        inbound_enqueue(inbound_ids=inbound_ids)
    elif inbound_ids:
        _handover.add(inbound_ids)


# --- processing ---------------------------------------------------------------------------------
@dataclass
class _Context:
    mappers: dict[int, tuple[Mapper | None, str, int | None]] = field(default_factory=dict)
    brands: dict[str, int | None] = field(default_factory=dict)
    brand_objects: dict[int, Brand] = field(default_factory=dict)
    rates: RateCache = field(default_factory=RateCache)

    def mapper(self, source: Source) -> tuple[Mapper | None, str, int | None]:
        if source.pk not in self.mappers:
            runtime = _runtime_build(source)
            self.mappers[source.pk] = (runtime.mapper, runtime.mapping_error, runtime.mapping_version_id)
        return self.mappers[source.pk]

    def brand_id(self, slug: str) -> int | None:
        if slug not in self.brands:
            self.brands[slug] = Brand.objects.filter(slug=slug).values_list("pk", flat=True).first()
        return self.brands[slug]

    def brand(self, brand_id: int) -> Brand:
        if brand_id not in self.brand_objects:
            self.brand_objects[brand_id] = Brand.objects.get(pk=brand_id)
        return self.brand_objects[brand_id]


@dataclass
class Timing:
    """Where processing spent its time (the end-to-end benchmark reports the shares)."""

    mapping: float = 0.0
    attribution: float = 0.0
    recording: float = 0.0
    total: float = 0.0
    events: int = 0


class _Reject(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _reject(row: InboundEvent, code: str, detail: str, now: datetime) -> None:
    row.status = InboundStatus.REJECTED
    row.reason_code = code
    row.reason_detail = detail
    row.processed_at = now


def _draft(row: InboundEvent, canonical: dict, ctx: _Context) -> tuple[EventDraft, CustomerClaim | None]:
    """The event as a draft, and what it says about its customer (resolved for the whole chunk at once)."""
    source = row.source
    brand_id = source.brand_id
    if canonical.get("brand"):
        brand_id = ctx.brand_id(canonical["brand"])
        if brand_id is None:
            raise _Reject("unknown_brand", f"brand: unknown brand {canonical['brand']!r}")
    occurred_at = datetime.fromisoformat(canonical["occurred_at"])
    amount = amount_base = rate = rate_date = None
    currency = canonical.get("currency", "")
    if "amount" in canonical:
        amount = Decimal(canonical["amount"])
        try:
            conversion = ctx.rates.convert(amount, currency, occurred_at)
        except MissingRate as exc:
            raise _Reject("missing_fx_rate", f"currency: {exc}") from None
        amount_base, rate, rate_date = conversion.amount_base, conversion.rate, conversion.rate_date
    hints = {name: canonical[name] for name in HINT_FIELDS if name in canonical}
    claim = None
    if canonical.get("customer_id"):
        claim = CustomerClaim(
            brand=ctx.brand(brand_id),
            external_id=canonical["customer_id"][:120],
            hints=hints,
            occurred_at=occurred_at,
            country=canonical.get("country", ""),
            registration=canonical["type"] == "registration",
        )
    draft = EventDraft(
        source_id=source.pk,
        brand_id=brand_id,
        inbound_id=row.pk,
        external_id=row.external_id,
        type=canonical["type"],
        status=canonical["status"],
        occurred_at=occurred_at,
        amount=amount,
        currency=currency,
        amount_base=amount_base,
        fx_rate=rate,
        fx_date=rate_date,
        ref_external_id=canonical.get("ref_event_id", ""),
        ref_order_id=canonical.get("ref_order_id", ""),
        country=canonical.get("country", ""),
        hints=hints,
        data=canonical.get("data", {}),
        is_test=source.test_mode,
        derive_ftd=source.derive_ftd,
    )
    return draft, claim


UPDATE_FIELDS = [
    "status", "reason_code", "reason_detail", "canonical", "external_id", "mapping_version", "attempts",
    "processed_at", "duplicate_of",
]  # fmt: skip


def _process_chunk(ids: list[int], *, remap: bool, timing: Timing) -> dict[int, str]:
    now = timezone.now()
    ctx = _Context()
    outcomes: dict[int, str] = {}
    with transaction.atomic():
        # FOR NO KEY UPDATE: rows that point at this one (duplicates, canonical events) take KEY SHARE locks
        # on it, which must not make SKIP LOCKED pass it over.
        rows = list(
            InboundEvent.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("source")
            .filter(pk__in=ids, status=InboundStatus.RECEIVED)
        )
        # Events of one customer stay in arrival order; customers are locked in a stable order.
        rows.sort(key=lambda r: ((r.canonical or {}).get("customer_id", ""), r.pk))
        drafts: list[tuple[InboundEvent, EventDraft]] = []
        claims: list[tuple[EventDraft, CustomerClaim]] = []
        for row in rows:
            row.attempts += 1
            started = time.perf_counter()
            if remap or row.canonical is None:
                mapper, error, version_id = ctx.mapper(row.source)
                row.mapping_version_id = version_id
                if row.payload is None:
                    result = None
                elif mapper is None:
                    _reject(row, "invalid_mapping", f"mapping: {error}", now)
                    timing.mapping += time.perf_counter() - started
                    continue
                else:
                    result = mapper.map(row.payload, received_at=row.received_at)
                timing.mapping += time.perf_counter() - started
                if result is None:
                    _reject(row, row.reason_code or "invalid_payload", row.reason_detail or "no payload", now)
                    continue
                row.canonical = result.canonical
                row.external_id = result.external_id
                if not result.ok:
                    _reject(row, result.reason_code, result.reason_detail, now)
                    continue
            if row.canonical.get("type") == IGNORE:
                row.status, row.reason_code, row.processed_at = InboundStatus.IGNORED, "ignored_event_type", now
                row.reason_detail = f"type: {row.canonical.get('source_type')!r} is ignored by the mapping"
                continue
            try:
                draft, claim = _draft(row, row.canonical, ctx)
            except _Reject as exc:
                _reject(row, exc.code, exc.detail, now)
                continue
            drafts.append((row, draft))
            if claim is not None:
                claims.append((draft, claim))

        started = time.perf_counter()
        customers = customers_resolve(claims=[claim for _, claim in claims])
        for (draft, _claim), customer in zip(claims, customers, strict=True):
            draft.customer = customer
        timing.attribution += time.perf_counter() - started

        started = time.perf_counter()
        recorded = events_record(drafts=[d for _, d in drafts])
        for (row, draft), outcome in zip(drafts, recorded, strict=True):
            row.processed_at = now
            row.reason_code = row.reason_detail = ""
            if outcome.duplicate:
                row.status = InboundStatus.DUPLICATE
                row.reason_code = "duplicate"
                row.duplicate_of_id = outcome.original_inbound_id
                row.reason_detail = f"event_id: {row.external_id!r} was already recorded"
            else:
                row.status = InboundStatus.PROCESSED
                if draft.ref_order_id or draft.ref_external_id:
                    _canonical_with_ref(row, outcome.event_id)
        _save_outcomes(rows)
        timing.recording += time.perf_counter() - started
        for row in rows:
            outcomes[row.pk] = row.status
    timing.events += len(rows)
    return outcomes


def _save_outcomes(rows: list[InboundEvent]) -> None:
    """One prepared UPDATE run for every row (executemany): Django's bulk_update builds a CASE per field and
    row, which costs more than the processing itself at batch sizes."""
    if not rows:
        return
    fields = [InboundEvent._meta.get_field(name) for name in UPDATE_FIELDS]
    table = connection.ops.quote_name(InboundEvent._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        # Table and column names come from the model, never from input.
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", params)  # noqa: S608


def _canonical_with_ref(row: InboundEvent, event_id: int) -> None:
    """A referring event found by order id shows the event id it resolved to."""
    from tracking.models import ConversionEvent

    ref_external_id = (
        ConversionEvent.objects.filter(pk=event_id, ref_event__isnull=False)
        .values_list("ref_external_id", flat=True)
        .first()
    )
    if ref_external_id and "ref_order_id" in row.canonical:
        canonical = {k: v for k, v in row.canonical.items() if k != "ref_order_id"}
        canonical["ref_event_id"] = ref_external_id
        row.canonical = canonical


def inbound_process(*, inbound_ids: list[int], remap: bool = False, timing: Timing | None = None) -> dict[int, str]:
    """Process the `received` rows among `inbound_ids` (others are skipped: already done, or being done
    by another worker). Returns {inbound id: new status}."""
    timing = timing or Timing()
    started = time.perf_counter()
    outcomes: dict[int, str] = {}
    ids = sorted(set(inbound_ids))
    for start in range(0, len(ids), PROCESS_CHUNK):
        outcomes.update(_process_isolating_failures(ids[start : start + PROCESS_CHUNK], remap=remap, timing=timing))
    timing.total += time.perf_counter() - started
    return outcomes


def _process_isolating_failures(ids: list[int], *, remap: bool, timing: Timing) -> dict[int, str]:
    """A chunk that fails for a reason other than a transient database error is retried row by row, so one
    poisonous event never holds back its neighbours; the one that still fails is rejected with the error
    (`processing_error`, replayable once the cause is fixed) instead of being retried forever."""
    try:
        return _process_chunk(ids, remap=remap, timing=timing)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        if len(ids) > 1:
            outcomes: dict[int, str] = {}
            for pk in ids:
                outcomes.update(_process_isolating_failures([pk], remap=remap, timing=timing))
            return outcomes
        logger.exception("inbound event %s could not be processed", ids[0])
        changed = InboundEvent.objects.filter(pk=ids[0], status=InboundStatus.RECEIVED).update(
            status=InboundStatus.REJECTED,
            reason_code="processing_error",
            reason_detail=f"{type(exc).__name__}: {exc}"[:2000],
            processed_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
        return {ids[0]: InboundStatus.REJECTED} if changed else {}


def inbound_sweep(*, grace: timedelta = SWEEP_GRACE, limit: int = SWEEP_LIMIT) -> int:
    """Process what was stored but never processed (a lost task, a broker outage). Returns the count."""
    from .selectors import inbound_unprocessed_ids

    ids = inbound_unprocessed_ids(received_before=timezone.now() - grace, limit=limit)
    if ids:
        inbound_process(inbound_ids=ids)
    return len(ids)


def inbound_replay(*, inbound_ids: list[int], timing: Timing | None = None) -> dict[int, str]:
    """Re-process rejected (or stuck) inbound events under the source's current mapping.

    Returns {inbound id: status after the replay}; processed, duplicate and ignored rows are left as
    they are (their outcome is final) and reported with their status.
    """
    ids = sorted(set(inbound_ids))
    InboundEvent.objects.filter(pk__in=ids, status=InboundStatus.REJECTED).exclude(
        reason_code__in=NOT_REPLAYABLE
    ).update(status=InboundStatus.RECEIVED, reason_code="", reason_detail="")
    outcomes = inbound_process(inbound_ids=ids, remap=True, timing=timing)
    for pk, status in InboundEvent.objects.filter(pk__in=ids).exclude(pk__in=outcomes).values_list("pk", "status"):
        outcomes[pk] = status
    return outcomes


# Requests that never had an event in them: replaying them cannot produce one.
NOT_REPLAYABLE = ("invalid_json", "unsupported_content_type", "body_too_large", "batch_too_large", "invalid_payload")


def replay_summary(outcomes: dict[int, str]) -> str:
    counts: dict[str, int] = {}
    for status in outcomes.values():
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to replay"


def body_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def dumps(payload) -> str:
    return json.dumps(_json_safe(payload), separators=(",", ":"), ensure_ascii=False)
