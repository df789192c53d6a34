"""Shapes of the partner API: query parameters in, the affiliate's own rows out. Money as strings."""

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from affiliates.models import Brand, DealAssignment
from affiliates.services import deal_version_terms
from affiliates.terms import DealTermsSerializer
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from core.serializers import MoneyAmountField, StrictSerializer
from tracking.models import TrackingLink

from ..selectors import GROUP_BY, version_periods

UTC = dt.UTC
STATS_DEFAULT_DAYS = 30
STATS_MAX_DAYS = 366


# --- Query parameters -----------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class UtcBoundField(serializers.Field):
    """`YYYY-MM-DD` (a UTC day) or an ISO 8601 date-time with an offset. As `to`, a day is inclusive."""

    default_error_messages = {
        "invalid": "Give a date (YYYY-MM-DD, a UTC day) or an ISO 8601 date-time with an offset.",
        "naive": "A date-time needs an offset (e.g. 2026-11-01T00:00:00Z).",
    }

    def __init__(self, *, upper: bool, **kwargs):
        self.upper = upper
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> dt.datetime:
        text = str(data).strip()
        try:
            day = parse_date(text)
            moment = None if day else parse_datetime(text)
        except ValueError:
            self.fail("invalid")
        if day is not None:
            start = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
            return start + dt.timedelta(days=1) if self.upper else start
        if moment is None:
            self.fail("invalid")
        if timezone.is_naive(moment):
            self.fail("naive")
        return moment.astimezone(UTC)

    def to_representation(self, value):
        return value.isoformat()


class RangeQuerySerializer(StrictSerializer):
    """`from` (inclusive) and `to` (a day: inclusive; a date-time: exclusive)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = UtcBoundField(upper=False, required=False, help_text="Start: YYYY-MM-DD (UTC) or ISO.")
        fields["to"] = UtcBoundField(upper=True, required=False, help_text="End: YYYY-MM-DD (UTC, inclusive) or ISO.")
        return fields

    def to_internal_value(self, data):
        # query strings carry pagination and format parameters too: read only ours
        ours = {name: data[name] for name in self.fields if name in data}
        return super().to_internal_value(ours)

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start is not None and end is not None and start >= end:
            raise serializers.ValidationError({"to": "Must be after `from`."})
        return attrs


class CommissionQuerySerializer(RangeQuerySerializer):
    status = serializers.ChoiceField(choices=EntryStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False)


class StatsQuerySerializer(RangeQuerySerializer):
    group_by = serializers.ChoiceField(choices=[(g, g) for g in GROUP_BY], required=False, default="day")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start, end = attrs.get("from"), attrs.get("to")
        if end is None:
            today = timezone.now().astimezone(UTC).date()
            end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
            if start is not None and start >= end:
                raise serializers.ValidationError({"from": "Must be before `to` (default: the end of today, UTC)."})
        if start is None:
            start = end - dt.timedelta(days=STATS_DEFAULT_DAYS)
        if end - start > dt.timedelta(days=STATS_MAX_DAYS):
            raise serializers.ValidationError({"from": f"The range is at most {STATS_MAX_DAYS} days."})
        attrs["from"], attrs["to"] = start, end
        return attrs


# --- Deals ----------------------------------------------------------------------------------------


class PartnerDealVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    effective_from = serializers.DateField(help_text="First day (brand time zone) these terms apply to activity.")
    effective_to = serializers.DateField(
        allow_null=True, help_text="Last day in force: the day before the next version starts; null for the newest."
    )
    change_note = serializers.CharField()
    terms = DealTermsSerializer(help_text="The deal's terms in this version.")
    applied_terms = DealTermsSerializer(help_text="The terms with this assignment's overrides applied: what you earn.")


class PartnerDealAssignmentSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    deal_name = serializers.CharField(source="deal.name", read_only=True)
    kind = serializers.CharField(source="deal.kind", read_only=True)
    current_version = serializers.IntegerField(source="deal.current_version", read_only=True)
    is_default = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta:
        model = DealAssignment
        fields = [
            "id", "brand", "deal", "deal_name", "kind", "is_default", "valid_from", "valid_to", "overrides",
            "current_version", "versions",
        ]  # fmt: skip
        read_only_fields = fields

    def get_is_default(self, obj) -> bool:
        """True for the brand's default deal (in force on days without an assignment of your own)."""
        return obj.affiliate_id is None

    @extend_schema_field(PartnerDealVersionSerializer(many=True))
    def get_versions(self, obj) -> list[dict]:
        """Every version of the deal's terms, oldest first. Terms never change retroactively."""
        out = []
        for version, effective_to in version_periods(list(obj.deal.versions.all())):
            terms = deal_version_terms(version)
            out.append(
                {
                    "version": version.version,
                    "effective_from": version.effective_from,
                    "effective_to": effective_to,
                    "change_note": version.change_note,
                    "terms": terms,
                    "applied_terms": {**terms, **obj.overrides},
                }
            )
        return out


