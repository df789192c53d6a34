from rest_framework import serializers

from ..models import Alert


class AlertSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "source", "kind", "subject", "severity", "title", "details",
            "opened_at", "last_seen_at", "resolved_at",
        ]  # fmt: skip
        read_only_fields = fields
