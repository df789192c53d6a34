import django_filters

from .models import Affiliate, Brand, Deal, DealAssignment


class BrandFilter(django_filters.FilterSet):
    class Meta:
        model = Brand
        fields = {"slug": ["exact"], "vertical": ["exact"], "is_active": ["exact"], "currency": ["exact"]}


class AffiliateFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name, email or company contains")

    class Meta:
        model = Affiliate
        fields = {
            "status": ["exact", "in"], "manager": ["exact"], "parent": ["exact", "isnull"], "country": ["exact"],
            "email": ["exact"], "created_at": ["gte", "lt"],
        }  # fmt: skip

    def search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(name__icontains=value) | Q(email__icontains=value) | Q(company__icontains=value))


class DealFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = Deal
        fields = {"kind": ["exact"], "is_active": ["exact"]}


class DealAssignmentFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    active_on = django_filters.DateFilter(method="filter_active_on", label="In force on this date")

    class Meta:
        model = DealAssignment
        fields = {"affiliate": ["exact", "isnull"], "deal": ["exact"]}

    def filter_active_on(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(valid_from__lte=value).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=value))
