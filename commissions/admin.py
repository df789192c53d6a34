"""The ledger in the admin: read-only rows (entries are never edited), bulk approve/reject with a
reason, and recalculation as a what-if that can then be applied. Actions call commissions.services."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from unfold.admin import ModelAdmin
from unfold.decorators import display

from core.money import quantize
from core.problems import Problem
from tracking.admin import CappedCountPaginator

from . import services
from .choices import EntryStatus
from .models import BrandRevenueRule, CommissionEntry


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ModelAdmin):
    list_display = ["id", "affiliate", "kind", "money", "state", "period", "hold_until", "customer", "created_at"]
    list_filter = ["status", "kind", "currency", "brand"]
    search_fields = ["=id", "=affiliate__id", "affiliate__name", "slot", "=customer__external_id"]
    list_select_related = ["affiliate", "customer", "brand"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    date_hierarchy = "created_at"
    actions = ["approve_selected", "reject_selected", "recalculate_affiliates"]
    readonly_fields = [
        "slot", "seq", "kind", "status", "status_reason", "affiliate", "brand", "customer", "deal", "deal_version",
        "source_affiliate", "amount", "currency", "period", "occurred_at", "hold_until", "events", "explanation",
        "reverses", "batch", "decided_by", "decided_at", "created_at",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description="Amount", ordering="amount")
    def money(self, obj):
        return f"{quantize(obj.amount, obj.currency)} {obj.currency}"

    @display(
        description="Status",
        ordering="status",
        label={
            EntryStatus.PENDING: "info", EntryStatus.ON_HOLD: "warning", EntryStatus.APPROVED: "success",
            EntryStatus.PAID: "success", EntryStatus.REJECTED: "danger", EntryStatus.REVERSED: "danger",
        },
    )  # fmt: skip
    def state(self, obj):
        return obj.status

    @admin.action(description="Approve selected entries early", permissions=["change"])
    def approve_selected(self, request, queryset):
        try:
            done = services.commission_approve(entries=queryset, by=request.user)
        except Problem as problem:
            self.message_user(request, f"{problem.title} {problem.detail}", level=messages.ERROR)
            return None
        self.message_user(request, f"Approved {len(done)} entr{'y' if len(done) == 1 else 'ies'}.", messages.SUCCESS)
        return None

    @admin.action(description="Reject selected entries (with a reason)", permissions=["change"])
    def reject_selected(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                done = services.commission_reject(entries=queryset, reason=form.cleaned_data["reason"], by=request.user)
            except Problem as problem:
                self.message_user(request, f"{problem.title} {problem.detail}", level=messages.ERROR)
                return None
            self.message_user(
                request, f"Rejected {len(done)} entr{'y' if len(done) == 1 else 'ies'}.", messages.SUCCESS
            )
            return None
        return TemplateResponse(
            request,
            "admin/commissions/commissionentry/reject.html",
            {
                **self.admin_site.each_context(request), "opts": self.model._meta, "entries": queryset, "form": form,
                "action": "reject_selected", "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )  # fmt: skip

    @admin.action(description="Recalculate the affiliates of the selected entries", permissions=["change"])
    def recalculate_affiliates(self, request, queryset):
        apply = request.POST.get("apply") == "yes"
        affiliates = sorted({entry.affiliate for entry in queryset.select_related("affiliate")}, key=lambda a: a.pk)
        results = [
            (affiliate, services.commission_recalculate(affiliate=affiliate, apply=apply, by=request.user))
            for affiliate in affiliates
        ]
        if apply:
            booked = sum(len(result.booked) for _, result in results)
            self.message_user(request, f"Booked {booked} adjustment entries.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/commissions/commissionentry/recalculate.html",
            {
                **self.admin_site.each_context(request), "opts": self.model._meta, "results": results,
                "entries": queryset, "action": "recalculate_affiliates",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "has_differences": any(result.diffs for _, result in results),
            },
        )  # fmt: skip


@admin.register(BrandRevenueRule)
class BrandRevenueRuleAdmin(ModelAdmin):
    list_display = ["brand", "tax_factor", "deduct_bonuses", "deduct_payment_fees", "updated_at"]
    autocomplete_fields = []
    raw_id_fields = ["brand"]
