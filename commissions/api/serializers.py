from rest_framework import serializers

from affiliates.models import Affiliate, Brand
from core.serializers import MoneyAmountField, ObjectIdField, StrictSerializer

from ..models import CommissionEntry


class CommissionEntrySerializer(serializers.ModelSerializer):
    amount = MoneyAmountField()
    events = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = CommissionEntry
        fields = [
            "id", "affiliate", "brand", "customer", "kind", "amount", "currency", "status", "status_reason",
            "hold_until", "period", "occurred_at", "deal", "deal_version", "source_affiliate", "explanation",
            "events", "reverses", "batch", "decided_at", "review_flag", "review_reason", "review_note",
            "review_cleared_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class DecisionInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BulkDecisionInputSerializer(StrictSerializer):
    ids = serializers.ListField(child=ObjectIdField(), min_length=1, max_length=1000)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RecalculationInputSerializer(StrictSerializer):
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all(), required=False, allow_null=True)
    brand = serializers.SlugRelatedField(
        slug_field="slug", queryset=Brand.objects.all(), required=False, allow_null=True
    )
    # 1970-2999: year 0 (or 9999, whose next month is year 10000) has no calendar to close a period in
    period = serializers.RegexField(r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$", required=False, allow_null=True)
    apply = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("affiliate") and not attrs.get("brand"):
            raise serializers.ValidationError("Give an affiliate, a brand, or both.")
        return attrs


class RecalculationDiffSerializer(serializers.Serializer):
    slot = serializers.CharField()
    affiliate_id = serializers.IntegerField()
    kind = serializers.CharField()
    currency = serializers.CharField()
    booked = serializers.CharField()
    intended = serializers.CharField()
    difference = serializers.CharField()
    explanation = serializers.CharField()


class RecalculationSerializer(serializers.Serializer):
    batch = serializers.CharField()
    applied = serializers.BooleanField()
    differences = RecalculationDiffSerializer(many=True)
    booked = serializers.ListField(child=serializers.IntegerField())
