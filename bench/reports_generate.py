#!/usr/bin/env python3
"""The reports data set: a mid-size operator's year, made reproducibly in bulk with COPY.

    .venv/bin/python bench/reports_generate.py [--scale 1.0] [--seed 15] [--db ap_reports_bench] [--keep]

At scale 1: 5,000 affiliates (activity Pareto-distributed), 3 brands, 15,000 tracking links, 2,000,000
customers, 10,000,000 conversion events (a registration per customer, FTDs for 40% of them, then deposits
and revenue), 20,000,000 clicks (one behind each customer, the rest not converting; 4% flagged and not
billable), 800,000 commission entries (a CPA per FTD, 5% rejected), over the 365 days before today (UTC).
Sub ids, countries and links come from small per-affiliate pools, as campaigns do. The same seed and
scale give the same rows.

What it does: drops and creates the PostgreSQL database (`--db`, on $BENCH_PG_URL, default
postgres://postgres@127.0.0.1:5432), migrates it, makes the programme (brands, affiliates, links,
sources) through the ORM, then writes the four large tables with COPY (text format, rows built in
Python in blocks), with their secondary indexes and unique constraints dropped during the load and
recreated after it, and foreign key triggers off for the load (session_replication_role). Then it
builds the rollups (reports.upkeep.rollups_build) and ANALYZEs. It prints the time of each step.
`bench/reports_bench.py` then measures the report queries on it. Drop the database when done
(`--drop` alone does that).
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
from bench.server import database_drop, database_recreate, django_standalone  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("BENCH_BROKER_URL", "memory://")
UTC = dt.UTC
BLOCK = 50_000
SUB1 = ["fb", "tt", "gg", "ig", "yt", "x", "native", "email"]
COUNTRIES = ["DE", "AT", "GB", "SE", "FI", "NO", "CA", "NZ", "BR", "MX", "IN", "ZA", ""]
COUNTRY_WEIGHTS = [20, 6, 14, 6, 4, 4, 10, 3, 10, 6, 8, 4, 5]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 Chrome/129.0 Mobile Safari/537.36",
]


def log(message: str, started: float) -> None:
    print(f"{time.monotonic() - started:8.1f} s  {message}", flush=True)


def programme(scale: float):
    """Brands, affiliates, links and sources through the ORM; returns their ids."""
    from affiliates.models import Affiliate, Brand
    from integrations.models import Source
    from tracking.models import TrackingLink

    brands = [
        Brand.objects.create(slug="lucky-casino", name="Lucky Casino", currency="EUR", timezone="Europe/Malta"),
        Brand.objects.create(slug="atlas-fx", name="Atlas FX", currency="USD", timezone="UTC"),
        Brand.objects.create(slug="summit-prop", name="Summit Prop", currency="USD", timezone="UTC"),
    ]
    count = max(10, int(5000 * min(scale, 1.0)))
    affiliates = Affiliate.objects.bulk_create(
        Affiliate(name=f"Affiliate {n:05d}", email=f"aff{n}@bench.example", status="active") for n in range(count)
    )
    links = TrackingLink.objects.bulk_create(
        TrackingLink(
            token=f"b{a.pk:05d}l{i}",
            affiliate=a,
            brand=brands[(a.pk + i) % 3],
            name=f"link {i}",
            landing_url="https://casino.example.com/welcome",
        )
        for a in affiliates
        for i in range(3)
    )
    sources = [Source.objects.create(slug=f"crm-{b.slug}", name=f"CRM {b.name}", brand=b) for b in brands]
    return brands, affiliates, links, sources


class Copier:
    """Text COPY into one table, rows given as tuples of already formatted strings."""

    def __init__(self, cursor, table: str, columns: list[str]):
        self.manager = cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
        self.copy = self.manager.__enter__()
        self.lines: list[str] = []
        self.count = 0

    def row(self, values) -> None:
        self.lines.append("\t".join(values))
        if len(self.lines) >= BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.copy.write(("\n".join(self.lines) + "\n").encode())
            self.count += len(self.lines)
            self.lines = []

    def close(self) -> int:
        self.flush()
        self.manager.__exit__(None, None, None)
        return self.count


def ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def drop_indexes(cursor, tables: list[str]) -> list[str]:
    """Drop secondary indexes and unique/check constraints of `tables`; returns the statements that
    recreate them."""
    recreate = []
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u')",
        [tables],
    )
    for table, name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        recreate.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
        "AND indexname NOT LIKE '%%_pkey'",
        [tables],
    )
    for _, name, definition in cursor.fetchall():
        cursor.execute(f'DROP INDEX "{name}"')
        recreate.append(definition)
    return recreate


def generate(scale: float, seed: int, started: float) -> dict:
    from django.db import connection
    from django.utils import timezone

    rng = random.Random(seed)
    _, affiliates, links, sources = programme(scale)
    log(f"programme: {len(affiliates)} affiliates, {len(links)} links", started)
    source_by_brand = {s.brand_id: s.pk for s in sources}
    links_by_affiliate: dict[int, list] = {}
    for link in links:
        links_by_affiliate.setdefault(link.affiliate_id, []).append((link.pk, link.brand_id))
    aff_ids = [a.pk for a in affiliates]
    weights = [1 / (i + 1) ** 0.9 for i in range(len(aff_ids))]
    rng.shuffle(weights)
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    # Each affiliate's campaigns: a few sub1 sources and sub2 campaign names.
    camp = {a: (rng.sample(SUB1, 3), [f"c{a}-{k}" for k in range(rng.randint(1, 6))]) for a in aff_ids}

    now = timezone.now().replace(microsecond=0)
    first = now - dt.timedelta(days=365)
    span = int((now - first).total_seconds())
    n_customers = int(2_000_000 * scale)
    n_events = int(10_000_000 * scale)
    n_clicks = int(20_000_000 * scale)

    tables = ["tracking_click", "tracking_customer", "tracking_conversionevent", "commissions_commissionentry"]
    with connection.cursor() as c:
        cursor = c.cursor  # psycopg's own cursor, for copy()
        cursor.execute("SET session_replication_role = replica")
        recreate = drop_indexes(cursor, tables)
        log(f"dropped {len(recreate)} indexes and constraints", started)

        clicks = Copier(cursor, "tracking_click", [
            "id", "click_id", "link_id", "affiliate_id", "brand_id", "sub1", "sub2", "sub3", "sub4", "sub5",
            "country", "ip", "user_agent", "referrer", "flag", "is_billable", "created_at"])  # fmt: skip
        customers = []  # (id, affiliate, brand, link, sub1, sub2, country, registered_at, click id)
        click_id = 0

        def click_row(aff, link, brand, sub1, sub2, country, moment, billable=True):
            nonlocal click_id
            click_id += 1
            flag = "" if billable else "duplicate"
            clicks.row((str(click_id), f"{seed:x}k{click_id:x}", str(link), str(aff), str(brand), sub1, sub2, "", "",
                        "", country, f"10.{click_id >> 16 & 255}.{click_id >> 8 & 255}.{click_id & 255}",
                        USER_AGENTS[click_id % 3], "", flag, "t" if billable else "f", ts(moment)))  # fmt: skip
            return click_id

        chosen = rng.choices(aff_ids, cum_weights=cum, k=n_customers)
        countries = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS, k=n_customers)
        for n in range(n_customers):
            aff = chosen[n]
            link, brand = rng.choice(links_by_affiliate[aff])
            subs1, subs2 = camp[aff]
            sub1, sub2 = rng.choice(subs1), rng.choice(subs2)
            registered = first + dt.timedelta(seconds=rng.randrange(span))
            cid = click_row(aff, link, brand, sub1, sub2, countries[n], registered - dt.timedelta(minutes=3))
            customers.append((n + 1, aff, brand, link, sub1, sub2, countries[n], registered, cid))
        other = n_clicks - n_customers
        chosen = rng.choices(aff_ids, cum_weights=cum, k=other)
        countries = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS, k=other)
        for n in range(other):
            aff = chosen[n]
            link, brand = rng.choice(links_by_affiliate[aff])
            subs1, subs2 = camp[aff]
            click_row(aff, link, brand, rng.choice(subs1), rng.choice(subs2), countries[n],
                      first + dt.timedelta(seconds=rng.randrange(span)), billable=rng.random() > 0.04)  # fmt: skip
        log(f"clicks: {clicks.close():,} rows", started)

        copier = Copier(cursor, "tracking_customer", [
            "id", "brand_id", "external_id", "affiliate_id", "attribution_method", "click_id", "link_id", "sub1",
            "sub2", "sub3", "sub4", "sub5", "country", "registered_at", "attributed_at", "first_event_at",
            "created_at"])  # fmt: skip
        for cid, aff, brand, link, sub1, sub2, country, registered, click in customers:
            at = ts(registered)
            copier.row((str(cid), str(brand), f"P{cid}", str(aff), "click", str(click), str(link), sub1, sub2, "", "",
                        "", country, at, at, at, at))  # fmt: skip
        log(f"customers: {copier.close():,} rows", started)

        events = Copier(cursor, "tracking_conversionevent", [
            "id", "source_id", "external_id", "brand_id", "type", "status", "customer_id", "affiliate_id", "amount",
            "currency", "amount_base", "fx_rate", "fx_date", "occurred_at", "received_at", "ref_external_id",
            "country", "hints", "data", "is_test"])  # fmt: skip
        entries = []  # one COPY at a time per connection: the entries follow the events
        event_id = entry_id = 0
        depositors = [c for c in customers if rng.random() < 0.4]
        per_depositor = max(0, (n_events - len(customers) - len(depositors))) / max(1, len(depositors))

        def event_row(cust, type_, moment, amount):
            nonlocal event_id
            event_id += 1
            status = "rejected" if rng.random() < 0.02 else "qualified"
            when = ts(moment)
            money = f"{amount:.2f}" if amount is not None else "\\N"
            events.row((str(event_id), str(source_by_brand[cust[2]]), f"e{event_id}", str(cust[2]), type_, status,
                        str(cust[0]), str(cust[1]), money, "EUR" if amount is not None else "", money,
                        "1" if amount is not None else "\\N", when[:10] if amount is not None else "\\N", when, when,
                        "", cust[6], "{}", "{}", "f"))  # fmt: skip
            return event_id

        for cust in customers:
            event_row(cust, "registration", cust[7], None)
        remainder = 0.0
        for cust in depositors:
            registered = cust[7]
            ftd_at = registered + dt.timedelta(seconds=rng.randrange(14 * 86_400))
            if ftd_at >= now:
                ftd_at = registered
            amount = rng.choice((20, 25, 50, 100, 200, 500)) + rng.randrange(100) / 100
            ftd = event_row(cust, "ftd", ftd_at, amount)
            entry_id += 1
            status = "rejected" if rng.random() < 0.05 else ("paid" if ftd_at < now - dt.timedelta(days=60) else
                                                             "approved" if ftd_at < now - dt.timedelta(days=30) else
                                                             "on_hold")  # fmt: skip
            entries.append((str(entry_id), f"cpa:{cust[1]}:{cust[0]}", "0", "cpa", status, str(cust[1]), str(cust[2]),
                         str(cust[0]), "200.00", "EUR", ftd_at.strftime("%Y-%m"), ts(ftd_at), f"[{ftd}]",
                         "CPA 200.00 EUR", "", "", ts(ftd_at)))  # fmt: skip
            remainder += per_depositor
            count, remainder = int(remainder), remainder - int(remainder)
            horizon = max(1, min(120 * 86_400, int((now - ftd_at).total_seconds())))
            for _ in range(count):
                moment = ftd_at + dt.timedelta(seconds=rng.randrange(horizon))
                if rng.random() < 0.5:
                    event_row(cust, "deposit", moment, rng.choice((10, 20, 50, 100, 250)) + rng.randrange(100) / 100)
                else:
                    event_row(cust, "revenue", moment, rng.randrange(-5000, 20000) / 100)
        log(f"events: {events.close():,} rows", started)
        copier = Copier(cursor, "commissions_commissionentry", [
            "id", "slot", "seq", "kind", "status", "affiliate_id", "brand_id", "customer_id", "amount", "currency",
            "period", "occurred_at", "events", "explanation", "status_reason", "batch", "created_at"])  # fmt: skip
        for line in entries:
            copier.row(line)
        log(f"entries: {copier.close():,} rows", started)

        lasts = {"tracking_click": click_id, "tracking_customer": len(customers),
                 "tracking_conversionevent": event_id, "commissions_commissionentry": entry_id}  # fmt: skip
        for table, last in lasts.items():
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {max(1, last)})")
        cursor.execute("SET session_replication_role = DEFAULT")
        for statement in recreate:
            cursor.execute(statement)
        log(f"recreated {len(recreate)} indexes and constraints", started)
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")  # autocommit: VACUUM runs outside a transaction
        log("analyzed", started)
    return {"clicks": click_id, "customers": len(customers), "events": event_id, "entries": entry_id}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 10M events, 20M clicks, 5,000 affiliates")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--db", default="ap_reports_bench")
    parser.add_argument("--drop", action="store_true", help="only drop the database")
    args = parser.parse_args()
    if args.drop:
        database_drop(server_url=PG_URL, name=args.db)
        print(f"dropped {args.db}")
        return 0
    started = time.monotonic()
    database_recreate(server_url=PG_URL, name=args.db)
    django_standalone(database_url=f"{PG_URL}/{args.db}", broker_url=BROKER)
    log(f"database {args.db} created and migrated", started)
    counts = generate(args.scale, args.seed, started)
    from reports import upkeep

    rows = upkeep.rollups_build()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reports_dailyrollup; ANALYZE reports_cohortrollup")
    log(f"rollups built: {rows:,} daily rows", started)
    print(f"done: {counts} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
