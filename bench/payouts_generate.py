#!/usr/bin/env python3
"""Payout statement generation: a month's statements for many affiliates from a large approved ledger.

    .venv/bin/python bench/payouts_generate.py [--affiliates 5000] [--entries 1000000] [--keep]

What it runs: PostgreSQL database `bench_payouts` (dropped and created), migrated from this checkout. One casino
brand (Europe/Malta), 5,000 active affiliates paid monthly per brand in EUR with a 100.00 threshold, and 1,000,000
approved ledger entries in October 2026 (CPA, RevShare, adjustments and a few negative reversals, amounts spread so
that some affiliates fall under the threshold), written with COPY (not timed).

What it times (commissions.payouts.services.statements_generate for 2026-10, every affiliate):
1. the first generation: one draft statement per affiliate, every entry linked by a statement line, totals,
   threshold carryover, explanation;
2. the same generation again (idempotent: drafts refreshed, nothing new to link);
3. the period's CSV export of every statement (status all).
Generation announces nothing (approval and payment do), so no broker is used. Target: step 1 under 60 s.
"""

import argparse
import datetime as dt
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.commissions_recompute import copy_rows  # noqa: E402
from bench.server import database_drop, database_recreate, django_standalone  # noqa: E402

DB_NAME = "bench_payouts"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/1")
TARGET_SECONDS = 60


def generate(n_affiliates: int, n_entries: int, seed: int = 11) -> dict:
    from affiliates.models import Affiliate, Brand
    from commissions.models import CommissionEntry

    rng = random.Random(seed)
    brand = Brand.objects.create(slug="bench-casino", name="Bench Casino", timezone="Europe/Malta", currency="EUR")
    Affiliate.objects.bulk_create(
        [Affiliate(name=f"Partner {i}", email=f"p{i}@bench.example", status="active", payment_method="bank_transfer",
                   payment_details={"iban": f"MT00BENCH{i:012d}"}) for i in range(n_affiliates)],
        batch_size=2000,
    )  # fmt: skip
    affiliates = list(Affiliate.objects.order_by("pk").values_list("pk", flat=True))
    start = dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
    kinds = ["cpa", "revshare", "adjustment", "cpa", "revshare", "cpa", "cpa", "revshare", "cpa", "reversal"]
    rows = []
    for n in range(n_entries):
        affiliate_id = affiliates[n % n_affiliates]
        kind = kinds[n % len(kinds)]
        scale = 1 if affiliate_id % 7 else 0.001  # a seventh of the affiliates earn little: under the threshold
        amount = Decimal(int(rng.randint(50, 25000) * scale)) / 100
        if kind == "reversal":
            amount = -amount / 2
        rows.append({
            "slot": f"bench:{n}", "seq": 0, "kind": kind, "status": "approved", "affiliate_id": affiliate_id,
            "brand_id": brand.pk, "amount": amount, "currency": "EUR", "period": "2026-10",
            "occurred_at": start + dt.timedelta(seconds=(n * 97) % (29 * 86400)), "events": [],
            "explanation": f"{kind} {amount} EUR (bench)",
        })  # fmt: skip
        if len(rows) >= 200_000:
            copy_rows(CommissionEntry, rows)
            rows = []
    if rows:
        copy_rows(CommissionEntry, rows)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"brand": brand, "entries": n_entries}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--affiliates", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the database (default: drop it at the end).")
    parser.add_argument("--batch", type=int, default=None, help="Affiliates per transaction (default: the service's).")
    args = parser.parse_args()
    database_recreate(server_url=PG_URL, name=DB_NAME)
    django_standalone(database_url=f"{PG_URL}/{DB_NAME}", broker_url=BROKER)
    t0 = time.perf_counter()
    world = generate(args.affiliates, args.entries)
    print(f"booked {world['entries']:,} approved entries for {args.affiliates:,} affiliates in "
          f"{time.perf_counter() - t0:.1f}s (COPY, not timed)")  # fmt: skip

    from commissions.payouts import exports, selectors, services
    from commissions.payouts.models import PayoutStatement, StatementLine
    from commissions.payouts.services import statements_generate

    if args.batch:
        services.BATCH = args.batch
    print(f"batches of {services.BATCH:,} affiliates per transaction")

    now = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    timings = {}
    for label in ("first generation", "generation again (idempotent)"):
        t, cpu = time.perf_counter(), time.process_time()
        result = statements_generate(period="2026-10", now=now)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        timings[label] = seconds
        print(f"{label}: {seconds:.1f}s wall ({cpu:.1f}s CPU in this process), {result.created:,} created, "
              f"{result.refreshed:,} refreshed, {len(result.skipped):,} skipped, "
              f"{args.entries / seconds:,.0f} entries/s")  # fmt: skip
    t = time.perf_counter()
    body = exports.statements_csv(selectors.period_statements(period="2026-10", status=None))
    print(f"period CSV export: {time.perf_counter() - t:.1f}s, {body.count(chr(10)) - 1:,} rows, {len(body):,} bytes")
    carried = PayoutStatement.objects.filter(amount=0).exclude(carry_out=0).count()
    print(f"statements: {PayoutStatement.objects.count():,} ({carried:,} under the threshold, carried), "
          f"lines: {StatementLine.objects.count():,}")  # fmt: skip
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(server_url=PG_URL, name=DB_NAME)
    first = timings["first generation"]
    verdict = "met" if first < TARGET_SECONDS else "NOT met"
    print(f"first generation: {first:.1f}s (target < {TARGET_SECONDS} s): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
