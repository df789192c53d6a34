from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from affiliates.models import Affiliate
from core.serializers import ObjectIdField, StrictModelSerializer, StrictSerializer

from ..models import Delivery, DeliveryAttempt, PartnerPostback, WebhookEndpoint


class WebhookEndpointSerializer(StrictModelSerializer):
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all(), allow_null=True, required=False)
    event_types = serializers.ListField(child=serializers.CharField(max_length=60), allow_empty=False)
    secret_prefix = serializers.CharField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "description", "event_types", "affiliate", "enabled", "secret_prefix", "failing_since",
            "last_success_at", "disabled_at", "disabled_reason", "previous_secret_expires_at", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "secret_prefix", "failing_since", "last_success_at", "disabled_at", "disabled_reason",
            "previous_secret_expires_at", "created_at", "updated_at",
        ]  # fmt: skip


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown only in this answer.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class RotateInputSerializer(StrictSerializer):
    grace_hours = serializers.FloatField(
        required=False, min_value=0, max_value=24 * 30, help_text="How long the old secret keeps signing."
    )


class RotatedSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret: shown only in this answer.")
    previous_secret_expires_at = serializers.DateTimeField()


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number", "at", "request_method", "request_url", "request_headers", "request_body", "response_status",
            "response_body", "error", "latency_ms", "success",
        ]  # fmt: skip


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)
    event = serializers.IntegerField(source="event_id", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "message_id", "event", "event_type", "endpoint", "postback", "url", "status", "attempts",
            "next_attempt_at", "last_status_code", "last_error", "created_at", "finished_at",
        ]  # fmt: skip


class DeliveryDetailSerializer(DeliverySerializer):
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)
    payload = serializers.SerializerMethodField()

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempt_log"]

    @extend_schema_field({"type": "object"})
    def get_payload(self, obj) -> dict:
        return {"type": obj.event.type, "timestamp": obj.event.created_at.isoformat(), "data": obj.event.data}


class RedeliverInputSerializer(StrictSerializer):
    ids = serializers.ListField(child=ObjectIdField(), allow_empty=False, max_length=1000)


class RedeliveredSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField()


class PartnerPostbackSerializer(StrictModelSerializer):
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all())

    class Meta:
        model = PartnerPostback
        fields = [
            "id", "affiliate", "event", "url_template", "enabled", "raw_customer_ids", "consecutive_failures",
            "disabled_at", "disabled_reason", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "consecutive_failures", "disabled_at", "disabled_reason", "created_at", "updated_at"]


class PartnerOwnPostbackSerializer(StrictModelSerializer):
    """A partner's view of their own postbacks: they set templates; raw customer ids are a manager's call."""

    class Meta:
        model = PartnerPostback
        fields = [
            "id", "event", "url_template", "enabled", "raw_customer_ids", "consecutive_failures", "disabled_at",
            "disabled_reason",
        ]  # fmt: skip
        read_only_fields = ["id", "raw_customer_ids", "consecutive_failures", "disabled_at", "disabled_reason"]
