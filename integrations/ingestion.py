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
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from affiliates.models import Brand
from core.bulk_sql import rows_update, run_bound
from tracking.attribution import CustomerClaim, customers_resolve
from tracking.events import EventDraft, events_record

from .fx import MissingRate, RateCache
from .mapping import HINT_FIELDS, IGNORE, Mapper, MappingResult, compile_mapping
from .models import InboundEvent, InboundStatus, MappingVersion, Source

logger = logging.getLogger(__name__)

SOURCE_CACHE_SECONDS = 5.0
# Events per processing transaction (and per `ingest` task message): a batch of the API's largest size in one
# go; larger chunks cost the same per event and hold their customers' locks longer.
PROCESS_CHUNK = 1000
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
    rate_limit_forget()


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


_redis: list = []


def _redis_client():
    """The Redis client behind the default cache, kept per process (Django's RedisCache builds a client and
    asks EXISTS before INCRBY on every incr); None when the cache is not Redis."""
    if not _redis:
        from django.core.cache import DEFAULT_CACHE_ALIAS, caches
        from django.core.cache.backends.redis import RedisCache

        backend = caches[DEFAULT_CACHE_ALIAS]
        _redis.append(backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None)
    return _redis[0]


# The per-source limit is one counter per minute shared by every process (Redis in production). A round
# trip per event was a fifth of a postback's cost, so each process reserves tokens in blocks and hands them
# out locally: the shared counter holds what all processes reserved, and a block only grants the tokens
# numbered up to the limit, so a source is never admitted more than its limit in a minute. The price is
# the other way: tokens reserved by one process and unused when the minute ends are lost to the others, so
# a source may be refused up to (processes x block) events early. Blocks are at most RATE_BLOCK_MAX and
# at most 1/RATE_BLOCK_SHARE of the headroom last seen, so they shrink to single tokens near the limit.
RATE_WINDOW_SECONDS = 60
RATE_BLOCK_MAX = 64
RATE_BLOCK_SHARE = 16


class _Allotment:
    """This process's share of a source's counter for one minute."""

    __slots__ = ("limit", "lock", "seen", "tokens", "window")

    def __init__(self, window: int, limit: int):
        self.window = window
        self.limit = limit
        self.tokens = 0  # reserved by this process and not handed out yet
        self.seen = 0  # the shared counter (reserved by all processes) as this process last saw it
        self.lock = threading.Lock()


_allotments: dict[int, _Allotment] = {}
_allotments_lock = threading.Lock()


def _rate_reserve(key: str, count: int) -> int:
    """Add `count` to the shared counter `key` (created with a TTL past its minute); its new value."""
    client = _redis_client()
    if client is not None:
        # One round trip: INCRBY creates the counter, the TTL outlives its minute.
        pipe = client.pipeline(transaction=False)
        pipe.incrby(cache.make_key(key), count)
        pipe.expire(cache.make_key(key), RATE_WINDOW_SECONDS + 10)
        return pipe.execute()[0]
    try:
        return cache.incr(key, count)
    except ValueError:
        return count if cache.add(key, count, timeout=RATE_WINDOW_SECONDS + 10) else cache.incr(key, count)


