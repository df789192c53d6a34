"""The manager's admin for tracking: links, promo codes, clicks (a huge table), customers and their audit.

Writes go through `tracking.services`. The click and customer lists never count the whole table (see
`EstimatedCountPaginator`).
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    RangeDateTimeFilter,
    RelatedDropdownFilter,
    TextFilter,
)
from unfold.decorators import action, display

from core.readonly_admin import ReadOnlyAdminMixin

from . import reattribution, selectors, services
from .choices import MISS_REASON_CHOICES
from .forms import PromoCodeForm, ReassignForm, TrackingLinkForm
from .models import AttributionConflict, AttributionMiss, Click, Customer, CustomerReassignment, PromoCode, TrackingLink

COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """Never counts a huge table. On PostgreSQL the planner's row estimate is used when it is past
    COUNT_CAP (the admin then shows "about" that many pages); below it, or elsewhere, a count bounded by
    COUNT_CAP rows (a LIMITed subquery) is exact and cheap."""

    @cached_property
    def count(self) -> int:
        if connection.vendor == "postgresql":
            estimate = _planner_estimate(self.object_list)
            if estimate is not None and estimate > COUNT_CAP:
                return estimate
        return self.object_list[:COUNT_CAP].count()


# The name other apps' admins import for their large tables.
CappedCountPaginator = EstimatedCountPaginator


def _planner_estimate(queryset) -> int | None:
    try:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])
    except Exception:  # an estimate is a convenience: fall back to the bounded count
        return None


class CountryFilter(TextFilter):
    title = "country (ISO code)"
    parameter_name = "country"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip().upper()
        return queryset.filter(country=value) if value else queryset


class SubIdFilter(TextFilter):
    title = "sub id (any of sub1–sub5)"
    parameter_name = "sub"

    def queryset(self, request, queryset):
        from django.db.models import Q

        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(Q(sub1=value) | Q(sub2=value) | Q(sub3=value) | Q(sub4=value) | Q(sub5=value))


def _service_error(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


# --- Links and promo codes ------------------------------------------------------------------------


@admin.register(TrackingLink)
class TrackingLinkAdmin(ModelAdmin):
    form = TrackingLinkForm
    list_display = ["__str__", "affiliate", "brand", "landing_url", "is_active", "tracking_url", "created_at"]
    list_filter = [("brand", RelatedDropdownFilter), "is_active", ("created_at", RangeDateTimeFilter)]
    list_filter_submit = True
    list_select_related = ["affiliate", "brand"]
    search_fields = ["=token", "name", "landing_url", "affiliate__name"]
    autocomplete_fields = ["affiliate"]
    readonly_fields = ["token", "tracking_url", "created_by", "created_at"]
    actions = ["disable_selected", "enable_selected"]

    @display(description="Tracking URL")
    def tracking_url(self, obj):
        return obj.url if obj.token else "—"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A placed link keeps its target: make a new link for another landing page.
        return [*self.readonly_fields, "affiliate", "brand", "landing_url"]

    def save_model(self, request, obj, form, change):
        if change:
            services.tracking_link_update(link=obj, name=obj.name, is_active=obj.is_active)
            return
        link = services.tracking_link_create(
            affiliate=obj.affiliate,
            brand=obj.brand,
            landing_url=obj.landing_url,
            name=obj.name,
            created_by=request.user,
        )
        if not obj.is_active:
            services.tracking_link_update(link=link, name=link.name, is_active=False)
        obj.pk, obj.token, obj.created_at = link.pk, link.token, link.created_at

    def _set_active(self, request, queryset, is_active: bool):
        for link in queryset:
            services.tracking_link_update(link=link, name=link.name, is_active=is_active)
        self.message_user(request, f"{len(queryset)} link(s) {'enabled' if is_active else 'disabled'}.")

    @admin.action(description="Disable selected links (404 within the link cache time)", permissions=["change"])
    def disable_selected(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description="Enable selected links", permissions=["change"])
    def enable_selected(self, request, queryset):
        self._set_active(request, queryset, True)


@admin.register(PromoCode)
class PromoCodeAdmin(ModelAdmin):
    form = PromoCodeForm
    list_display = ["code", "brand", "affiliate", "is_active", "created_at"]
    list_filter = [("brand", RelatedDropdownFilter), "is_active"]
    list_select_related = ["brand", "affiliate"]
    search_fields = ["code", "affiliate__name"]
    autocomplete_fields = ["affiliate"]

    def get_readonly_fields(self, request, obj=None):
        return ["brand", "affiliate", "code", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            services.promo_code_set_active(promo=obj, is_active=obj.is_active)
            return
        promo = services.promo_code_create(brand=obj.brand, affiliate=obj.affiliate, code=obj.code)
        if not obj.is_active:
            services.promo_code_set_active(promo=promo, is_active=False)
        obj.pk, obj.created_at = promo.pk, promo.created_at

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class Checked(form):
            def clean(self):
                data = super().clean()
                taken = (
                    obj is None
                    and data.get("brand")
                    and data.get("code")
                    and PromoCode.objects.filter(brand=data["brand"], code__iexact=data["code"].strip()).exists()
                )
                if taken:
                    self.add_error("code", "This promo code is already taken at this brand.")
                return data

        return Checked


# --- Clicks ---------------------------------------------------------------------------------------


@admin.register(Click)
class ClickAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["click_id", "created_at", "affiliate", "brand", "link", "sub1", "country", "flag", "is_billable"]
    list_filter = [
        ("affiliate", RelatedDropdownFilter),
        ("brand", RelatedDropdownFilter),
        ("flag", ChoicesDropdownFilter),
        "is_billable",
        CountryFilter,
        SubIdFilter,
        ("created_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["affiliate", "brand", "link"]
    search_fields = ["=click_id", "=sub1", "=sub2", "=sub3", "=sub4", "=sub5"]
    search_help_text = "Exact click id or sub id."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    date_hierarchy = None
    raw_id_fields = ["link", "affiliate", "brand"]
    ordering = ["-created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Click._meta.fields]


# --- Customers ------------------------------------------------------------------------------------


class AttributionConflictInline(TabularInline):
    model = AttributionConflict
    extra = 0
    can_delete = False
    fields = ["created_at", "method", "value", "claimed_affiliate", "event"]
    readonly_fields = fields
    verbose_name_plural = "Attribution conflicts (later hints for another affiliate; recorded, never applied)"

    def has_add_permission(self, request, obj=None):
        return False


class CustomerReassignmentInline(TabularInline):
    model = CustomerReassignment
    extra = 0
    can_delete = False
    fields = ["changed_at", "from_affiliate", "to_affiliate", "reason", "changed_by", "previous"]
    readonly_fields = fields
    verbose_name_plural = "Reassignments (audit)"

    def has_add_permission(self, request, obj=None):
        return False


class UnattributedWithHintsFilter(admin.SimpleListFilter):
    title = "unattributed, with hints"
    parameter_name = "miss_reason"

    def lookups(self, request, model_admin):
        return [("any", "Any reason"), *MISS_REASON_CHOICES]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value != "any" and value not in dict(MISS_REASON_CHOICES):
            return queryset.none()
        return selectors.customers_unattributed_with_hints(queryset, reason="" if value == "any" else value)


class ReattributeForm(ReassignForm):
    """The reason of an applied re-run (the affiliate comes from the hints, not from the manager)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["affiliate"]
        self.fields["reason"].max_length = reattribution.REASON_LENGTH - 30
        self.fields["reason"].help_text = "Required. What was fixed; kept in each customer's reassignment audit."


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    list_display = [
        "external_id", "brand", "affiliate", "attribution_method", "why_unattributed", "sub1", "country",
        "registered_at", "conflicts",
    ]  # fmt: skip
    list_filter = [
        ("brand", RelatedDropdownFilter),
        ("affiliate", RelatedDropdownFilter),
        ("attribution_method", ChoicesDropdownFilter),
        UnattributedWithHintsFilter,
        CountryFilter,
        SubIdFilter,
        ("registered_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["brand", "affiliate"]
    search_fields = ["=external_id", "=click__click_id", "=sub1", "=sub2", "=sub3", "=sub4", "=sub5"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = [AttributionConflictInline, CustomerReassignmentInline]
    actions = ["rerun_attribution"]
    actions_detail = ["reassign", "rerun_one"]

    def get_readonly_fields(self, request, obj=None):
        return ["attribution_outcome", *[f.name for f in Customer._meta.fields]]

    @display(description="Attribution outcome (each hint and why)")
    def attribution_outcome(self, obj):
        outcomes = selectors.customer_hint_outcomes(obj)
        if not outcomes:
            return "No attribution hint was ever sent for this customer."
        rows = format_html_join(
            "",
            "<tr><td class='pr-3'>{}</td><td class='pr-3'>{}</td><td class='pr-3'><code>{}</code></td><td>{}</td></tr>",
            ((o["hint"], o["value"], o["reason"], o["message"]) for o in outcomes),
        )
        return format_html(
            "<table class='text-sm'><thead><tr><th class='text-left pr-3'>Hint</th><th class='text-left pr-3'>Value"
            "</th><th class='text-left pr-3'>Reason</th><th class='text-left'>Why</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            rows,
        )

    def _rerun(self, request, customer_ids: list[int], *, action: str, back: str | None):
        form = ReattributeForm(request.POST if request.POST.get("apply") == "yes" else None)
        if form.is_bound and form.is_valid():
            try:
                plans = reattribution.customers_reattribute(
                    customers=customer_ids, reason=form.cleaned_data["reason"], by=request.user
                )
            except ValidationError as exc:
                form.add_error(None, _service_error(exc))
            else:
                summary = reattribution.plans_summary(plans)
                self.message_user(
                    request,
                    f"Re-run applied: {summary['attribute']} attributed, {summary['unchanged']} unchanged, "
                    f"{summary['skipped']} skipped (already attributed), {summary['refused']} refused (paid entries).",
                    messages.SUCCESS if summary["attribute"] else messages.WARNING,
                )
                return HttpResponseRedirect(back) if back else None
        try:
            plans = reattribution.customers_reattribute_plan(customers=customer_ids)
        except ValidationError as exc:
            self.message_user(request, _service_error(exc), messages.ERROR)
            return HttpResponseRedirect(back) if back else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Re-run attribution (dry run)",
            "plans": plans,
            "summary": reattribution.plans_summary(plans),
            "form": form,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "back": back,
        }
        return TemplateResponse(request, "admin/tracking/customer/reattribute.html", context)

    @admin.action(description="Re-run attribution (dry run first)", permissions=["change"])
    def rerun_attribution(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[: reattribution.MAX_CUSTOMERS + 1])
        return self._rerun(request, ids, action="rerun_attribution", back=None)

    @action(description="Re-run attribution", url_path="rerun-attribution", permissions=["change"], icon="replay")
    def rerun_one(self, request, object_id):
        customer = get_object_or_404(Customer, pk=object_id)
        back = reverse("admin:tracking_customer_change", args=[customer.pk])
        return self._rerun(request, [customer.pk], action="", back=back)

    def get_queryset(self, request):
        from django.db.models import Count, OuterRef, Subquery

        first_miss = AttributionMiss.objects.filter(customer=OuterRef("pk")).order_by("pk").values("reason")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(conflict_count=Count("attribution_conflicts"), first_miss=Subquery(first_miss))
        )

    @display(description="Why unattributed")
    def why_unattributed(self, obj):
        return obj.first_miss if obj.affiliate_id is None and getattr(obj, "first_miss", None) else "—"

    @display(description="Conflicts", ordering="conflict_count")
    def conflicts(self, obj):
        return obj.conflict_count or "—"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @action(description="Reassign", url_path="reassign", permissions=["change"], icon="swap_horiz")
    def reassign(self, request, object_id):
        customer = get_object_or_404(Customer.objects.select_related("brand", "affiliate"), pk=object_id)
        back = reverse("admin:tracking_customer_change", args=[customer.pk])
        form = ReassignForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.customer_reassign(
                    customer=customer,
                    affiliate=form.cleaned_data["affiliate"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, _service_error(exc))
            else:
                self.message_user(
                    request,
                    f"{customer.external_id} now belongs to {form.cleaned_data['affiliate']}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Reassign customer",
            "customer": customer,
            "form": form,
        }
        return TemplateResponse(request, "admin/tracking/customer/reassign.html", context)


@admin.register(AttributionMiss)
class AttributionMissAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Every hint that did not attribute its customer, across customers: filter by reason, source, partner."""

    list_display = ["created_at", "customer", "hint", "value", "reason", "affiliate", "source", "message"]
    list_filter = [
        ("reason", ChoicesDropdownFilter),
        ("hint", ChoicesDropdownFilter),
        ("affiliate", RelatedDropdownFilter),
        ("source", RelatedDropdownFilter),
        ("created_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["customer", "affiliate", "source"]
    search_fields = ["=value", "=customer__external_id"]
    search_help_text = "Exact hint value or customer id."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ["customer", "click", "affiliate", "source", "inbound"]
    ordering = ["-created_at", "-pk"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AttributionMiss._meta.fields]
