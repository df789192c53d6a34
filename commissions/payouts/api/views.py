from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.idempotency import IdempotentPostMixin
from core.problems import Problem

from .. import selectors, services
from ..choices import LIVE_STATUSES
from ..filters import PayoutStatementFilter
from ..models import PayoutStatement
from . import files
from .renderers import CSVRenderer, PDFRenderer
from .serializers import (
    AdjustmentInputSerializer,
    ApproveInputSerializer,
    CancelInputSerializer,
    ExportQuerySerializer,
    GenerateInputSerializer,
    GenerationSerializer,
    MarkPaidInputSerializer,
    PayoutStatementSerializer,
)

CSV = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, UTF-8, one header row.")}
PDF = {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="A PDF document.")}


class PayoutStatementViewSet(
    IdempotentPostMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Payout statements: read them, generate a period's, adjust, approve, mark paid, cancel, export."""

    queryset = selectors.payout_statements()
    serializer_class = PayoutStatementSerializer
    filterset_class = PayoutStatementFilter
    lookup_value_regex = r"\d+"

    def _input(self, serializer_class):
        data = serializer_class(data=self.request.data or {})
        data.is_valid(raise_exception=True)
        return data.validated_data

    def _answer(self, statement: PayoutStatement, code=status.HTTP_200_OK) -> Response:
        statement = self.get_queryset().get(pk=statement.pk)
        return Response(PayoutStatementSerializer(statement).data, status=code)

    @extend_schema(request=GenerateInputSerializer, responses={200: GenerationSerializer, 201: GenerationSerializer})
    @action(detail=False, methods=["post"])
    def generate(self, request):
        """Draw up (or refresh, while draft) the statements of a period: for one affiliate (problems answer as
        problem+json) or for every active affiliate paid at that frequency (those that cannot be are `skipped`,
        with the reason). Idempotent per affiliate and period."""
        v = self._input(GenerateInputSerializer)
        if v.get("affiliate"):
            result = services.statement_generate(affiliate=v["affiliate"], period=v["period"], brand=v.get("brand"))
        else:
            result = services.statements_generate(period=v["period"], brand=v.get("brand"))
        rows = self.get_queryset().filter(pk__in=[s.pk for s in result.statements]).order_by("pk")
        body = {"created": result.created, "refreshed": result.refreshed, "results": rows, "skipped": result.skipped}
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(GenerationSerializer(body).data, status=code)

    @extend_schema(request=ApproveInputSerializer, responses=PayoutStatementSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Draft → approved (issues the invoice where the affiliate must send one); announces payout.approved."""
        self._input(ApproveInputSerializer)
        return self._answer(services.statement_approve(statement=self.get_object()))

    @extend_schema(request=MarkPaidInputSerializer, responses=PayoutStatementSerializer)
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request, pk=None):
        """Approved → paid, with the payment reference (required), method and date; the entries become paid."""
        v = self._input(MarkPaidInputSerializer)
        statement = services.statement_mark_paid(
            statement=self.get_object(), reference=v["reference"], method=v["method"], paid_on=v["paid_on"]
        )
        return self._answer(statement)

    @extend_schema(request=CancelInputSerializer, responses=PayoutStatementSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Draft or approved → cancelled with a reason (required); the entries go to the next statement."""
        v = self._input(CancelInputSerializer)
        return self._answer(services.statement_cancel(statement=self.get_object(), reason=v["reason"]))

    @extend_schema(request=AdjustmentInputSerializer, responses={201: PayoutStatementSerializer})
    @action(detail=True, methods=["post"])
    def adjustments(self, request, pk=None):
        """Add a manual adjustment with a reason (required) to a draft statement."""
        v = self._input(AdjustmentInputSerializer)
        adjustment = services.statement_adjust(statement=self.get_object(), amount=v["amount"], reason=v["reason"])
        return self._answer(adjustment.statement, status.HTTP_201_CREATED)

    @extend_schema(responses=PDF)
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request, pk=None):
        """The statement as a PDF."""
        return files.statement_pdf_response(self.get_object())

    @extend_schema(responses=PDF)
    @action(detail=True, methods=["get"], url_path="invoice-pdf", renderer_classes=[JSONRenderer, PDFRenderer])
    def invoice_pdf(self, request, pk=None):
        """The statement's invoice as a PDF (404 problem where it has none)."""
        statement = self.get_object()
        if not hasattr(statement, "invoice"):
            raise Problem(status_code=404, code="no_invoice", title="This statement has no invoice.",
                          detail="Invoices are issued on approval for affiliates who must send one.")  # fmt: skip
        return files.invoice_pdf_response(statement)

    @extend_schema(responses=CSV)
    @action(detail=True, methods=["get"], url_path="entries-csv", renderer_classes=[JSONRenderer, CSVRenderer])
    def entries_csv(self, request, pk=None):
        """The entries behind the statement, with its carry and adjustments, as CSV."""
        return files.entries_csv_response(self.get_object())

    @extend_schema(parameters=[ExportQuerySerializer], responses=CSV)
    @action(detail=False, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer], filter_backends=[],
            pagination_class=None)  # fmt: skip
    def export(self, request):
        """A period's statements as CSV, one row each, with the payee's payment details: a bank or mass-payout
        file (`?period=&status=approved|paid|draft|all&brand=`)."""
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        wanted = q["status"]
        rows = selectors.period_statements(
            period=q["period"], status=None if wanted == "all" else wanted, brand_id=q["brand"].pk if "brand" in q
            else None,
        ).filter(status__in=LIVE_STATUSES)  # fmt: skip
        return files.statements_csv_response(rows, q["period"])
