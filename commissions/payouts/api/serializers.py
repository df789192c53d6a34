from decimal import Decimal

from rest_framework import serializers

from affiliates.choices import PaymentMethod
from affiliates.models import Affiliate, Brand
from core.serializers import MoneyAmountField, StrictSerializer

from ..choices import EXPORT_STATUSES
from ..models import Invoice, PayoutAdjustment, PayoutStatement


class InvoiceSerializer(serializers.ModelSerializer):
    net = MoneyAmountField(amount_attr="net")
    vat_amount = MoneyAmountField(amount_attr="vat_amount")
    gross = MoneyAmountField(amount_attr="gross")

    class Meta:
        model = Invoice
        fields = ["number", "issued_on", "currency", "net", "vat_rate", "vat_amount", "gross", "vat_number",
                  "voided_at", "void_reason"]  # fmt: skip
        read_only_fields = fields


class PayoutAdjustmentSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=20, decimal_places=3, read_only=True)

    class Meta:
        model = PayoutAdjustment
        fields = ["id", "amount", "reason", "created_at"]
        read_only_fields = fields


class FxUsedSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()
    rate = serializers.CharField(help_text="Units of the payout currency per unit of this currency.")
    rate_date = serializers.DateField()
    converted = serializers.CharField()


class PayoutStatementSerializer(serializers.ModelSerializer):
    """A statement: CONTRACT fields `affiliate`, `period`, `amount`, `currency`, `status`, and how they came about."""

    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    amount = MoneyAmountField(help_text="What is paid (the total when it reaches the threshold), net of VAT.")
    entries_total = MoneyAmountField(amount_attr="entries_total")
    carried_in = MoneyAmountField(amount_attr="carried_in")
    adjustments_total = MoneyAmountField(amount_attr="adjustments_total")
    total = MoneyAmountField(amount_attr="total")
    carry_out = MoneyAmountField(amount_attr="carry_out")
    written_off = MoneyAmountField(amount_attr="written_off")
    threshold = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)
    fx_rates = FxUsedSerializer(many=True, read_only=True)
    entries = serializers.SerializerMethodField()
    adjustments = PayoutAdjustmentSerializer(many=True, read_only=True)
    invoice = InvoiceSerializer(read_only=True, allow_null=True)

    class Meta:
        model = PayoutStatement
        fields = [
            "id", "affiliate", "brand", "period", "frequency", "period_start", "period_end", "status", "currency",
            "amount", "entries_total", "carried_in", "carried_from", "adjustments_total", "total", "carry_out",
            "written_off", "threshold", "negative_carryover", "fx_date", "fx_rates", "explanation", "entries",
            "adjustments", "invoice", "approved_at", "paid_at", "paid_on", "payment_reference", "payment_method",
            "cancelled_at", "cancel_reason", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_entries(self, obj) -> int:
        counted = getattr(obj, "entry_count", None)
        return counted if counted is not None else obj.lines.filter(live=True).count()


PERIOD_HELP = "2026-11 (month), 2026-W45 (ISO week) or 2026-11-01..2026-11-15 (custom)."


class GenerateInputSerializer(StrictSerializer):
    period = serializers.CharField(max_length=30, help_text=PERIOD_HELP)
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all(), required=False, allow_null=True)
    brand = serializers.SlugRelatedField(
        slug_field="slug", queryset=Brand.objects.all(), required=False, allow_null=True
    )


class SkippedSerializer(serializers.Serializer):
    affiliate = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()


class GenerationSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    refreshed = serializers.IntegerField()
    results = PayoutStatementSerializer(many=True)
    skipped = SkippedSerializer(many=True)


class ApproveInputSerializer(StrictSerializer):
    pass


class MarkPaidInputSerializer(StrictSerializer):
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                      help_text="The bank or wallet transaction reference (required).")  # fmt: skip
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False, allow_blank=True, default="",
                                     help_text="Default: the affiliate's payment method.")  # fmt: skip
    paid_on = serializers.DateField(required=False, allow_null=True, default=None, help_text="Default: today.")


class CancelInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AdjustmentInputSerializer(StrictSerializer):
    amount = serializers.DecimalField(
        max_digits=18, decimal_places=3, min_value=Decimal("-100000000"), max_value=Decimal("100000000"),
        help_text="In the statement's currency; negative to deduct.",
    )  # fmt: skip
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ExportQuerySerializer(serializers.Serializer):
    period = serializers.CharField(max_length=30, help_text=PERIOD_HELP)
    status = serializers.ChoiceField(
        choices=EXPORT_STATUSES,
        required=False, default="approved",
        help_text="Which statements (default approved: the ones to pay now); all = every live one.",
    )  # fmt: skip
    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all(), required=False)