# --- Commissions ----------------------------------------------------------------------------------


class PartnerDealVersionRefSerializer(serializers.Serializer):
    deal = serializers.IntegerField()
    version = serializers.IntegerField()
    effective_from = serializers.DateField()


class PartnerCommissionSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    amount = MoneyAmountField()
    deal_version = serializers.SerializerMethodField()
    events = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = CommissionEntry
        fields = [
            "id", "brand", "customer", "kind", "amount", "currency", "status", "status_reason", "hold_until",
            "period", "occurred_at", "deal_version", "explanation", "events", "reverses", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(PartnerDealVersionRefSerializer(allow_null=True))
    def get_deal_version(self, entry) -> dict | None:
        """The terms version the amount was computed with (see `deals`)."""
        version = entry.deal_version
        if version is None:
            return None
        return {"deal": version.deal_id, "version": version.version, "effective_from": version.effective_from}


class BalanceByStatusSerializer(serializers.Serializer):
    pending = serializers.CharField()
    on_hold = serializers.CharField()
    approved = serializers.CharField()
    paid = serializers.CharField()
    rejected = serializers.CharField()
    reversed = serializers.CharField()


class CurrencyBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.CharField(help_text="Sum of every entry except rejected ones (reversals are negative).")
    by_status = BalanceByStatusSerializer()

    def to_representation(self, instance):
        return {
            "currency": instance.currency,
            "balance": str(instance.balance),
            "by_status": {status: str(amount) for status, amount in instance.by_status.items()},
        }


class BalanceSerializer(serializers.Serializer):
    results = CurrencyBalanceSerializer(many=True)


# --- Tracking links -------------------------------------------------------------------------------


class PartnerTrackingLinkSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.CharField(read_only=True, help_text="The ready tracking URL to place: /t/<token>.")

    class Meta:
        model = TrackingLink
        fields = ["id", "token", "url", "brand", "name", "landing_url", "is_active", "created_at"]
        read_only_fields = fields


class PartnerTrackingLinkCreateSerializer(StrictSerializer):
    brand = serializers.SlugRelatedField(
        slug_field="slug", queryset=Brand.objects.filter(is_active=True), help_text="An active brand's slug."
    )
    landing_url = serializers.CharField(max_length=4000, help_text="Absolute http(s) URL, at most 2000 characters.")
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


# --- Statistics -----------------------------------------------------------------------------------


class MoneySerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.CharField()


class StatsRowSerializer(serializers.Serializer):
    group = serializers.CharField(help_text="The day (YYYY-MM-DD, UTC), brand slug, country or sub id; '' if none.")
    clicks = serializers.IntegerField(help_text="Billable clicks.")
    registrations = serializers.IntegerField()
    ftds = serializers.IntegerField()
    deposits = serializers.IntegerField(help_text="Deposits, FTDs included.")
    deposit_amount = serializers.CharField(help_text="Sum of deposits and FTDs, in the base currency.")
    revenue = serializers.CharField(help_text="Revenue (NGR), in the base currency.")
    commission = MoneySerializer(many=True, help_text="Commission earned, per currency (rejected entries excluded).")

    def to_representation(self, row):
        return {
            "group": row.group,
            "clicks": row.clicks,
            "registrations": row.registrations,
            "ftds": row.ftds,
            "deposits": row.deposits,
            "deposit_amount": str(row.deposit_amount),
            "revenue": str(row.revenue),
            "commission": [{"currency": c, "amount": str(a)} for c, a in sorted(row.commission.items())],
        }


class StatsSerializer(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(help_text="Start of the range (inclusive), UTC.")
        fields["to"] = serializers.DateTimeField(help_text="End of the range (exclusive), UTC.")
        return fields

    group_by = serializers.CharField()
    currency = serializers.CharField(help_text="The base currency of deposit_amount and revenue.")
    results = StatsRowSerializer(many=True)
