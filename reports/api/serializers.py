"""Query parameters and answers of `GET /api/v1/reports` and `GET /api/v1/reports/cohorts`."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from affiliates.models import Affiliate, Brand
from core.serializers import StrictSerializer
from portal.api.serializers import MoneySerializer, StatsQuerySerializer, StatsRowSerializer, StatsSerializer

from ..selectors import GROUP_BY, ReportFilter

UTC = dt.UTC
COHORT_DEFAULT_MONTHS = 12
COHORT_MAX_MONTHS = 36


class FilterFieldsMixin(serializers.Serializer):
    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all(), required=False,
                                         help_text="Only this brand (slug).")  # fmt: skip
    affiliate = serializers.PrimaryKeyRelatedField(queryset=Affiliate.objects.all(), required=False,
                                                   help_text="Only this affiliate (id).")  # fmt: skip


class ReportQuerySerializer(FilterFieldsMixin, StatsQuerySerializer):
    group_by = serializers.ChoiceField(choices=[(g, g) for g in GROUP_BY], required=False, default="day")

    def filter(self) -> ReportFilter:
        q = self.validated_data
        return ReportFilter(
            affiliate_id=q["affiliate"].pk if q.get("affiliate") else None,
            brand_id=q["brand"].pk if q.get("brand") else None,
        )


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"})
class MonthField(serializers.Field):
    default_error_messages = {"invalid": "Give a month as YYYY-MM."}

    def to_internal_value(self, data) -> dt.date:
        try:
            return dt.datetime.strptime(str(data).strip(), "%Y-%m").date()
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return value.strftime("%Y-%m")


class CohortQuerySerializer(FilterFieldsMixin, StrictSerializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = MonthField(required=False, help_text="First registration month, YYYY-MM (UTC).")
        fields["to"] = MonthField(required=False, help_text="Last registration month, YYYY-MM (UTC, inclusive).")
        return fields

    def to_internal_value(self, data):
        ours = {name: data[name] for name in self.fields if name in data}
        return super().to_internal_value(ours)

    def validate(self, attrs):
        end = attrs.get("to") or timezone.now().astimezone(UTC).date().replace(day=1)
        start = attrs.get("from")
        if start is None:
            year, month = divmod(end.year * 12 + end.month - 1 - (COHORT_DEFAULT_MONTHS - 1), 12)
            start = dt.date(year, month + 1, 1)
        if start > end:
            raise serializers.ValidationError({"to": "Must not be before `from`."})
        if (end.year * 12 + end.month) - (start.year * 12 + start.month) >= COHORT_MAX_MONTHS:
            raise serializers.ValidationError({"from": f"At most {COHORT_MAX_MONTHS} months."})
        attrs["from"], attrs["to"] = start, end
        return attrs


class ReportRowSerializer(StatsRowSerializer):
    """A partner stats row with the group's name: the same figures, for any affiliate or the whole programme."""

    group = serializers.CharField(
        help_text="The day (YYYY-MM-DD, UTC), brand slug, affiliate id, country, link token or sub id; '' if none."
    )
    label = serializers.CharField(help_text="The brand's, affiliate's or link's name.")

    def to_representation(self, row):
        figures = super().to_representation(row)
        return {"group": figures.pop("group"), "label": row.label, **figures}


class ReportSerializer(StatsSerializer):
    results = ReportRowSerializer(many=True)


class CohortAgeSerializer(serializers.Serializer):
    days = serializers.IntegerField(help_text="7, 30 or 90: activity before registration time + this many days.")
    ftds = serializers.IntegerField(help_text="Customers of the cohort with an FTD by then.")
    ftd_rate = serializers.CharField(help_text="ftds / customers, in percent (two places).")
    revenue = serializers.CharField(help_text="Revenue (NGR) by then, in the base currency.")
    commission = MoneySerializer(many=True, help_text="Commission paid to the affiliate on the cohort by then.")
    matured = serializers.BooleanField(help_text="Whether every customer of the month is at least this old.")


class CohortRowSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="Registration month, YYYY-MM (UTC).")
    customers = serializers.IntegerField(help_text="Attributed customers who registered in the month.")
    ages = CohortAgeSerializer(many=True)

    def to_representation(self, row):
        return {
            "month": row.month.strftime("%Y-%m"),
            "customers": row.customers,
            "ages": [
                {
                    "days": n,
                    "ftds": row.ftds[n],
                    "ftd_rate": str(row.ftd_rate(n)),
                    "revenue": str(row.revenue[n]),
                    "commission": [{"currency": c, "amount": str(a)} for c, a in row.commission[n].items()],
                    "matured": row.matured[n],
                }
                for n in sorted(row.ftds)
            ],
        }


class CohortSerializer(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="First registration month, YYYY-MM.")
        fields["to"] = serializers.CharField(help_text="Last registration month, YYYY-MM.")
        return fields

    currency = serializers.CharField(help_text="The base currency of revenue.")
    results = CohortRowSerializer(many=True)
