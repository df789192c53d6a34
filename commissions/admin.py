"""The ledger in the admin: read-only rows (entries are never edited); the approval queue (open entries,
filtered by brand, affiliate, kind, age, amount and review flag) where finance approves or rejects in
bulk with a reason, or clears review flags with a note; recalculation as a what-if that can then be
applied; the per-brand review thresholds. Actions call commissions.services.

Deciding (approve, reject, clear a flag) needs the `commissions.decide_commissionentry` permission.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter, ChoicesDropdownFilter, RelatedDropdownFilter
from unfold.decorators import display

from core.audit_admin import history_link
from core.money import quantize
from core.problems import Problem
from tracking.admin import CappedCountPaginator

from . import services
from .choices import OPEN_STATUSES, EntryKind, EntryStatus
from .models import ApprovalQueueEntry, BrandRevenueRule, CommissionEntry, ReviewPolicy

DECIDE_PERMISSION = "commissions.decide_commissionentry"
REFUSALS_SHOWN = 20


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, required: bool = True, label: str = "Reason", help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        self.fields["reason"].label = label
        self.fields["reason"].help_text = help_text

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if self.fields["reason"].required and not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


class Decision:
    """One bulk action of the queue: what it asks and how it reports."""

    def __init__(self, *, action, verb, done_verb, service, required, label, help_text, eligible, why_not):
        self.action, self.verb, self.done_verb, self.service = action, verb, done_verb, service
        self.required, self.label, self.help_text = required, label, help_text
        self.eligible, self.why_not = eligible, why_not


def _open(entry) -> bool:
    return entry.status in OPEN_STATUSES and entry.kind != EntryKind.REVERSAL


def _not_open(entry) -> str:
    if entry.kind == EntryKind.REVERSAL:
        return "a reversal is not decided on"
    return f"it is {entry.get_status_display().split(' (')[0].lower()}; only pending or on-hold entries are decided on"


APPROVE = Decision(
    action="approve_selected", verb="Approve", done_verb="Approved",
    service=lambda entries, reason, by: services.commission_approve(entries=entries, reason=reason, by=by),
    required=False, label="Reason (optional)",
    help_text="Kept on each entry and in the audit log. Empty: “Approved early by a manager.”",
    eligible=_open, why_not=_not_open,
)  # fmt: skip
REJECT = Decision(
    action="reject_selected", verb="Reject", done_verb="Rejected",
    service=lambda entries, reason, by: services.commission_reject(entries=entries, reason=reason, by=by),
    required=True, label="Reason",
    help_text="Kept on each entry and in the audit log. A rejected commission takes the parent's override on it along.",
    eligible=_open, why_not=_not_open,
)  # fmt: skip
CLEAR = Decision(
    action="clear_review_flag", verb="Clear the review flag of", done_verb="Cleared the review flag of",
    service=lambda entries, reason, by: services.commission_review_clear(entries=entries, note=reason, by=by),
    required=True, label="What the review found",
    help_text="The entries go back to the normal workflow: the hold release approves them once their hold is over.",
    eligible=lambda e: e.review_flag, why_not=lambda e: "it is not flagged for review",
)  # fmt: skip


def _plural(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


class DecisionActionsMixin:
    """Approve, reject and clear-flag actions with an intermediate form for the reason, and a message per
    outcome: how many were decided, which were refused and why."""

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm(DECIDE_PERMISSION)

    def _decision(self, request, queryset, decision: Decision):
        form = ReasonForm(
            request.POST if "apply" in request.POST else None,
            required=decision.required, label=decision.label, help_text=decision.help_text,
        )  # fmt: skip
        entries = list(queryset.select_related("affiliate").order_by("pk"))
        if form.is_bound and form.is_valid():
            self._apply(request, entries, decision, form.cleaned_data["reason"])
            return None
        return TemplateResponse(
            request,
            "admin/commissions/commissionentry/decide.html",
            {
                **self.admin_site.each_context(request), "opts": self.model._meta, "entries": entries,
                "form": form, "decision": decision, "action": decision.action,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "title": f"{decision.verb} {_plural(len(entries))}",
            },
        )  # fmt: skip

    def _apply(self, request, entries, decision: Decision, reason: str) -> None:
        refused = [(e, decision.why_not(e)) for e in entries if not decision.eligible(e)]
        eligible = [e for e in entries if decision.eligible(e)]
        done = []
        if eligible:
            try:
                done = decision.service(eligible, reason, request.user)
            except Problem:
                # Something changed meanwhile (another person decided one of them): decide one by one so
                # the others still go through, and say which failed.
                for entry in eligible:
                    try:
                        done += decision.service([entry], reason, request.user)
                    except Problem as problem:
                        refused.append((entry, " ".join(filter(None, [problem.title, problem.detail]))))
        if done:
            self.message_user(request, f"{decision.done_verb} {_plural(len(done))}.", messages.SUCCESS)
        if refused:
            shown = "; ".join(f"#{e.pk}: {why}" for e, why in refused[:REFUSALS_SHOWN])
            more = f"; and {len(refused) - REFUSALS_SHOWN} more" if len(refused) > REFUSALS_SHOWN else ""
            self.message_user(request, f"Refused {_plural(len(refused))}: {shown}{more}.", messages.WARNING)

    @admin.action(description="Approve selected entries (with a reason)", permissions=["decide"])
    def approve_selected(self, request, queryset):
        return self._decision(request, queryset, APPROVE)

    @admin.action(description="Reject selected entries (with a reason)", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self._decision(request, queryset, REJECT)

    @admin.action(description="Clear the review flag of selected entries (with a note)", permissions=["decide"])
    def clear_review_flag(self, request, queryset):
        return self._decision(request, queryset, CLEAR)


class FlaggedFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged for review"), ("no", "Not flagged"), ("cleared", "Flag cleared")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(review_flag=True)
        if self.value() == "no":
            return queryset.filter(review_flag=False)
        if self.value() == "cleared":
            return queryset.filter(review_cleared_at__isnull=False)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """How long ago the entry was booked."""

    title = "age"
    parameter_name = "age"
    BUCKETS = {
        "1d": ("Under a day", 0, 1), "7d": ("1 to 7 days", 1, 7), "30d": ("7 to 30 days", 7, 30),
        "90d": ("30 to 90 days", 30, 90), "old": ("Over 90 days", 90, None),
    }  # fmt: skip

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        _, younger, older = self.BUCKETS[self.value()]
        now = timezone.now()
        queryset = queryset.filter(created_at__lte=now - dt.timedelta(days=younger))
        if older is not None:
            queryset = queryset.filter(created_at__gt=now - dt.timedelta(days=older))
        return queryset


class AmountFilter(admin.SimpleListFilter):
    """The amount, in the entry's own currency."""

    title = "amount"
    parameter_name = "amount"
    RANGES = {
        "neg": ("Negative", None, Decimal("0")), "100": ("0 to 100", Decimal("0"), Decimal("100")),
        "1k": ("100 to 1,000", Decimal("100"), Decimal("1000")),
        "10k": ("1,000 to 10,000", Decimal("1000"), Decimal("10000")),
        "big": ("10,000 and over", Decimal("10000"), None),
    }  # fmt: skip

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.RANGES.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.RANGES:
            return queryset
        _, low, high = self.RANGES[self.value()]
        q = Q()
        if low is not None:
            q &= Q(amount__gte=low)
        if high is not None:
            q &= Q(amount__lt=high)
        return queryset.filter(q)


class QueueStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(EntryStatus.PENDING, "Pending"), (EntryStatus.ON_HOLD, "On hold")]

    def queryset(self, request, queryset):
        if self.value() in OPEN_STATUSES:
            return queryset.filter(status=self.value())
        return queryset


STATUS_LABELS = {
    EntryStatus.PENDING: "info", EntryStatus.ON_HOLD: "warning", EntryStatus.APPROVED: "success",
    EntryStatus.PAID: "success", EntryStatus.REJECTED: "danger", EntryStatus.REVERSED: "danger",
}  # fmt: skip
READONLY = [
    "slot", "seq", "kind", "status", "status_reason", "affiliate", "brand", "customer", "deal", "deal_version",
    "source_affiliate", "amount", "currency", "period", "occurred_at", "hold_until", "events", "explanation",
    "review_flag", "review_reason", "review_note", "review_cleared_by", "review_cleared_at",
    "reverses", "batch", "decided_by", "decided_at", "created_at", "audit_history",
]  # fmt: skip


class EntryDisplayMixin:
    @display(description="Amount", ordering="amount")
    def money(self, obj):
        return f"{quantize(obj.amount, obj.currency)} {obj.currency}"

    @display(description="Status", ordering="status", label=STATUS_LABELS)
    def state(self, obj):
        return obj.status

    @display(description="Review")
    def review(self, obj):
        if obj.review_flag:
            return format_html('<span title="{}">⚑ {}</span>', obj.review_reason, obj.review_reason[:120])
        if obj.review_cleared_at:
            return format_html('<span title="{}">cleared</span>', obj.review_note)
        return ""

    @display(description="Age")
    def age(self, obj):
        days = (timezone.now() - obj.created_at).days
        return f"{days} d" if days else "today"

    @display(description="Audit log")
    def audit_history(self, obj):
        return history_link(obj) if obj.pk else ""


