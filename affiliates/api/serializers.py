import zoneinfo
from decimal import Decimal

from django.contrib.auth import get_user_model
from django_countries.serializers import CountryFieldMixin
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import CurrencyField, StrictModelSerializer, StrictSerializer

from ..models import Affiliate, Brand, Deal, DealAssignment, DealVersion
from ..services import deal_version_terms
from ..terms import MAX_MONEY, DealTermsSerializer


class BrandSerializer(StrictModelSerializer):
    currency = CurrencyField(required=False)

    class Meta:
        model = Brand
        fields = [
            "id", "slug", "name", "vertical", "currency", "timezone", "click_param", "attribution_window_days",
            "website", "is_active", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]

    def validate_timezone(self, value):
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(f"{value!r} is not an IANA time zone.")
        return value

    def validate_click_param(self, value):
        if not value.replace("_", "").replace("-", "").isalnum():
            raise serializers.ValidationError("Letters, digits, '_' and '-' only.")
        return value


class AffiliateSerializer(CountryFieldMixin, StrictModelSerializer):
    manager = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_staff=True), allow_null=True, required=False
    )
    parent = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all(), allow_null=True, required=False)
    payout_currency = CurrencyField(required=False)
    payout_threshold = serializers.DecimalField(
        max_digits=18, decimal_places=2, min_value=Decimal("0"), max_value=MAX_MONEY, required=False
    )

    class Meta:
        model = Affiliate
        fields = [
            "id", "name", "email", "company", "website", "country", "status", "status_reason", "parent", "manager",
            "payment_method", "payment_details", "payout_currency", "payout_threshold", "payout_frequency",
            "payout_scope", "vat_number", "vat_rate", "invoice_required", "notes", "created_at", "updated_at",
            "approved_at",
        ]  # fmt: skip
        read_only_fields = ["id", "status", "status_reason", "created_at", "updated_at", "approved_at"]

    def validate_payment_details(self, value):
        if not isinstance(value, dict) or any(not isinstance(v, str | int | None) for v in value.values()):
            raise serializers.ValidationError("Must be an object of field names to text values.")
        return value

    def validate_parent(self, value):
        if value is not None and self.instance is not None and value.pk == self.instance.pk:
            raise serializers.ValidationError("An affiliate cannot be its own parent.")
        return value


class StatusChangeInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DealVersionSerializer(serializers.ModelSerializer):
    terms = serializers.SerializerMethodField()

    class Meta:
        model = DealVersion
        fields = ["version", "effective_from", "change_note", "created_by", "created_at", "terms"]

    @extend_schema_field(DealTermsSerializer)
    def get_terms(self, obj) -> dict:
        return deal_version_terms(obj)


class DealWriteSerializer(DealTermsSerializer):
    """Create: brand + all terms. Update: any subset of terms; makes a new version."""

    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all())
    effective_from = serializers.DateField(
        required=False,
        help_text="First day the terms apply (brand time zone); default today. An update may not start before the "
        "current version.",
    )
    change_note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DealUpdateMetaSerializer(serializers.Serializer):
    """The parts of a deal update that are not terms (terms are validated by the service, merged)."""

    effective_from = serializers.DateField(required=False)
    change_note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DealUpdateSerializer(DealWriteSerializer):
    """Schema of an update: every field optional; the terms named replace the current ones."""

    class Meta:
        ref_name = "DealUpdate"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class DealSerializer(serializers.ModelSerializer):
    """A deal as read: its identity, current version number and the current terms, flattened."""

    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="current_version", read_only=True)

    class Meta:
        model = Deal
        fields = ["id", "brand", "version", "is_active", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # versions are prefetched by the view: pick the current one without a query per deal
        current = next(v for v in instance.versions.all() if v.version == instance.current_version)
        data.update(deal_version_terms(current))
        data["effective_from"] = current.effective_from.isoformat()
        return data


class DealAssignmentSerializer(StrictModelSerializer):
    deal = serializers.PrimaryKeyRelatedField(queryset=Deal.objects.all())
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all(), allow_null=True, required=False)
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = DealAssignment
        fields = ["id", "deal", "affiliate", "brand", "valid_from", "valid_to", "overrides", "note", "created_at"]
        read_only_fields = ["id", "brand", "created_at"]
