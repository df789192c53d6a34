#!/usr/bin/env python3
"""End-to-end ingestion throughput of one worker process: stored → canonical → attributed.

    .venv/bin/python bench/ingest_e2e.py [--events 60000] [--customers 12000] [--chunk N] [--sqlite]

What it runs: PostgreSQL database `bench_h5` (or $BENCH_DB_NAME; dropped and created; `--sqlite` uses
/tmp/<that name>.sqlite3),
migrated from this checkout. One casino brand, 200 affiliates with a tracking link each and one click per
customer. A source on the default mapping has `--events` raw inbound events stored (not timed): per
customer a registration carrying its click id and sub ids, an FTD, then deposits, bets and daily revenue,
amounts in EUR and USD (an FX rate per day exists). Rows are stored as the endpoints store them (status
received, the raw payload), without their canonical form.

What it times: a bulk replay of every stored event in this one process, exactly as the `ingest` worker
does it (integrations.ingestion.inbound_process with remap): claim the rows, map each payload with the
source's mapping, convert currencies, resolve and attribute the customer (tracking.attribution), write
the ConversionEvents (deduplicated by the unique constraint) with their outbox announcements, mark the
inbound rows processed, and hand the events to the commission queue on commit, one message per batch
(Redis db 5 or $BENCH_BROKER_URL, emptied at the end; no commission work runs here). It reports events
per second and the share of time in mapping, attribution and recording (the database writes), the rest
being claiming, FX and bookkeeping.
Target: at least 3,000 events per second.
"""

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.server import database_recreate, django_standalone  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_h5")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/5")
SQLITE_PATH = f"/tmp/{DB_NAME}.sqlite3"


def setup(use_sqlite: bool) -> None:
    if use_sqlite:
        Path(SQLITE_PATH).unlink(missing_ok=True)
        database_url = f"sqlite:///{SQLITE_PATH}"
    else:
        database_recreate(server_url=PG_URL, name=DB_NAME)
        database_url = f"{PG_URL}/{DB_NAME}"
    django_standalone(database_url=database_url, broker_url=BROKER)


