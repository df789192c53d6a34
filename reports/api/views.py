"""`GET /api/v1/reports` and `GET /api/v1/reports/cohorts` (management key), as JSON or CSV (`?format=csv`)."""

import datetime as dt

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from .. import export, selectors
from .serializers import CohortQuerySerializer, CohortSerializer, ReportQuerySerializer, ReportSerializer

FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: the same rows as a CSV file."
)
CSV_RESPONSE = OpenApiResponse(OpenApiTypes.STR, description="With ?format=csv (text/csv).")


class CsvRenderer(BaseRenderer):
    """Renders a (header, rows) table; errors (a dict) as JSON text would mislead, so they stay JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, tuple):
            return export.as_csv(*data).encode("utf-8")
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/problem+json"
        return JSONRenderer().render(data)


class _TableView(GenericAPIView):
    pagination_class = None
    filter_backends = []
    renderer_classes = [JSONRenderer, CsvRenderer]

    def _answer(self, request, body: dict, table, filename: str) -> Response:
        if request.accepted_renderer.format == "csv":
            response = Response(table)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        return Response(body)


class ReportView(_TableView):
    """Activity per day (UTC), brand, affiliate, country, tracking link or sub id, read from the daily
    rollups: billable clicks, registrations, FTDs, deposits (count and base-currency amount), revenue and
    commission per currency. `?from=&to=` as UTC days (`to` inclusive) or date-times with an offset (`to`
    exclusive); default the last 30 days, at most 366. `?format=csv` for a CSV file."""

    serializer_class = ReportSerializer

    @extend_schema(parameters=[ReportQuerySerializer, FORMAT], responses={200: ReportSerializer})
    def get(self, request):
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = selectors.report(start=q["from"], end=q["to"], group_by=q["group_by"], flt=query.filter())
        base = settings.BASE_CURRENCY
        body = ReportSerializer(
            {"from": q["from"], "to": q["to"], "group_by": q["group_by"], "currency": base, "results": rows}
        ).data
        filename = f"report-{q['group_by']}-{q['from']:%Y%m%d}-{(q['to'] - dt.timedelta(seconds=1)):%Y%m%d}.csv"
        return self._answer(request, body, export.report_table(rows, base_currency=base), filename)


class CohortView(_TableView):
    """Customers by registration month (UTC) and what they did in their first 7, 30 and 90 days: FTDs and FTD
    rate, revenue, commission. `?from=&to=` as YYYY-MM (default the last 12 months, at most 36),
    `?brand=&affiliate=`, `?format=csv`."""

    serializer_class = CohortSerializer

    @extend_schema(parameters=[CohortQuerySerializer, FORMAT], responses={200: CohortSerializer})
    def get(self, request):
        query = CohortQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = selectors.cohorts(
            start=q["from"],
            end=q["to"],
            affiliate_id=q["affiliate"].pk if q.get("affiliate") else None,
            brand_id=q["brand"].pk if q.get("brand") else None,
        )
        base = settings.BASE_CURRENCY
        body = CohortSerializer(
            {"from": q["from"].strftime("%Y-%m"), "to": q["to"].strftime("%Y-%m"), "currency": base, "results": rows}
        ).data
        filename = f"cohorts-{q['from']:%Y%m}-{q['to']:%Y%m}.csv"
        return self._answer(request, body, export.cohort_table(rows, base_currency=base), filename)
