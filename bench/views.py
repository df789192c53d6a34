"""The ceiling: the least work a Django request that records something can do.

A bare function view (no DRF, no template, no ORM model) that makes exactly one INSERT and answers
200 with a tiny body. Every scenario is reported as a fraction of it. Mounted at /bench/ceiling only
when BENCH_ENDPOINTS is true; the harness creates its table (bench_ceiling_hit) with raw SQL.
"""

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

CEILING_TABLE = "bench_ceiling_hit"


def ceiling_table_sql(vendor: str) -> str:
    """DDL for the ceiling's table (PostgreSQL for runs; SQLite too, for the harness's own test)."""
    key = "bigserial PRIMARY KEY" if vendor == "postgresql" else "integer PRIMARY KEY AUTOINCREMENT"
    return (
        f"CREATE TABLE IF NOT EXISTS {CEILING_TABLE} "
        f"(id {key}, path varchar(200) NOT NULL, created_at timestamp with time zone NOT NULL)"
    )


def ceiling(request):
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CEILING_TABLE} (path, created_at) VALUES (%s, %s)", [request.path, timezone.now()]
        )
    return HttpResponse(b"ok", content_type="text/plain")
