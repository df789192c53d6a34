from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Alert, AlertKind


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
