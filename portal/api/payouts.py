"""Partner API payouts: your approved and paid statements, and each as a PDF. Another affiliate's statement (or
a draft of yours) answers 404, like any id that is not yours."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer

from commissions.payouts import selectors
from commissions.payouts.api import files
from commissions.payouts.api.renderers import PDFRenderer
from commissions.payouts.api.serializers import FxUsedSerializer, InvoiceSerializer
from commissions.payouts.models import PayoutStatement
from core.serializers import MoneyAmountField

from .views import PartnerViewMixin


class PartnerPayoutSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    amount = MoneyAmountField()
    entries_total = MoneyAmountField(amount_attr="entries_total")
    carried_in = MoneyAmountField(amount_attr="carried_in")
    adjustments_total = MoneyAmountField(amount_attr="adjustments_total")
    total = MoneyAmountField(amount_attr="total")
    carry_out = MoneyAmountField(amount_attr="carry_out")
    fx_rates = FxUsedSerializer(many=True, read_only=True)
    invoice = serializers.SerializerMethodField()

    class Meta:
        model = PayoutStatement
        fields = [
            "id", "affiliate", "brand", "period", "period_start", "period_end", "status", "currency", "amount",
            "entries_total", "carried_in", "adjustments_total", "total", "carry_out", "fx_date", "fx_rates",
            "explanation", "invoice", "approved_at", "paid_on", "payment_reference", "payment_method",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(InvoiceSerializer(allow_null=True))
    def get_invoice(self, obj) -> dict | None:
        invoice = getattr(obj, "invoice", None)
        return InvoiceSerializer(invoice).data if invoice is not None else None


class PartnerPayoutViewSet(PartnerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your payout statements (approved and paid), newest period first; `…/{id}/pdf` downloads one."""

    serializer_class = PartnerPayoutSerializer

    def get_queryset(self):
        if self._schema_only():
            return PayoutStatement.objects.none()
        return selectors.partner_statements(affiliate_id=self.affiliate_id)

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The statement PDF.")}
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request, pk=None):
        """Your statement as a PDF."""
        return files.statement_pdf_response(self.get_object())