def rate_limit_retry_after(*, runtime: SourceRuntime, count: int = 1) -> int:
    """Count `count` events against the source's per-minute limit; seconds to wait if over it, else 0.
    A refused request uses no tokens."""
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    limit = runtime.rate_limit_per_minute
    allotment = _allotments.get(runtime.id)
    if allotment is None or allotment.window != window or allotment.limit != limit:
        with _allotments_lock:
            allotment = _allotments.get(runtime.id)
            if allotment is None or allotment.window != window or allotment.limit != limit:
                allotment = _allotments[runtime.id] = _Allotment(window, limit)
    with allotment.lock:
        if allotment.tokens < count and allotment.seen < limit:
            block = min(RATE_BLOCK_MAX, (limit - allotment.seen) // RATE_BLOCK_SHARE)
            wanted = max(count - allotment.tokens, block)
            try:
                total = _rate_reserve(f"ingest-rate:{runtime.id}:{window}", wanted)
            except Exception:
                # The shared counter (the cache) is unreachable: the event is stored all the same, and this
                # process counts the minute on its own, as if it were the only one.
                _rate_counter_down(runtime.id)
                total = allotment.seen + wanted
            allotment.tokens += max(0, min(wanted, limit - (total - wanted)))
            allotment.seen = total
        if allotment.tokens >= count:
            allotment.tokens -= count
            return 0
    return max(1, int(RATE_WINDOW_SECONDS - (now % RATE_WINDOW_SECONDS)) + 1)


_counter_down_logged: dict[int, float] = {}


def _rate_counter_down(source_id: int) -> None:
    now = time.monotonic()
    if now - _counter_down_logged.get(source_id, -60.0) >= 60.0:  # once a minute per source, not per request
        _counter_down_logged[source_id] = now
        logger.warning("rate-limit counter unreachable; source %s is limited per process", source_id, exc_info=True)


def rate_limit_forget() -> None:
    """Drop this process's reserved tokens (they stay counted: the source may be refused a little early)."""
    with _allotments_lock:
        _allotments.clear()


def _map(runtime: SourceRuntime, payload, received_at: datetime) -> MappingResult:
    if runtime.mapper is None:
        from .mapping import Problem

        return MappingResult(None, errors=[Problem("mapping", runtime.mapping_error, "invalid_mapping")])
    return runtime.mapper.map(payload, received_at=received_at)


def inbound_receive(
    *, runtime: SourceRuntime, payloads: list, meta: RequestMeta, bodies: list[str] | None = None
) -> list[Received]:
    """Map, deduplicate and store each payload (one INSERT), then ask the worker to process them.

    Rejected events are stored too (status rejected, reason). A duplicate (an event id this source
    sent before and that was not rejected, or one earlier in the same batch) is stored as such and
    answers with the original's id.
    """
    batch = len(payloads) > 1
    received_at = meta.received_at
    results = [_map(runtime, payload, received_at) for payload in payloads]
    candidates = {r.external_id for r in results if r.ok and not r.ignored and r.external_id}
    # One event on PostgreSQL (every postback): the duplicate check is part of its INSERT, one round trip.
    checked_insert = not batch and bool(candidates) and connection.vendor == "postgresql"
    originals = {} if checked_insert else _originals_of(runtime.id, candidates)

    rows: list[dict] = []
    kinds: list[str] = []
    first_in_batch: dict[str, int] = {}
    for index, (payload, result) in enumerate(zip(payloads, results, strict=True)):
        body = bodies[index] if bodies is not None else ""
        external_id = result.external_id
        row = {
            "body": body if len(body) <= MAX_STORED_BODY else body[:MAX_STORED_BODY],
            "payload": payload,
            "batch_index": index if batch else None,
            "canonical": result.canonical,
            "external_id": external_id[:200],
            "status": InboundStatus.RECEIVED,
            "reason_code": "",
            "reason_detail": "",
            "duplicate_of_id": None,
            "attempts": 0,
            "processed_at": None,
        }
        if not result.ok:
            row.update(
                status=InboundStatus.REJECTED, reason_code=result.reason_code, reason_detail=result.reason_detail,
                processed_at=received_at, attempts=1,
            )  # fmt: skip
            kind = "rejected"
        elif result.ignored:
            row.update(
                status=InboundStatus.IGNORED, reason_code="ignored_event_type",
                reason_detail=f"type: {result.canonical.get('source_type')!r} is ignored by the mapping",
                processed_at=received_at, attempts=1,
            )  # fmt: skip
            kind = "accepted"
        elif external_id in originals:
            row.update(
                status=InboundStatus.DUPLICATE, reason_code="duplicate",
                reason_detail=f"event_id: {external_id!r} was received as #{originals[external_id]}",
                duplicate_of_id=originals[external_id], processed_at=received_at, attempts=1,
            )  # fmt: skip
            kind = "duplicate"
        elif external_id in first_in_batch:
            row.update(
                status=InboundStatus.DUPLICATE, reason_code="duplicate",
                reason_detail=f"event_id: {external_id!r} appears earlier in this batch "
                f"(index {first_in_batch[external_id]})",
                processed_at=received_at, attempts=1,
            )  # fmt: skip
            kind = "duplicate_in_batch"
        else:
            first_in_batch[external_id] = index
            kind = "accepted"
        rows.append(row)
        kinds.append(kind)

    shared = {
        "source_id": runtime.id,
        "received_at": received_at,
        "channel": meta.channel,
        "method": meta.method,
        "content_type": meta.content_type[:120],
        "query_string": meta.query_string,
        "remote_addr": meta.remote_addr,
        "batch_id": uuid.uuid4().hex if batch else "",
        "mapping_version_id": runtime.mapping_version_id,
    }
    # Originals first: a duplicate inside the batch points at its original's id.
    leading = [i for i, kind in enumerate(kinds) if kind != "duplicate_in_batch"]
    pks: list[int | None] = [None] * len(rows)
    if checked_insert and kinds[0] == "accepted":
        pks[0], original = _store_unless_duplicate(shared, rows[0])
        if original is not None:
            kinds[0] = "duplicate"
            rows[0].update(status=InboundStatus.DUPLICATE, duplicate_of_id=original)
        leading = []
    for i, pk in zip(leading, _store(shared, [rows[i] for i in leading]), strict=True):
        pks[i] = pk
    trailing = [i for i, kind in enumerate(kinds) if kind == "duplicate_in_batch"]
    if trailing:
        for i in trailing:
            rows[i]["duplicate_of_id"] = pks[first_in_batch[results[i].external_id]]
        for i, pk in zip(trailing, _store(shared, [rows[i] for i in trailing]), strict=True):
            pks[i] = pk

    answers: list[Received] = []
    to_process: list[int] = []
    for pk, row, kind, result in zip(pks, rows, kinds, results, strict=True):
        if kind == "rejected":
            answers.append(
                Received(
                    pk,
                    "rejected",
                    code=result.reason_code,
                    errors=[p.as_dict() for p in result.errors],
                    detail=result.reason_detail,
                )
            )
        elif kind in ("duplicate", "duplicate_in_batch"):
            answers.append(Received(row["duplicate_of_id"], "duplicate", code="duplicate"))
        else:
            answers.append(Received(pk, "accepted"))
            if row["status"] == InboundStatus.RECEIVED:
                to_process.append(pk)
    if batch:
        inbound_enqueue(inbound_ids=to_process)
    else:
        inbound_handover(inbound_ids=to_process)
    return answers


def _originals_of(source_id: int, external_ids: set[str]) -> dict[str, int]:
    """For each event id, the earliest stored, not rejected, inbound event of this source with it."""
    if not external_ids:
        return {}
    if len(external_ids) == 1:
        [external_id] = external_ids
        sql = (
            f"SELECT id FROM {_table()} WHERE source_id = %s AND external_id = %s "  # noqa: S608 (model names only)
            "AND status IN (%s, %s) ORDER BY id LIMIT 1"
        )
        found = _fetch(sql, [source_id, external_id, InboundStatus.RECEIVED, InboundStatus.PROCESSED])
        return {external_id: found[0][0]} if found else {}
    originals: dict[str, int] = {}
    statuses = (InboundStatus.RECEIVED, InboundStatus.PROCESSED)
    if connection.vendor == "postgresql":
        # One index probe per event id, as for a single event: with `external_id = ANY(array)` the planner
        # may pick the (source, status, received_at) index and filter the source's every row (a fresh table,
        # stale statistics), a cost that grows with the table.
        sql = (
            f"SELECT e.external_id, (SELECT i.id FROM {_table()} i WHERE i.source_id = %s "  # noqa: S608
            "AND i.external_id = e.external_id AND i.status IN (%s, %s) ORDER BY i.id LIMIT 1) "
            "FROM unnest(%b::text[]) AS e(external_id)"
        )
        return {ext: pk for ext, pk in _fetch(sql, [source_id, *statuses, list(external_ids)]) if pk is not None}
    found = (
        InboundEvent.objects.filter(source_id=source_id, external_id__in=external_ids, status__in=statuses)
        .order_by("pk")
        .values_list("pk", "external_id")
    )
    for pk, ext in found:
        originals.setdefault(ext, pk)
    return originals


# Receiving writes InboundEvent rows with SQL built once from the model: on PostgreSQL as prepared statements
# with parameters bound on the server (a batch is one INSERT … SELECT FROM unnest(arrays) in binary), which
# skips the ORM's per-row work and the server's per-request parsing and planning; that was most of the cost.
_JSON_COLUMNS = ("payload", "canonical")


def _table() -> str:
    return connection.ops.quote_name(InboundEvent._meta.db_table)


def _fetch(sql: str, params: list, *, prepare: bool = True) -> list[tuple]:
    """Run one statement of the receiving path (prepared, on PostgreSQL, unless told not to) and return its rows."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each attribute of the `connection` proxy is a thread-local lookup
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    import psycopg

    db.ensure_connection()
    raw = db.connection
    # Behind a pooler in transaction mode (DISABLE_SERVER_SIDE_CURSORS, as Django documents) nothing is prepared.
    prepare = prepare and not db.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    if prepare and raw.prepare_threshold is None:
        # Django turns automatic preparing off; these statements ask for it explicitly, nothing else is
        # prepared (Django's own cursors bind on the client and never prepare).
        raw.prepare_threshold = 2**31 - 1
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchall()


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


_STORE_SQL: dict[tuple, tuple[str, list]] = {}


def _store_sql(shared: tuple[str, ...], varying: tuple[str, ...], many: bool) -> tuple[str, list]:
    """(INSERT statement, [(field, kind)]) for these columns; kind says where a field's value comes from."""
    key = (shared, varying, many)
    if key not in _STORE_SQL:
        quote = connection.ops.quote_name
        fields = [f for f in InboundEvent._meta.concrete_fields if not f.primary_key]
        columns, values, arrays, plan = [], [], [], []
        for f in fields:
            db_type = "jsonb" if f.attname in _JSON_COLUMNS else f.cast_db_type(connection)
            columns.append(quote(f.column))
            if many and f.attname in varying:
                values.append(f"u.c{len(arrays)}")
                arrays.append(f"%b::{db_type}[]")
                plan.append((f, "row"))
            else:
                values.append(f"%s::{db_type}")
                plan.append((f, "row" if f.attname in varying else "shared" if f.attname in shared else "default"))
        if many:
            names = ", ".join(f"c{i}" for i in range(len(arrays)))
            # Scalars first, then the arrays: the parameters go in `plan` order with the arrays last.
            plan = [p for p in plan if p[1] != "row"] + [p for p in plan if p[1] == "row"]
            sql = (
                f"INSERT INTO {_table()} ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608
                f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS u({names}, n) ORDER BY u.n RETURNING id"
            )
        else:
            sql = f"INSERT INTO {_table()} ({', '.join(columns)}) VALUES ({', '.join(values)}) RETURNING id"  # noqa: S608
        _STORE_SQL[key] = (sql, plan)
    return _STORE_SQL[key]


# The columns a duplicate sets differently from a received event: (SQL when no original, when one exists, the
# values its placeholders take).
_DUPLICATE_COLUMNS = {
    "status": (f"'{InboundStatus.RECEIVED}'", f"'{InboundStatus.DUPLICATE}'", ()),
    "reason_code": ("''", "'duplicate'", ()),
    "reason_detail": ("''", "%s::text || o.id", ("duplicate_detail",)),
    "duplicate_of_id": ("NULL", "o.id", ()),
    "attempts": ("0", "1", ()),
    "processed_at": ("NULL", "%s::timestamptz", ("received_at",)),
}
_STORE_CHECKED_SQL: dict[tuple, tuple[str, list[str], list]] = {}


def _store_unless_duplicate(shared: dict, row: dict) -> tuple[int, int | None]:
    """INSERT one event as received, or, if this source already sent its event id (a stored, not rejected
    event), as a duplicate of the earliest such event, in one statement; (its id, the original's id or None).
    The answers and the stored row are those of `_originals_of` followed by `_store`."""
    key = (tuple(shared), tuple(row))
    if key not in _STORE_CHECKED_SQL:
        quote = connection.ops.quote_name
        columns, values = [], []
        order = ["source_id", "external_id"]  # the value of each placeholder, in the statement's order
        for f in InboundEvent._meta.concrete_fields:
            if f.primary_key:
                continue
            columns.append(quote(f.column))
            if f.attname in _DUPLICATE_COLUMNS:
                fresh, duplicate, names = _DUPLICATE_COLUMNS[f.attname]
                values.append(f"CASE WHEN o.id IS NULL THEN {fresh} ELSE {duplicate} END")
                order.extend(names)
            else:
                db_type = "jsonb" if f.attname in _JSON_COLUMNS else f.cast_db_type(connection)
                values.append(f"%s::{db_type}")
                order.append(f.attname)
        given = {*shared, *row}
        _STORE_CHECKED_SQL[key] = (
            f"WITH o AS (SELECT id FROM {_table()} WHERE source_id = %s "  # noqa: S608 (model names only)
            f"AND external_id = %s AND status IN ('{InboundStatus.RECEIVED}', '{InboundStatus.PROCESSED}') "
            f"ORDER BY id LIMIT 1) INSERT INTO {_table()} ({', '.join(columns)}) SELECT {', '.join(values)} "
            "FROM (SELECT 1) AS one LEFT JOIN o ON true RETURNING id, duplicate_of_id",
            order,
            [f for f in InboundEvent._meta.concrete_fields if not f.primary_key and f.attname not in given],
        )
    sql, order, defaulted = _STORE_CHECKED_SQL[key]
    values = {f.attname: f.get_default() for f in defaulted} if defaulted else {}
    values.update(shared)
    values.update(row)
    for name in _JSON_COLUMNS:
        values[name] = _json(values[name])
    values["duplicate_detail"] = f"event_id: {row['external_id']!r} was received as #"
    [(pk, original)] = _fetch(sql, [values[name] for name in order])
    return pk, original


def _store(shared: dict, rows: list[dict]) -> list[int]:
    """INSERT rows (`shared` values are common to all) as InboundEvents in one statement; their ids, in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = [
            InboundEvent(**shared, **{k: _json_safe(v) if k in _JSON_COLUMNS else v for k, v in row.items()})
            for row in rows
        ]
        if len(objects) == 1:
            objects[0].save(force_insert=True)
        else:
            InboundEvent.objects.bulk_create(objects)
        return [o.pk for o in objects]
    many = len(rows) > 1
    sql, plan = _store_sql(tuple(shared), tuple(rows[0]), many)
    params = []
    for f, kind in plan:
        name = f.attname
        if kind == "shared":
            value = shared[name]
            params.append(_json(value) if name in _JSON_COLUMNS else value)
        elif kind == "default":
            params.append(f.get_default())
        elif not many:
            value = rows[0][name]
            params.append(_json(value) if name in _JSON_COLUMNS else value)
        elif name in _JSON_COLUMNS:
            params.append([_json(row[name]) for row in rows])
        else:
            params.append([row[name] for row in rows])
    return [pk for (pk,) in _fetch(sql, params)]


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
# message per group instead of one per request. Publishing a Celery message costs about a millisecond of
# CPU, so under load the window decides most of what hand-over costs per request; a fifth of a second
# keeps that small and still starts processing well within a second. The rows are stored before the
# answer, so a process that stops with a group pending loses nothing: the sweep processes those rows.
HANDOVER_WINDOW = 0.2


class _Handover:
    """Groups ids and publishes each group from one long-lived thread per process (a thread started per
    group paid for its start and for Celery's per-thread state every time)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._ids: list[int] = []
        self._since = 0.0  # when the oldest pending id arrived
        self._thread: threading.Thread | None = None

    def add(self, inbound_ids: list[int]) -> None:
        with self._cond:
            if not self._ids:
                self._since = time.monotonic()
                self._cond.notify()
            self._ids.extend(inbound_ids)
            if self._thread is None or not self._thread.is_alive():  # first use, or a forked child
                self._thread = threading.Thread(target=self._run, name="inbound-handover", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ids:
                    self._cond.wait()
                while self._ids and (left := self._since + HANDOVER_WINDOW - time.monotonic()) > 0:
                    self._cond.wait(left)
                ids, self._ids = self._ids, []
            inbound_enqueue(inbound_ids=ids)

    def flush(self) -> None:
        """Publish what is pending now."""
        with self._cond:
            ids, self._ids = self._ids, []
            self._cond.notify()
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
    sources: dict[int, Source] = field(default_factory=dict)
    mappers: dict[int, tuple[Mapper | None, str, int | None]] = field(default_factory=dict)
    brands: dict[str, int | None] = field(default_factory=dict)
    brand_objects: dict[int, Brand] = field(default_factory=dict)
    rates: RateCache = field(default_factory=RateCache)

    def source(self, source_id: int) -> Source:
        if source_id not in self.sources:
            self.sources[source_id] = Source.objects.get(pk=source_id)
        return self.sources[source_id]

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
    source = ctx.source(row.source_id)
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
            source_id=source.pk,
            inbound_id=row.pk,
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
        rows = _claim_rows(ids)
        # Events of one customer stay in arrival order; customers are locked in a stable order.
        rows.sort(key=lambda r: ((r.canonical or {}).get("customer_id", ""), r.pk))
        drafts: list[tuple[InboundEvent, EventDraft]] = []
        claims: list[tuple[EventDraft, CustomerClaim]] = []
        for row in rows:
            row.attempts += 1
            started = time.perf_counter()
            if remap or row.canonical is None:
                mapper, error, version_id = ctx.mapper(ctx.source(row.source_id))
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


# What processing reads of an inbound row (not the raw body, kept for the record only).
_CLAIM_FIELDS = [f for f in InboundEvent._meta.concrete_fields if f.attname != "body"]


def _claim_rows(ids: list[int]) -> list:
    """Lock the `received` rows among `ids` for this transaction, skipping those another worker holds.

    FOR NO KEY UPDATE: rows that point at this one (duplicates, canonical events) take KEY SHARE locks on
    it, which must not make SKIP LOCKED pass it over. On PostgreSQL the ids travel as one binary array.
    """
    if connection.vendor != "postgresql":
        return list(
            InboundEvent.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .defer("body")
            .filter(pk__in=ids, status=InboundStatus.RECEIVED)
        )
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in _CLAIM_FIELDS)} FROM {_table()} "  # noqa: S608 (model names)
        "WHERE id = ANY(%b::bigint[]) AND status = %s FOR NO KEY UPDATE SKIP LOCKED"
    )
    names = [f.attname for f in _CLAIM_FIELDS]
    rows = []
    for values in run_bound(sql, [ids, InboundStatus.RECEIVED]):
        row = _Claimed()
        row.__dict__.update(zip(names, values, strict=True))
        # jsonb arrives as text from a cursor of Django's connection (the field decodes it in the ORM).
        for name in _JSON_COLUMNS:
            value = row.__dict__[name]
            if isinstance(value, str):
                row.__dict__[name] = json.loads(value)
        row.pk = row.id
        rows.append(row)
    return rows


