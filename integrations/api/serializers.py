from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from affiliates.models import Brand
from core.serializers import ObjectIdField, StrictModelSerializer, StrictSerializer
from tracking.api.serializers import EventAttributionField
from tracking.models import ConversionEvent

from ..mapping import HINT_FIELDS
from ..models import FxRate, InboundEvent, MappingVersion, Source
from ..presets import preset_choices


class SourceSerializer(StrictModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all())
    preset = serializers.ChoiceField(choices=preset_choices(), required=False, allow_blank=True)
    mapping = serializers.JSONField(required=False, help_text="CONTRACT.md 'Mapping'; default: the preset's.")
    mapping_version = serializers.SerializerMethodField()
    postback_url = serializers.SerializerMethodField()
    note = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500, help_text="Why the mapping changed."
    )

    class Meta:
        model = Source
        fields = [
            "id", "slug", "name", "brand", "kind", "preset", "mapping", "mapping_version", "test_mode", "derive_ftd",
            "is_active", "rate_limit_per_minute", "postback_url", "note", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]

    def get_mapping_version(self, obj) -> int | None:
        return obj.mapping_versions.order_by("-version").values_list("version", flat=True).first()

    def get_postback_url(self, obj) -> str:
        return f"{settings.PUBLIC_BASE_URL}/postback/{obj.slug}/"

    def validate(self, attrs):
        if self.instance is not None and "slug" in attrs and attrs["slug"] != self.instance.slug:
            raise serializers.ValidationError({"slug": "A source's slug cannot change (operators call it)."})
        if self.instance is not None and "brand" in attrs and attrs["brand"] != self.instance.brand:
            raise serializers.ValidationError({"brand": "A source's brand cannot change."})
        return attrs


class SourceCreatedSerializer(SourceSerializer):
    api_key = serializers.CharField(read_only=True, help_text="The source key, shown only in this answer.")

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "api_key"]


class MappingVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = MappingVersion
        fields = ["version", "mapping", "note", "created_by", "created_at"]


class MappingTestSerializer(StrictSerializer):
    payload = serializers.JSONField(required=False, help_text="A sample event as the source sends it (JSON).")
    query = serializers.CharField(required=False, allow_blank=False, help_text="Or a sample query string.")
    mapping = serializers.JSONField(required=False, help_text="A mapping to try instead of the saved one.")

    def validate(self, attrs):
        if ("payload" in attrs) == ("query" in attrs):
            raise serializers.ValidationError("Give either 'payload' or 'query'.")
        return attrs


class MappingProblemSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()
    code = serializers.CharField()


class MappingTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    canonical = serializers.JSONField(allow_null=True)
    event_id = serializers.CharField(help_text="The event id, or the one id_fields derive (starts with '~').")
    reason_code = serializers.CharField(allow_blank=True)
    errors = MappingProblemSerializer(many=True)


class EventInSerializer(serializers.Serializer):
    """A canonical event as sent with the default mapping (a source's mapping may name fields otherwise)."""

    event_id = serializers.CharField(required=False)
    type = serializers.CharField()
    customer_id = serializers.CharField(required=False)
    brand = serializers.CharField(required=False)
    click_id = serializers.CharField(required=False)
    tracking_token = serializers.CharField(required=False)
    affiliate_id = serializers.CharField(required=False)
    promo_code = serializers.CharField(required=False)
    sub1 = serializers.CharField(required=False)
    sub2 = serializers.CharField(required=False)
    sub3 = serializers.CharField(required=False)
    sub4 = serializers.CharField(required=False)
    sub5 = serializers.CharField(required=False)
    amount = serializers.CharField(required=False, help_text='A decimal string, e.g. "50.00".')
    currency = serializers.CharField(required=False)
    occurred_at = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(choices=["pending", "qualified", "rejected"], required=False)
    ref_event_id = serializers.CharField(required=False)
    country = serializers.CharField(required=False)
    data = serializers.DictField(required=False)


class EventBatchInSerializer(serializers.Serializer):
    events = EventInSerializer(many=True, help_text="At most 1000 events, at most 5 MiB.")


class EventErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    code = serializers.CharField()


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(help_text="The inbound event id (for a duplicate: the original's).")
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    code = serializers.CharField(required=False, help_text="The reason code of a rejection.")
    errors = EventErrorSerializer(many=True)


class EventResultsSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True)


class HintField(serializers.CharField):
    """One attribution hint as the source sent it (stored in the event's `hints`)."""

    def __init__(self, hint: str):
        super().__init__(source="hints", read_only=True, allow_null=True)
        self.hint = hint

    def to_representation(self, value):
        return (value or {}).get(self.hint)


class ConversionEventSerializer(serializers.ModelSerializer):
    """A canonical event as stored, with its base-currency amount and the FX rate used."""

    event_id = serializers.CharField(source="external_id")
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    customer_id = serializers.SerializerMethodField()
    ref_event_id = serializers.CharField(source="ref_external_id")
    base_currency = serializers.SerializerMethodField()
    click_id = HintField("click_id")
    tracking_token = HintField("tracking_token")
    affiliate_id = HintField("affiliate_id")
    promo_code = HintField("promo_code")
    sub1 = HintField("sub1")
    sub2 = HintField("sub2")
    sub3 = HintField("sub3")
    sub4 = HintField("sub4")
    sub5 = HintField("sub5")
    attribution_misses = EventAttributionField(
        help_text="Each hint of this event that did not attribute its customer, with the reason code and why."
    )

    class Meta:
        model = ConversionEvent
        fields = [
            "id", "event_id", "type", "status", "source", "brand", "customer", "customer_id", "affiliate",
            *HINT_FIELDS, "amount", "currency", "amount_base", "base_currency", "fx_rate", "fx_date", "occurred_at",
            "received_at", "ref_event_id", "ref_event", "applied_at", "country", "data", "is_test", "inbound",
            "attribution_misses",
        ]  # fmt: skip

    def get_customer_id(self, obj) -> str | None:
        return obj.customer.external_id if obj.customer_id else None

    def get_base_currency(self, obj) -> str:
        return settings.BASE_CURRENCY


class InboundEventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    mapping_version = serializers.SlugRelatedField(slug_field="version", read_only=True, allow_null=True)

    class Meta:
        model = InboundEvent
        fields = [
            "id", "source", "received_at", "channel", "method", "content_type", "query_string", "body", "payload",
            "batch_id", "batch_index", "status", "reason_code", "reason_detail", "mapping_version", "canonical",
            "external_id", "duplicate_of", "attempts", "processed_at",
        ]  # fmt: skip
        read_only_fields = fields


class FxRateSerializer(StrictModelSerializer):
    class Meta:
        model = FxRate
        fields = ["id", "currency", "date", "rate", "origin", "created_at"]
        read_only_fields = ["id", "origin", "created_at"]
        validators = []


class FxImportSerializer(StrictSerializer):
    csv = serializers.CharField(help_text="An ECB reference-rate CSV (eurofxref.csv or eurofxref-hist.csv).")


class FxImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    days = serializers.IntegerField()


class ReplaySerializer(StrictSerializer):
    ids = serializers.ListField(child=ObjectIdField(), min_length=1, max_length=10_000)


@extend_schema_field(serializers.DictField(child=serializers.CharField()))
class OutcomesField(serializers.DictField):
    pass


class ReplayResultSerializer(serializers.Serializer):
    outcomes = OutcomesField(help_text="{inbound id: status after the replay}")
    summary = serializers.CharField()
