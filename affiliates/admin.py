"""The affiliate manager's admin: brands, affiliates and their workflow, deals and their versions, assignments.

Every write goes through `affiliates.services`; the forms in `affiliates.forms` turn service errors into form
errors, and the status actions turn them into admin messages.
"""

import json
from decimal import Decimal, InvalidOperation

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, URLField
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from rest_framework.exceptions import ValidationError as ApiValidationError
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter, RelatedDropdownFilter
from unfold.decorators import action, display

from core.readonly_admin import ReadOnlyAdminMixin

from . import services
from .choices import ALLOWED_TRANSITIONS, AffiliateStatus, DealKind
from .forms import DealAssignmentForm, DealForm, StatusReasonForm, _flatten
from .models import Affiliate, AffiliateStatusChange, Brand, Deal, DealAssignment, DealVersion
from .terms import terms_to_json, validate_terms

STATUS_COLOURS = {
    AffiliateStatus.PENDING: "warning",
    AffiliateStatus.ACTIVE: "success",
    AffiliateStatus.SUSPENDED: "danger",
    AffiliateStatus.REJECTED: "danger",
}
REVSHARE_KINDS = (DealKind.REVSHARE, DealKind.HYBRID)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ApiValidationError):
        return "; ".join(_flatten(exc.detail))
    if isinstance(exc, DjangoValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def _value_text(value) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _is_blank(value) -> bool:
    if value in (None, "", [], {}, False):
        return True
    if isinstance(value, str):
        try:
            return Decimal(value) == 0
        except (InvalidOperation, ValueError):
            return False
    return False


def terms_summary(terms: dict) -> list[str]:
    """The terms that say something (non-zero, non-empty), as 'name: value' lines."""
    lines = []
    for name in services.TERM_FIELDS:
        if name in ("name", "kind"):
            continue
        value = terms.get(name)
        if name == "qualification":
            value = {k: v for k, v in (value or {}).items() if not _is_blank(v) and k != "window_days"}
            if value:
                value["window_days"] = terms["qualification"].get("window_days")
        if name == "negative_carryover" and terms.get("kind") in REVSHARE_KINDS:
            lines.append(f"{name}: {_value_text(value)}")
            continue
        if name in ("revenue_basis", "tier_application") and terms.get("kind") not in REVSHARE_KINDS:
            continue
        if name in ("lot_step", "lot_rounding") and terms.get("kind") != DealKind.REBATE:
            continue
        if name == "prop_include_resets" and terms.get("kind") != DealKind.PROP:
            continue
        if not _is_blank(value):
            lines.append(f"{name}: {_value_text(value)}")
    return lines


def comparable_terms(version: DealVersion) -> dict:
    """A version's terms in one canonical spelling ("0" and "0.00" alike), so a diff shows real changes only."""
    terms = services.deal_version_terms(version)
    try:
        return terms_to_json(validate_terms(terms))
    except ApiValidationError:  # terms stored under older rules: compare them as stored
        return terms


def terms_changes(before: dict, after: dict) -> list[str]:
    """What changed between two versions' terms, as 'name: old → new' lines (objects key by key)."""
    lines = []
    for name in services.TERM_FIELDS:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    lines.append(f"{name}.{key}: {_value_text(old.get(key))} → {_value_text(new.get(key))}")
        else:
            lines.append(f"{name}: {_value_text(old)} → {_value_text(new)}")
    return lines


def _lines_html(lines: list[str]):
    if not lines:
        return "—"
    return format_html_join("", '<div class="whitespace-normal">{}</div>', ((line,) for line in lines))


class HttpsUrlMixin:
    """URL fields typed without a scheme mean https (the Django 6 default, chosen now)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, URLField):
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)


# --- Brands -------------------------------------------------------------------------------------


@admin.register(Brand)
class BrandAdmin(HttpsUrlMixin, ModelAdmin):
    list_display = ["name", "slug", "vertical", "currency", "timezone", "click_param", "is_active"]
    list_filter = ["vertical", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "vertical", "website", "is_active"]}),
        ("Money and time", {"fields": ["currency", "timezone"]}),
        ("Tracking", {"fields": ["click_param", "attribution_window_days"]}),
    ]


# --- Affiliates ---------------------------------------------------------------------------------


class StatusChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = AffiliateStatusChange
    verbose_name = "status change"
    verbose_name_plural = "Status history"
    fields = ["changed_at", "from_status", "to_status", "reason", "changed_by"]
    readonly_fields = fields
    tab = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class SubAffiliateInline(ReadOnlyAdminMixin, TabularInline):
    model = Affiliate
    fk_name = "parent"
    verbose_name = "sub-affiliate"
    verbose_name_plural = "Sub-affiliates"
    fields = ["name", "email", "status", "country", "created_at"]
    readonly_fields = fields
    show_change_link = True
    tab = True


class AssignmentInline(ReadOnlyAdminMixin, TabularInline):
    model = DealAssignment
    fk_name = "affiliate"
    verbose_name = "deal assignment"
    verbose_name_plural = "Deals"
    fields = ["deal", "brand", "valid_from", "valid_to", "overrides"]
    readonly_fields = fields
    show_change_link = True
    tab = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("deal", "brand")


@admin.register(Affiliate)
class AffiliateAdmin(HttpsUrlMixin, ModelAdmin):
    list_display = ["name", "email", "status_label", "manager_name", "parent", "country", "sub_count", "created_at"]
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("manager", RelatedDropdownFilter),
        ("country", ChoicesDropdownFilter),
    ]
    list_filter_submit = True
    search_fields = ["name", "email", "company"]
    list_select_related = ["manager", "parent"]
    autocomplete_fields = ["parent", "manager", "user"]
    readonly_fields = ["status_text", "status_reason", "approved_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "email", "company", "website", "country"]}),
        ("Programme", {"fields": ["status_text", "status_reason", "approved_at", "manager", "parent", "user"]}),
        ("Payment", {"fields": ["payment_method", "payment_details", "payout_currency", "payout_threshold"]}),
        ("Payouts", {"fields": ["payout_frequency", "payout_scope", "invoice_required", "vat_number", "vat_rate"]}),
        ("Notes", {"fields": ["notes", "created_at", "updated_at"]}),
    ]
    inlines = [StatusChangeInline, SubAffiliateInline, AssignmentInline]
    actions = ["approve_selected", "suspend_selected", "reject_selected"]
    actions_detail = ["approve_detail", "suspend_detail", "reject_detail"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_sub_count=Count("sub_affiliates"))

    @display(description="Status", ordering="status", label=STATUS_COLOURS)
    def status_label(self, obj):
        return obj.status

    @display(description="Manager", ordering="manager__username")
    def manager_name(self, obj):
        if obj.manager is None:
            return "—"
        return obj.manager.get_full_name() or obj.manager.get_username()

    @display(description="Status")
    def status_text(self, obj):
        return obj.get_status_display() if obj.pk else "Pending (approve it after saving)"

    @display(description="Subs", ordering="_sub_count")
    def sub_count(self, obj):
        return obj._sub_count or "—"

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.cleaned_data if name != "status"}
        if change:
            # The service compares against what is stored (the form has already changed `obj` in memory).
            stored = Affiliate.objects.get(pk=obj.pk)
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            updated = services.affiliate_update(affiliate=stored, by=request.user, **changed)
            obj.__dict__.update(updated.__dict__)
        else:
            created = services.affiliate_create(by=request.user, **fields)
            obj.__dict__.update(created.__dict__)

    # Status workflow: every change goes through the service, which checks the transition and records it.

    def _set_status(self, request, affiliates, status: str, reason: str = "") -> int:
        done = 0
        for affiliate in affiliates:
            try:
                services.affiliate_set_status(affiliate=affiliate, status=status, reason=reason, by=request.user)
            except (ApiValidationError, DjangoValidationError) as exc:
                self.message_user(request, f"{affiliate}: {_error_text(exc)}", level=messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} affiliate(s) now {status}.", level=messages.SUCCESS)
        return done

    def _reason_page(self, request, *, status: str, affiliates, form, bulk: bool):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{'Suspend' if status == AffiliateStatus.SUSPENDED else 'Reject'} affiliates",
            "status": status,
            "affiliates": affiliates,
            "form": form,
            "bulk": bulk,
            "action": f"{'suspend' if status == AffiliateStatus.SUSPENDED else 'reject'}_selected",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/affiliates/affiliate/status_reason.html", context)

    def _bulk_with_reason(self, request, queryset, status: str):
        form = StatusReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._set_status(request, queryset, status, form.cleaned_data["reason"])
            return None
        return self._reason_page(request, status=status, affiliates=list(queryset), form=form, bulk=True)

    @admin.action(description="Approve selected affiliates")
    def approve_selected(self, request, queryset):
        self._set_status(request, queryset, AffiliateStatus.ACTIVE)

    @admin.action(description="Suspend selected affiliates (with a reason)")
    def suspend_selected(self, request, queryset):
        return self._bulk_with_reason(request, queryset, AffiliateStatus.SUSPENDED)

    @admin.action(description="Reject selected affiliates (with a reason)")
    def reject_selected(self, request, queryset):
        return self._bulk_with_reason(request, queryset, AffiliateStatus.REJECTED)

    def _detail_with_reason(self, request, object_id, status: str):
        affiliate = get_object_or_404(Affiliate, pk=object_id)
        back = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
        form = StatusReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._set_status(request, [affiliate], status, form.cleaned_data["reason"])
            return HttpResponseRedirect(back)
        return self._reason_page(request, status=status, affiliates=[affiliate], form=form, bulk=False)

    def _may_become(self, request, object_id, status: str) -> bool:
        if not self.has_change_permission(request):
            return False
        current = Affiliate.objects.filter(pk=object_id).values_list("status", flat=True).first()
        return current is not None and status in ALLOWED_TRANSITIONS[current]

    def has_approve_permission(self, request, object_id=None):
        return self._may_become(request, object_id, AffiliateStatus.ACTIVE)

    def has_suspend_permission(self, request, object_id=None):
        return self._may_become(request, object_id, AffiliateStatus.SUSPENDED)

    def has_reject_permission(self, request, object_id=None):
        return self._may_become(request, object_id, AffiliateStatus.REJECTED)

    @action(description="Approve", url_path="approve", permissions=["approve"], icon="check_circle")
    def approve_detail(self, request, object_id):
        affiliate = get_object_or_404(Affiliate, pk=object_id)
        if request.method == "POST":
            self._set_status(request, [affiliate], AffiliateStatus.ACTIVE)
        else:
            # A link is followed with GET: make the change only on POST, so a prefetch never approves anyone.
            return self._confirm_approve(request, affiliate)
        return HttpResponseRedirect(reverse("admin:affiliates_affiliate_change", args=[affiliate.pk]))

    def _confirm_approve(self, request, affiliate):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Approve affiliate",
            "status": AffiliateStatus.ACTIVE,
            "affiliates": [affiliate],
            "form": None,
            "bulk": False,
        }
        return TemplateResponse(request, "admin/affiliates/affiliate/status_reason.html", context)

    @action(description="Suspend", url_path="suspend", permissions=["suspend"], icon="pause_circle")
    def suspend_detail(self, request, object_id):
        return self._detail_with_reason(request, object_id, AffiliateStatus.SUSPENDED)

    @action(description="Reject", url_path="reject", permissions=["reject"], icon="cancel")
    def reject_detail(self, request, object_id):
        return self._detail_with_reason(request, object_id, AffiliateStatus.REJECTED)


# --- Deals --------------------------------------------------------------------------------------


class DealVersionInline(ReadOnlyAdminMixin, TabularInline):
    model = DealVersion
    verbose_name = "version"
    verbose_name_plural = "Versions (newest first; earlier versions never change)"
    fields = ["version_link", "effective_from", "change_note", "created_by", "created_at", "changes"]
    readonly_fields = fields
    ordering = ["-version"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").order_by("-version")

    @display(description="Version")
    def version_link(self, obj):
        url = reverse("admin:affiliates_dealversion_change", args=[obj.pk])
        return format_html('<a href="{}" class="text-primary-600 font-semibold">v{}</a>', url, obj.version)

    @display(description="Terms (v1) / what changed from the previous version")
    def changes(self, obj):
        after = comparable_terms(obj)
        previous = DealVersion.objects.filter(deal_id=obj.deal_id, version__lt=obj.version).order_by("-version")
        previous = previous.first()
        if previous is None:
            return _lines_html(terms_summary(after))
        return _lines_html(terms_changes(comparable_terms(previous), after))


@admin.register(Deal)
class DealAdmin(ModelAdmin):
    form = DealForm
    list_display = ["name", "brand", "kind_label", "current_version", "is_active", "created_at"]
    list_filter = [("brand", RelatedDropdownFilter), "kind", "is_active"]
    search_fields = ["name", "brand__name", "brand__slug"]
    list_select_related = ["brand"]
    inlines = [DealVersionInline]
    actions = ["open_selected", "close_selected"]

    @admin.action(description="Open selected deals for new assignments")
    def open_selected(self, request, queryset):
        for deal in queryset:
            services.deal_set_active(deal=deal, active=True, by=request.user)
        self.message_user(request, f"{queryset.count()} deal(s) open for new assignments.", level=messages.SUCCESS)

    @admin.action(description="Close selected deals to new assignments (existing ones stay in force)")
    def close_selected(self, request, queryset):
        for deal in queryset:
            services.deal_set_active(deal=deal, active=False, by=request.user)
        self.message_user(
            request,
            f"{queryset.count()} deal(s) closed to new assignments; existing ones stay in force.",
            level=messages.SUCCESS,
        )

    def get_inlines(self, request, obj=None):
        return self.inlines if obj else []

    fieldsets = [
        (None, {"fields": ["brand", "name", "kind", "currency", "hold_days", "countries", "valid_from", "valid_to"]}),
        (
            "CPA",
            {
                "fields": ["cpa_amount", "country_amounts", "cpa_daily_cap", "cpa_monthly_cap"],
                "description": "CPA and hybrid deals: paid once per customer who meets the baseline below.",
            },
        ),
        (
            "CPA qualification baseline",
            {
                "fields": [
                    "qual_min_ftd",
                    "qual_min_deposits",
                    "qual_min_wagering",
                    "qual_min_lots",
                    "qual_min_bets",
                    "qual_window_days",
                ],
                "description": "Every minimum must be met within the window from registration.",
            },
        ),
        (
            "RevShare",
            {
                "fields": [
                    "revshare_percent",
                    "revenue_basis",
                    "negative_carryover",
                    "tiers",
                    "tier_application",
                ],
                "description": "RevShare and hybrid deals. Tiers also raise CPA amounts and rebates.",
            },
        ),
        ("CPL", {"fields": ["cpl_amount"]}),
        ("Forex rebate", {"fields": ["rebate_per_lot", "rebate_groups", "lot_step", "lot_rounding"]}),
        ("Prop trading", {"fields": ["prop_percent", "prop_pass_amount", "prop_funded_amount", "prop_include_resets"]}),
        ("Sub-affiliates", {"fields": ["subaffiliate_percent"]}),
        (
            "This change",
            {
                "fields": ["effective_from", "change_note"],
                "description": "Saving makes a new version of the terms; earlier versions stay as they were.",
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["brand", "current_version", "is_active"] if obj else []

    def get_fieldsets(self, request, obj=None):
        fieldsets = [list(fs) for fs in super().get_fieldsets(request, obj)]
        if obj:
            head = dict(fieldsets[0][1])
            head["fields"] = [*head["fields"], "current_version", "is_active"]
            fieldsets[0] = [None, head]
        return [tuple(fs) for fs in fieldsets]

    @display(description="Kind", ordering="kind", label=True)
    def kind_label(self, obj):
        return obj.get_kind_display()

    def save_model(self, request, obj, form, change):
        deal = form.save_with_service(by=request.user)
        obj.__dict__.update(deal.__dict__)
        if change and form.new_version is None:
            self.message_user(request, "No term changed: no new version was made.", level=messages.INFO)
        elif change:
            self.message_user(
                request,
                f"Version {form.new_version.version} is in force from {form.new_version.effective_from}; "
                f"version {form.new_version.version - 1} stays as it was.",
                level=messages.SUCCESS,
            )


@admin.register(DealVersion)
class DealVersionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """One version's full terms, read-only: what was agreed, and when."""

    list_display = ["deal", "version", "kind", "currency", "effective_from", "change_note", "created_at"]
    list_filter = [("deal__brand", RelatedDropdownFilter), "kind"]
    search_fields = ["deal__name", "name", "change_note"]
    list_select_related = ["deal", "deal__brand"]
    readonly_fields = ["deal", "version", "effective_from", "change_note", "created_by", "created_at", "terms"]
    fields = readonly_fields

    @display(description="Terms")
    def terms(self, obj):
        lines = [f"{name}: {_value_text(value)}" for name, value in services.deal_version_terms(obj).items()]
        return _lines_html(lines)


# --- Assignments --------------------------------------------------------------------------------


@admin.register(DealAssignment)
class DealAssignmentAdmin(ModelAdmin):
    """Assignments are made and deleted, never edited: a change is a new assignment from a later date."""

    form = DealAssignmentForm
    list_display = ["deal", "brand", "affiliate_or_default", "valid_from", "valid_to", "overrides_text"]
    list_filter = [("brand", RelatedDropdownFilter), ("affiliate", admin.EmptyFieldListFilter)]
    search_fields = ["deal__name", "affiliate__name", "affiliate__email"]
    list_select_related = ["deal", "brand", "affiliate"]
    autocomplete_fields = ["deal", "affiliate"]
    fields = ["deal", "affiliate", "valid_from", "valid_to", "overrides", "note"]
    readonly_fields = ["brand", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        return [*self.fields, "brand", "created_by", "created_at"] if obj else self.fields

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @display(description="Affiliate")
    def affiliate_or_default(self, obj):
        return obj.affiliate or "brand default"

    @display(description="Overrides")
    def overrides_text(self, obj):
        return _value_text(obj.overrides) if obj.overrides else "—"

    def save_model(self, request, obj, form, change):
        assignment = form.save_with_service(by=request.user)
        obj.__dict__.update(assignment.__dict__)

    def delete_model(self, request, obj):
        services.deal_assignment_delete(assignment=obj)

    def delete_queryset(self, request, queryset):
        for assignment in queryset:
            services.deal_assignment_delete(assignment=assignment)