def populate(events: int, customers: int, rng: random.Random) -> list[int]:
    """Store the raw inbound events (and the clicks they refer to); returns the inbound ids."""
    from decimal import Decimal

    from django.utils import timezone

    from affiliates.models import Affiliate, Brand
    from integrations.models import FxRate, InboundEvent
    from integrations.services import source_create
    from tracking.models import Click, TrackingLink

    brand = Brand.objects.create(slug="bench-casino", name="Bench Casino", currency="EUR", timezone="Europe/Malta")
    affiliates = Affiliate.objects.bulk_create(
        Affiliate(name=f"Affiliate {n}", email=f"a{n}@example.com", status="active") for n in range(200)
    )
    links = TrackingLink.objects.bulk_create(
        TrackingLink(token=f"bench{n:06d}", affiliate=a, brand=brand, landing_url="https://example.com/")
        for n, a in enumerate(affiliates)
    )
    source, _key = source_create(slug="bench-crm", name="Bench CRM", brand=brand)
    start = timezone.now() - dt.timedelta(days=20)
    FxRate.objects.bulk_create(
        FxRate(currency="USD", date=(start + dt.timedelta(days=d)).date(), rate=Decimal("0.9200000000"))
        for d in range(-2, 25)
    )
    clicks = []
    for n in range(customers):
        link = links[n % len(links)]
        clicks.append(
            Click(
                click_id=f"clk{n:08d}", link=link, affiliate_id=link.affiliate_id, brand=brand, sub1="fb",
                created_at=start + dt.timedelta(seconds=n),
            )
        )  # fmt: skip
    Click.objects.bulk_create(clicks, batch_size=2000)

    def at(n: int, k: int) -> str:
        return (start + dt.timedelta(seconds=n, minutes=5 + 30 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")

    payloads = []
    per_customer = max(2, events // customers)
    for n in range(customers):
        customer = f"C{n:08d}"
        payloads.append({"type": "registration", "event_id": f"R{n}", "customer_id": customer,
                         "click_id": f"clk{n:08d}", "sub1": "fb", "country": "DE",
                         "occurred_at": at(n, 0)})  # fmt: skip
        for k in range(1, per_customer):
            kind = "ftd" if k == 1 else rng.choice(("deposit", "bet", "bet", "revenue"))
            currency = "USD" if n % 5 == 0 else "EUR"
            amount = (
                f"{rng.randint(-5000, 20000) / 100:.2f}"
                if kind == "revenue"
                else f"{rng.randint(1000, 50000) / 100:.2f}"
            )
            payloads.append({"type": kind, "event_id": f"E{n}-{k}", "customer_id": customer, "amount": amount,
                             "currency": currency, "occurred_at": at(n, k)})  # fmt: skip
            if len(payloads) >= events:
                break
        if len(payloads) >= events:
            break
    now = timezone.now()
    rows = [InboundEvent(source=source, received_at=now, channel="api", method="POST", payload=p) for p in payloads]
    InboundEvent.objects.bulk_create(rows, batch_size=2000)
    return list(InboundEvent.objects.filter(source=source).order_by("pk").values_list("pk", flat=True))


def _time_outbox() -> dict:
    """Count and time the outbox INSERTs (outbox_publish_many: one per batch of announcements), wherever called."""
    from unittest import mock

    from integrations.webhooks import outbox

    totals = {"seconds": 0.0, "calls": 0, "rows": 0}
    publish_many = outbox.outbox_publish_many

    def timed(*, items):
        started = time.perf_counter()
        publish_many(items=items)
        totals["seconds"] += time.perf_counter() - started
        totals["calls"] += 1
        totals["rows"] += len(items)

    import tracking.attribution
    import tracking.events

    for module in (outbox, tracking.events, tracking.attribution):
        mock.patch.object(module, "outbox_publish_many", timed).start()
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--customers", type=int, default=12_000)
    parser.add_argument("--chunk", type=int, default=None, help="events per transaction (default: the worker's)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument(
        "--no-handover", action="store_true", help="do not queue the commission hand-over (isolates processing)"
    )
    args = parser.parse_args()
    setup(args.sqlite)
    if args.no_handover:
        from unittest import mock

        import tracking.events

        mock.patch.object(tracking.events, "_enqueue_commissions", lambda event_ids: None).start()

    from django.db import connection

    from integrations import ingestion
    from integrations.models import InboundEvent
    from tracking.models import ConversionEvent

    ingestion.PROCESS_CHUNK = args.chunk = args.chunk or ingestion.PROCESS_CHUNK
    rng = random.Random(20261128)
    started = time.perf_counter()
    ids = populate(args.events, args.customers, rng)
    print(f"stored {len(ids)} raw inbound events in {time.perf_counter() - started:.1f} s (not timed)")

    outbox = _time_outbox()
    timing = ingestion.Timing()
    started, cpu_started = time.perf_counter(), time.process_time()
    outcomes = ingestion.inbound_replay(inbound_ids=ids, timing=timing)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    processed = sum(1 for status in outcomes.values() if status == "processed")
    events = ConversionEvent.objects.count()
    attributed = ConversionEvent.objects.filter(affiliate__isnull=False).count()
    left = InboundEvent.objects.exclude(status="processed").count()
    rest = max(0.0, timing.total - timing.mapping - timing.attribution - timing.recording)
    print(f"database: {connection.vendor}; chunk {args.chunk}; one process")
    print(f"replayed {len(ids)} events in {elapsed:.2f} s: {len(ids) / elapsed:,.0f} events/s")
    # On a shared machine the wall-clock figure depends on what else runs; the worker's own CPU time does not.
    print(
        f"  worker CPU {cpu:.2f} s: {len(ids) / cpu:,.0f} events per CPU-second; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  processed {processed}, canonical events {events}, attributed {attributed}, not processed {left}")
    shares = [
        ("mapping", timing.mapping),
        ("attribution", timing.attribution),
        ("recording (database writes)", timing.recording),
        ("claim, FX, bookkeeping", rest),
    ]
    print(f"  commission hand-over: {'off' if args.no_handover else 'queued on ' + BROKER}")
    for name, seconds in shares:
        print(f"  {name:<30} {seconds:7.2f} s  {100 * seconds / timing.total:5.1f} %")
    print(
        f"  of which outbox announcements {outbox['seconds']:7.2f} s  {100 * outbox['seconds'] / timing.total:5.1f} %"
        f"  ({outbox['rows']} announcements in {outbox['calls']} bulk INSERTs)"
    )
    print(f"target 3,000 events/s: {'met' if len(ids) / elapsed >= 3000 else 'NOT met'}")
    try:
        import redis

        redis.Redis.from_url(BROKER).flushdb()
    except Exception as exc:  # the broker is optional for the figure; say so rather than fail
        print(f"(could not empty {BROKER}: {exc})")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
