"""The ceiling: the least work a Django request that records something can do.

A bare function view (no DRF, no template, no ORM model) that makes exactly one INSERT and answers
200 with a tiny body. Every scenario is reported as a fraction of it. Mounted at /bench/ceiling only
when BENCH_ENDPOINTS is true; the harness creates its table (bench_ceiling_hit) with raw SQL.
"""

from django.db import connection
from django.http import HttpResponse

CEILING_TABLE = "bench_ceiling_hit"


def ceiling(request):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {CEILING_TABLE} (path, created_at) VALUES (%s, now())", [request.path])
    return HttpResponse(b"ok", content_type="text/plain")
