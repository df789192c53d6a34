"""The ceiling: bench.views.ceiling, one INSERT into a table made here with raw SQL."""

from django.db import connection

from bench.spec import RequestSpec
from bench.views import CEILING_TABLE, ceiling_table_sql

from ._programme import BROWSER_HEADERS

DESCRIPTION = "bare Django view, one INSERT, 200 'ok'"


def _count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {CEILING_TABLE}")
        return cursor.fetchone()[0]


def setup() -> RequestSpec:
    with connection.cursor() as cursor:
        cursor.execute(ceiling_table_sql(connection.vendor))
    # The same query string and headers as the redirect, so the requests weigh the same on the wire.
    return RequestSpec(
        path="/bench/ceiling?sub1=summer-promo&sub2={uid}",
        headers=BROWSER_HEADERS,
        expect_status=(200,),
        count_stored=_count,
    )