@admin.register(CommissionEntry)
class CommissionEntryAdmin(DecisionActionsMixin, EntryDisplayMixin, ModelAdmin):
    list_display = [
        "id", "affiliate", "kind", "money", "state", "period", "hold_until", "review", "customer", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "kind", "currency", "brand", FlaggedFilter]
    search_fields = ["=id", "=affiliate__id", "affiliate__name", "slot", "=customer__external_id"]
    list_select_related = ["affiliate", "customer", "brand"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    date_hierarchy = "created_at"
    actions = ["approve_selected", "reject_selected", "clear_review_flag", "recalculate_affiliates"]
    readonly_fields = READONLY
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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


@admin.register(ApprovalQueueEntry)
class ApprovalQueueAdmin(DecisionActionsMixin, EntryDisplayMixin, ModelAdmin):
    """Pending and on-hold entries, newest first, never counted in full."""

    list_display = ["id", "affiliate", "brand", "kind", "money", "state", "age", "hold_until", "review"]
    list_filter = [
        QueueStatusFilter,
        ("brand", RelatedDropdownFilter),
        ("affiliate", AutocompleteSelectFilter),
        ("kind", ChoicesDropdownFilter),
        AgeFilter,
        AmountFilter,
        FlaggedFilter,
    ]
    list_filter_submit = True
    search_fields = ["=id", "=affiliate__id", "=customer__external_id"]
    search_help_text = "Exact entry id, affiliate id or customer external id."
    list_select_related = ["affiliate", "brand"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ["-pk"]
    list_per_page = 100
    actions = ["approve_selected", "reject_selected", "clear_review_flag"]
    readonly_fields = READONLY
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=OPEN_STATUSES)

    # The queue is a view of the ledger: the ledger's own view permission opens it, deciding needs
    # decide_commissionentry; nothing is added, edited or deleted here.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("commissions.view_commissionentry") or request.user.has_perm(
            "commissions.change_commissionentry"
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(ModelAdmin):
    list_display = [
        "brand", "enabled", "amount_over", "entry_rise_factor", "day_rise_factor", "history_days", "updated_at",
    ]  # fmt: skip
    list_filter = ["enabled"]
    raw_id_fields = ["brand"]


@admin.register(BrandRevenueRule)
class BrandRevenueRuleAdmin(ModelAdmin):
    list_display = ["brand", "tax_factor", "deduct_bonuses", "deduct_payment_fees", "updated_at"]
    autocomplete_fields = []
    raw_id_fields = ["brand"]