class _Claimed:
    """An inbound row as processing reads and writes it: its columns as attributes (by attname) and `pk`, what
    `rows_update` needs; lighter than a model instance, which processing never saves by itself."""

    pk: int


def _save_outcomes(rows: list[InboundEvent]) -> None:
    rows_update(model=InboundEvent, rows=rows, field_names=UPDATE_FIELDS)


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


def inbound_sweep(*, grace: timedelta | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Process what was stored but never processed (a lost task, a broker outage). Returns the count."""
    from django.conf import settings

    from .selectors import inbound_unprocessed_ids

    if grace is None:
        grace = timedelta(seconds=getattr(settings, "INGEST_SWEEP_GRACE_SECONDS", SWEEP_GRACE.total_seconds()))
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
    if connection.vendor == "postgresql":
        run_bound(
            f"UPDATE {_table()} SET status = %s, reason_code = '', reason_detail = '' "  # noqa: S608 (model names)
            "WHERE id = ANY(%b::bigint[]) AND status = %s AND reason_code <> ALL(%b::text[])",
            [InboundStatus.RECEIVED, ids, InboundStatus.REJECTED, list(NOT_REPLAYABLE)],
        )
    else:
        for start in range(0, len(ids), REPLAY_STATEMENT_IDS):
            InboundEvent.objects.filter(
                pk__in=ids[start : start + REPLAY_STATEMENT_IDS], status=InboundStatus.REJECTED
            ).exclude(reason_code__in=NOT_REPLAYABLE).update(
                status=InboundStatus.RECEIVED, reason_code="", reason_detail=""
            )
    outcomes = inbound_process(inbound_ids=ids, remap=True, timing=timing)
    untouched = [pk for pk in ids if pk not in outcomes]
    for start in range(0, len(untouched), REPLAY_STATEMENT_IDS):
        chunk = untouched[start : start + REPLAY_STATEMENT_IDS]
        outcomes.update(InboundEvent.objects.filter(pk__in=chunk).values_list("pk", "status"))
    return outcomes


# Ids per statement of a replay's bookkeeping: a bulk replay of a day's events must not become one statement
# with an IN list of hundreds of thousands of values.
REPLAY_STATEMENT_IDS = 5_000


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
