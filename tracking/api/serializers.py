from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from affiliates.models import Affiliate, Brand
from core.serializers import StrictModelSerializer

from .. import selectors
from ..choices import MISS_REASON_CHOICES, HintKind, HintReason
from ..models import AttributionConflict, Customer, CustomerReassignment, TrackingLink


class TrackingLinkSerializer(StrictModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all())
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all())
    landing_url = serializers.CharField(max_length=4000, help_text="Absolute http(s) URL, at most 2000 characters.")
    url = serializers.CharField(read_only=True, help_text="The ready tracking URL to place: /t/<token>.")

    class Meta:
        model = TrackingLink
        fields = ["id", "token", "url", "affiliate", "brand", "name", "landing_url", "is_active", "created_at"]
        read_only_fields = ["id", "token", "url", "is_active", "created_at"]


class AttributionConflictSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttributionConflict
        fields = ["method", "value", "claimed_affiliate", "event", "created_at"]


class CustomerReassignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerReassignment
        fields = ["from_affiliate", "to_affiliate", "reason", "changed_by", "changed_at", "previous"]


class HintOutcomeSerializer(serializers.Serializer):
    """The outcome of one attribution hint: its stable reason code and a sentence a person can read."""

    hint = serializers.ChoiceField(choices=HintKind.choices)
    value = serializers.CharField()
    reason = serializers.ChoiceField(choices=HintReason.choices)
    message = serializers.CharField()
    attributed = serializers.BooleanField(help_text="Whether this hint attributed the customer.")
    affiliate = serializers.IntegerField(allow_null=True, help_text="Whom the hint pointed at, when it names anyone.")
    click_id = serializers.CharField(allow_null=True)
    delta_seconds = serializers.IntegerField(
        allow_null=True, help_text="By how long a click missed: after the event, or beyond the window."
    )
    occurred_at = serializers.DateTimeField(allow_null=True, help_text="When the event carrying the hint happened.")


@extend_schema_field(HintOutcomeSerializer(many=True))
class EventAttributionField(serializers.Field):
    """For an event: the outcome of each hint it carried that did not attribute its customer.

    Read for every event on the page at once (by inbound id), not one query per event."""

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def _page(self) -> dict[int, list]:
        root = self.root
        cached = getattr(root, "_event_misses", None)
        if cached is None:
            instances = root.instance if isinstance(root.instance, list | tuple) else None
            if instances is None and hasattr(root.instance, "__iter__"):
                instances = list(root.instance)
            if instances is None:
                instances = [root.instance]
            ids = [e.inbound_id for e in instances if getattr(e, "inbound_id", None)]
            cached = root._event_misses = selectors.event_misses(ids)
        return cached

    def to_representation(self, value):
        if not value.inbound_id:
            return []
        return HintOutcomeSerializer(
            [selectors.miss_outcome(miss) for miss in self._page().get(value.inbound_id, [])], many=True
        ).data


class CustomerSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    click_id = serializers.SerializerMethodField()
    tracking_link = serializers.SerializerMethodField()
    promo_code = serializers.SerializerMethodField()
    conflicts = AttributionConflictSerializer(source="attribution_conflicts", many=True, read_only=True)
    reassignments = CustomerReassignmentSerializer(many=True, read_only=True)
    attribution_reason = serializers.SerializerMethodField(
        help_text="attributed or affiliate_inactive when attributed; else the first failed hint's reason code."
    )
    attribution_outcomes = serializers.SerializerMethodField(help_text="The outcome of each hint the customer carried.")

    class Meta:
        model = Customer
        fields = [
            "id", "external_id", "brand", "affiliate", "attribution_method", "click_id", "tracking_link", "promo_code",
            "sub1", "sub2", "sub3", "sub4", "sub5", "country", "registered_at", "first_event_at", "attributed_at",
            "created_at", "attribution_reason", "attribution_outcomes", "conflicts", "reassignments",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_click_id(self, obj) -> str | None:
        return obj.click.click_id if obj.click_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_tracking_link(self, obj) -> str | None:
        return obj.link.token if obj.link_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_promo_code(self, obj) -> str | None:
        return obj.promo_code.code if obj.promo_code_id else None

    @extend_schema_field(serializers.ChoiceField(choices=HintReason.choices, allow_null=True))
    def get_attribution_reason(self, obj) -> str | None:
        return selectors.customer_attribution_reason(obj)

    @extend_schema_field(HintOutcomeSerializer(many=True))
    def get_attribution_outcomes(self, obj) -> list[dict]:
        return HintOutcomeSerializer(selectors.customer_hint_outcomes(obj), many=True).data


class ReattributeInputSerializer(serializers.Serializer):
    customers = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=1000,
        help_text="Customer ids; or leave out and select by `brand` and/or `miss_reason` (at most 1000, oldest first).",
    )
    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all(), required=False)
    miss_reason = serializers.ChoiceField(
        choices=MISS_REASON_CHOICES,
        required=False,
        help_text="Select unattributed customers with a hint that failed for this reason.",
    )
    dry_run = serializers.BooleanField(
        default=True, help_text="true (the default): say what would happen, change nothing."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=470, help_text="Required to apply: kept in the audit."
    )

    def validate(self, attrs):
        if not attrs.get("customers") and "brand" not in attrs and "miss_reason" not in attrs:
            raise serializers.ValidationError(
                {"customers": "Name the customers, or select them by brand and/or miss_reason."}
            )
        if attrs.get("customers") and ("brand" in attrs or "miss_reason" in attrs):
            raise serializers.ValidationError({"customers": "Name the customers or select them, not both."})
        if not attrs["dry_run"] and not (attrs.get("reason") or "").strip():
            raise serializers.ValidationError({"reason": "A reason is required to apply a re-run."})
        return attrs


class ReattributeResultSerializer(serializers.Serializer):
    customer = serializers.IntegerField(source="customer.pk")
    external_id = serializers.CharField(source="customer.external_id")
    brand = serializers.CharField(source="customer.brand.slug")
    action = serializers.ChoiceField(choices=["attribute", "unchanged", "skipped", "refused"])
    detail = serializers.CharField()
    from_affiliate = serializers.IntegerField(source="from_affiliate_id", allow_null=True)
    to_affiliate = serializers.IntegerField(source="to_affiliate.pk", allow_null=True, default=None)
    method = serializers.CharField(allow_null=True)
    value = serializers.CharField(allow_null=True)
    outcomes = serializers.SerializerMethodField(help_text="The hints that (still) fail, and why.")

    @extend_schema_field(HintOutcomeSerializer(many=True))
    def get_outcomes(self, plan) -> list[dict]:
        return HintOutcomeSerializer([selectors.miss_outcome(m) for m in plan.misses], many=True).data


class ReattributeSummarySerializer(serializers.Serializer):
    attribute = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    refused = serializers.IntegerField()


class ReattributeOutputSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    summary = ReattributeSummarySerializer()
    results = ReattributeResultSerializer(many=True)
