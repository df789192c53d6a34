from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import StrictSerializer
from integrations.models import Source

from ..models import Alert, AlertKind, Granularity, ReconciliationRun


# Inline enum: `kind` names other choice sets too (deals, commissions), and a shared component name would collide.
@extend_schema_field({"type": "string", "enum": list(AlertKind.values), "description": "What the alert is about."})
class AlertKindField(serializers.CharField):
    pass


class AlertSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    kind = AlertKindField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "source", "kind", "subject", "severity", "title", "details",
            "opened_at", "last_seen_at", "resolved_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReconciliationSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "id", "source", "granularity", "period_start", "period_end", "currency", "filename",
            "summary", "lines", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReconciliationCreateSerializer(StrictSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", queryset=Source.objects.all())
    granularity = serializers.ChoiceField(choices=Granularity.choices)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    csv = serializers.CharField(
        trim_whitespace=False,
        max_length=5 * 1024 * 1024,
        help_text="The operator's totals as CSV text: customer_id or date, and any of ftds, deposits, revenue.",
    )
    filename = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
