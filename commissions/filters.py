import django_filters

from .models import CommissionEntry


class CommissionEntryFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    flagged = django_filters.BooleanFilter(
        field_name="review_flag", help_text="true: entries flagged for review and not yet decided or cleared."
    )

    class Meta:
        model = CommissionEntry
        fields = {
            "affiliate": ["exact"], "customer": ["exact"], "status": ["exact", "in"], "kind": ["exact", "in"],
            "period": ["exact"], "currency": ["exact"], "created_at": ["gte", "lt"],
        }  # fmt: skip
