from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from affiliates.models import Affiliate, Brand
from core.serializers import StrictModelSerializer

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


class CustomerSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    click_id = serializers.SerializerMethodField()
    tracking_link = serializers.SerializerMethodField()
    promo_code = serializers.SerializerMethodField()
    conflicts = AttributionConflictSerializer(source="attribution_conflicts", many=True, read_only=True)
    reassignments = CustomerReassignmentSerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id", "external_id", "brand", "affiliate", "attribution_method", "click_id", "tracking_link", "promo_code",
            "sub1", "sub2", "sub3", "sub4", "sub5", "country", "registered_at", "first_event_at", "attributed_at",
            "created_at", "conflicts", "reassignments",
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
