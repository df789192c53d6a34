#!/usr/bin/env python3
"""Commission recompute throughput: recompute one month for many affiliates from their events.

    .venv/bin/python bench/commissions_recompute.py [--affiliates 1000] [--events 1000000] [--keep]

What it runs: PostgreSQL database `bench_h6` (dropped and created), migrated from this checkout. One casino
brand (Europe/Malta) with a hybrid deal (CPA 50.00 EUR on a 20.00 FTD, RevShare 25% with a 10,000 revenue
tier at 30%, negative carryover on, 5% sub-affiliate override) as the brand default; a tenth of the
affiliates are sub-affiliates of others. Each customer registers, makes an FTD, deposits, bets and
produces revenue events in October 2026; events are written with COPY (not timed).

What it times, each over the whole month and every affiliate (commissions.services.commission_recalculate
for the brand and period):
1. what-if on an empty ledger: read the month's events, compute every slot (CPAs, RevShare months with
   carryover and tiers, sub-affiliate overrides) and compare with the ledger: every slot differs;
2. with --apply, booking all of them in bulk (each entry also writes its outbox announcements, one row
   per announcement, which dominates this step), then
3. what-if on the booked ledger: recompute and compare slot by slot (no differences expected).
It reports wall seconds, CPU seconds of this process and events per second. Target: at least 20,000
events per second.
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.server import database_drop, database_recreate, django_standalone  # noqa: E402

DB_NAME = "bench_h6"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6")


def prepare_database() -> None:
    database_recreate(server_url=PG_URL, name=DB_NAME)


def setup_django() -> None:
    # Announcements go to the outbox in the same transaction, and the hand-over to delivery is queued on
    # Redis db 6 (emptied at the end), as in production: no delivery work runs inside the recompute.
    django_standalone(database_url=f"{PG_URL}/{DB_NAME}", broker_url=BROKER)


def copy_rows(model, rows: list[dict]) -> None:
    """COPY rows into a model's table; fields a row leaves out take the field's default."""
    from django.db import connection
    from django.utils import timezone

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            defaults[f.attname] = now
        else:
            defaults[f.attname] = f.get_default()  # "" for text fields, None for nullable ones
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor().copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                values = []
                for f in fields:
                    value = row.get(f.attname, defaults[f.attname])
                    if isinstance(value, dict | list):
                        value = json.dumps(value)
                    values.append(value)
                copy.write_row(values)


def generate(n_affiliates: int, n_events: int, seed: int = 7) -> dict:
    from affiliates import services as affiliate_services
    from affiliates.models import Affiliate, Brand
    from integrations.models import Source
    from tracking.models import ConversionEvent, Customer

    rng = random.Random(seed)
    brand = Brand.objects.create(slug="bench-casino", name="Bench Casino", timezone="Europe/Malta", currency="EUR")
    source = Source.objects.create(slug="bench-crm", name="Bench CRM", brand=brand)
    deal = affiliate_services.deal_create(
        brand=brand,
        effective_from=dt.date(2026, 1, 1),
        terms={
            "name": "Hybrid", "kind": "hybrid", "currency": "EUR", "cpa_amount": "50.00", "hold_days": 30,
            "qualification": {"min_ftd": "20.00", "window_days": 30}, "revshare_percent": "25",
            "negative_carryover": True, "tiers": [{"min_revenue": "10000", "revshare_percent": "30"}],
            "subaffiliate_percent": "5",
        },
    )  # fmt: skip
    affiliate_services.deal_assignment_create(deal=deal, affiliate=None, valid_from=dt.date(2026, 1, 1))
    Affiliate.objects.bulk_create(
        [Affiliate(name=f"Partner {i}", email=f"p{i}@bench.example", status="active") for i in range(n_affiliates)]
    )
    affiliates = list(Affiliate.objects.order_by("pk").values_list("pk", flat=True))
    parents = affiliates[: n_affiliates // 10]
    for child in affiliates[n_affiliates // 10 :: 10]:
        Affiliate.objects.filter(pk=child).update(parent_id=rng.choice(parents))
    per_customer = 10
    n_customers = max(1, n_events // per_customer)
    start = dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
    copy_rows(
        Customer,
        [
            {"brand_id": brand.pk, "external_id": f"C{i}", "affiliate_id": affiliates[i % n_affiliates],
             "attribution_method": "affiliate_id", "country": "DE",
             "registered_at": start + dt.timedelta(minutes=(i * 37) % (25 * 24 * 60))}
            for i in range(n_customers)
        ],
    )  # fmt: skip
    customers = list(Customer.objects.order_by("pk").values_list("pk", "affiliate_id", "registered_at"))
    rows = []
    n = 0
    kinds = ["registration", "ftd", "deposit", "bet"] + ["revenue"] * (per_customer - 4)
    for customer_id, affiliate_id, registered in customers:
        for k, kind in enumerate(kinds):
            if n >= n_events:
                break
            when = registered + dt.timedelta(hours=k * 7)
            amount = None
            if kind in ("ftd", "deposit"):
                amount = Decimal(rng.randint(1000, 20000)) / 100
            elif kind == "bet":
                amount = Decimal(rng.randint(100, 5000)) / 100
            elif kind == "revenue":
                amount = Decimal(rng.randint(-4000, 9000)) / 100
            rows.append(
                {"source_id": source.pk, "external_id": f"E{n}", "brand_id": brand.pk, "type": kind,
                 "status": "qualified", "customer_id": customer_id, "affiliate_id": affiliate_id, "amount": amount,
                 "currency": "EUR" if amount is not None else "", "amount_base": amount,
                 "fx_rate": Decimal("1") if amount is not None else None, "occurred_at": when,
                 "fx_date": when.date(), "data": {}, "hints": {}}
            )  # fmt: skip
            n += 1
        if len(rows) >= 200_000:
            copy_rows(ConversionEvent, rows)
            rows = []
    if rows:
        copy_rows(ConversionEvent, rows)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"brand": brand, "events": n, "customers": len(customers)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--affiliates", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the database (default: drop it at the end).")
    parser.add_argument(
        "--apply",
        action="store_true",
        help="Also book the month (every entry and its outbox announcements), then compare again.",
    )
    args = parser.parse_args()
    prepare_database()
    setup_django()
    t0 = time.perf_counter()
    world = generate(args.affiliates, args.events)
    print(f"generated {world['events']:,} events for {world['customers']:,} customers and "
          f"{args.affiliates:,} affiliates in {time.perf_counter() - t0:.1f}s (COPY, not timed)")  # fmt: skip

    from commissions.models import CommissionEntry
    from commissions.services import commission_recalculate

    results = {}
    runs = [("what-if on an empty ledger", False)]
    if args.apply:
        runs += [("apply on an empty ledger", True), ("what-if on the booked ledger", False)]
    for label, apply in runs:
        t, cpu = time.perf_counter(), time.process_time()
        outcome = commission_recalculate(brand=world["brand"], period="2026-10", apply=apply)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        results[label] = seconds
        print(
            f"{label}: {seconds:.1f}s wall ({cpu:.1f}s CPU in this process), "
            f"{world['events'] / seconds:,.0f} events/s, {len(outcome.diffs):,} differences, "
            f"{len(outcome.booked):,} entries booked"
        )
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    entries = CommissionEntry.objects.count()
    print(f"ledger: {entries:,} entries")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(server_url=PG_URL, name=DB_NAME)
    slowest = max(results.values())
    rate = world["events"] / slowest
    print(f"slowest run: {rate:,.0f} events/s (target ≥ 20,000): {'met' if rate >= 20_000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
