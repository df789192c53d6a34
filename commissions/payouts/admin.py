"""Payout statements in the admin: generate a period's, review, adjust, approve, mark paid, cancel, download the
PDF, the invoice and the CSVs. Statements are never edited by hand: every button calls commissions.payouts.services,
and what it refuses comes back as a message saying why."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from core.money import quantize
from core.problems import Problem

from . import selectors, services
from .api import files
from .choices import StatementStatus
from .forms import AdjustmentForm, GenerateForm, MarkPaidForm, ReasonForm
from .models import Invoice, PayoutAdjustment, PayoutStatement

SHOWN_LINES = 200
COLOURS = {
    StatementStatus.DRAFT: "info", StatementStatus.APPROVED: "warning", StatementStatus.PAID: "success",
    StatementStatus.CANCELLED: "danger",
}  # fmt: skip


class AdjustmentInline(TabularInline):
    model = PayoutAdjustment
    extra = 0
    fields = ["amount", "reason", "created_by", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PayoutStatement)
class PayoutStatementAdmin(ModelAdmin):
    list_display = ["id", "affiliate", "brand", "period", "state", "total_money", "amount_money", "carry_money",
                    "paid_on"]  # fmt: skip
    list_filter = ["status", "frequency", "brand", "currency"]
    search_fields = ["=id", "=affiliate__id", "affiliate__name", "period", "payment_reference"]
    list_select_related = ["affiliate", "brand"]
    show_full_result_count = False
    actions = ["approve_selected", "mark_paid_selected", "cancel_selected", "export_selected"]
    actions_list = ["generate"]
    actions_detail = ["approve_detail", "mark_paid_detail", "adjust_detail", "cancel_detail", "pdf_detail",
                      "entries_csv_detail", "invoice_detail"]  # fmt: skip
    inlines = [AdjustmentInline]
    fieldsets = [
        (None, {"fields": ["affiliate", "brand", "period", "frequency", "period_start", "period_end", "status"]}),
        ("Money", {"fields": ["currency", "entries_total", "carried_in", "carried_from", "adjustments_total", "total",
                              "threshold", "negative_carryover", "amount", "carry_out", "written_off", "fx_date",
                              "fx_table", "explanation"]}),
        ("Entries", {"fields": ["entries_table"]}),
        ("Workflow", {"fields": ["invoice_text", "created_by", "created_at", "approved_by", "approved_at", "paid_by",
                                 "paid_at", "paid_on", "payment_method", "payment_reference", "cancelled_by",
                                 "cancelled_at", "cancel_reason"]}),
    ]  # fmt: skip
    readonly_fields = [name for _, opts in fieldsets for name in opts["fields"]]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Shown read-only; changes are the workflow buttons below, each checked on its own permission.
        return False

    def has_approve_payout_permission(self, request, object_id=None):
        return request.user.has_perm("payouts.approve_payout")

    def has_mark_paid_payout_permission(self, request, object_id=None):
        return request.user.has_perm("payouts.mark_paid_payout")

    def has_cancel_payout_permission(self, request, object_id=None):
        return request.user.has_perm("payouts.change_payoutstatement")

    has_generate_payout_permission = has_cancel_payout_permission

    @display(description="Status", ordering="status", label=COLOURS)
    def state(self, obj):
        return obj.status

    @display(description="Total", ordering="total")
    def total_money(self, obj):
        return f"{quantize(obj.total, obj.currency)} {obj.currency}"

    @display(description="To pay", ordering="amount")
    def amount_money(self, obj):
        return f"{quantize(obj.amount, obj.currency)} {obj.currency}"

    @display(description="Carried out", ordering="carry_out")
    def carry_money(self, obj):
        return f"{quantize(obj.carry_out, obj.currency)} {obj.currency}" if obj.carry_out else "—"

    @display(description="FX rates used")
    def fx_table(self, obj):
        rows = obj.fx_rates or []
        if not rows:
            return "—"
        return format_html_join(
            "", "<div>{} {} × {} (rate of {}) = {} {}</div>",
            ((r["amount"], r["currency"], r["rate"], r["rate_date"], r["converted"], obj.currency) for r in rows),
        )  # fmt: skip

    @display(description="Entries")
    def entries_table(self, obj):
        lines = list(selectors.statement_lines(obj)[:SHOWN_LINES])
        total = obj.lines.filter(live=True).count()
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td class="text-right">{} {}</td>'
            "<td>{}</td></tr>",
            (
                (reverse("admin:commissions_commissionentry_change", args=[ln.entry_id]), ln.entry_id, ln.kind,
                 ln.entry.period, quantize(ln.amount, ln.currency), ln.currency, ln.entry.explanation[:160])
                for ln in lines
            ),
        )  # fmt: skip
        more = f"The first {SHOWN_LINES} of {total}; the entries CSV has all." if total > SHOWN_LINES else ""
        return format_html("<table>{}</table><p>{}</p>", rows, more) if lines else "—"

    @display(description="Invoice")
    def invoice_text(self, obj):
        invoice = getattr(obj, "invoice", None)
        if invoice is None:
            return "—"
        state = f" (void: {invoice.void_reason})" if invoice.voided_at else ""
        return (
            f"{invoice.number} of {invoice.issued_on}: net {invoice.net} + VAT {invoice.vat_rate}% "
            f"{invoice.vat_amount} = {invoice.gross} {invoice.currency}{state}"
        )

    # --- the workflow, through the services ---

    def _each(self, request, statements, run, done_text: str) -> int:
        done = 0
        for statement in statements:
            try:
                run(statement)
            except Problem as problem:
                self.message_user(request, f"#{statement.pk} {statement.affiliate}: {problem.title} {problem.detail}",
                                  level=messages.ERROR)  # fmt: skip
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} statement(s) {done_text}.", level=messages.SUCCESS)
        return done

    def _form_page(self, request, *, title, form, statements, submit, help="", action_name=""):
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": title, "form": form,
            "statements": statements, "submit": submit, "help": help, "action": action_name,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }  # fmt: skip
        return TemplateResponse(request, "admin/payouts/form.html", context)

    def _back(self, statement_id):
        return HttpResponseRedirect(reverse("admin:payouts_payoutstatement_change", args=[statement_id]))

    @admin.action(description="Approve selected statements", permissions=["approve_payout"])
    def approve_selected(self, request, queryset):
        self._each(request, queryset.order_by("pk"), lambda s: services.statement_approve(statement=s, by=request.user),
                   "approved")  # fmt: skip

    @admin.action(description="Mark selected statements paid (with the reference)", permissions=["mark_paid_payout"])
    def mark_paid_selected(self, request, queryset):
        form = MarkPaidForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            v = form.cleaned_data
            self._each(request, queryset.order_by("pk"), lambda s: services.statement_mark_paid(
                statement=s, reference=v["reference"], method=v["method"], paid_on=v["paid_on"], by=request.user,
            ), "marked paid")  # fmt: skip
            return None
        return self._form_page(request, title="Mark statements paid", form=form, statements=list(queryset),
                               submit="Mark paid", action_name="mark_paid_selected",
                               help="One payment reference for the selected statements (e.g. the batch).")  # fmt: skip

    @admin.action(description="Cancel selected statements (with a reason)", permissions=["cancel_payout"])
    def cancel_selected(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._each(request, queryset.order_by("-period_start", "-pk"), lambda s: services.statement_cancel(
                statement=s, reason=form.cleaned_data["reason"], by=request.user), "cancelled")  # fmt: skip
            return None
        return self._form_page(request, title="Cancel statements", form=form, statements=list(queryset),
                               submit="Cancel statements", action_name="cancel_selected",
                               help="Their entries are stated again; paid statements cannot be cancelled.")  # fmt: skip

    @admin.action(description="Export selected statements (CSV)", permissions=["view"])
    def export_selected(self, request, queryset):
        return files.statements_csv_response(selectors.payout_statements().filter(pk__in=queryset.values("pk"))
                                             .order_by("affiliate_id", "pk"), "selected")  # fmt: skip

    @action(description="Generate statements", url_path="generate", permissions=["generate_payout"], icon="add")
    def generate(self, request):
        form = GenerateForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                result = services.statements_generate(
                    period=form.cleaned_data["period"], brand=form.cleaned_data["brand"], by=request.user
                )
            except Problem as problem:
                self.message_user(request, f"{problem.title} {problem.detail}", level=messages.ERROR)
            else:
                self.message_user(
                    request, f"{result.created} statement(s) drawn up, {result.refreshed} draft(s) refreshed.",
                    level=messages.SUCCESS,
                )  # fmt: skip
                for skipped in result.skipped[:20]:
                    self.message_user(request, f"Affiliate #{skipped['affiliate']}: {skipped['message']}",
                                      level=messages.WARNING)  # fmt: skip
                if len(result.skipped) > 20:
                    self.message_user(request, f"… and {len(result.skipped) - 20} more skipped.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:payouts_payoutstatement_changelist"))
        return self._form_page(request, title="Generate payout statements", form=form, statements=[],
                               submit="Generate", help="For every active affiliate paid at the period's frequency. "
                               "Drafts are refreshed; approved and paid statements are left alone.")  # fmt: skip

    @action(description="Approve", url_path="approve", permissions=["approve_payout"], icon="check_circle")
    def approve_detail(self, request, object_id):
        statement = get_object_or_404(PayoutStatement, pk=object_id)
        if request.method != "POST":
            return self._form_page(request, title="Approve statement", form=[], statements=[statement],
                                   submit="Approve")  # fmt: skip
        self._each(request, [statement], lambda s: services.statement_approve(statement=s, by=request.user), "approved")
        return self._back(statement.pk)

    @action(description="Mark paid", url_path="mark-paid", permissions=["mark_paid_payout"], icon="payments")
    def mark_paid_detail(self, request, object_id):
        statement = get_object_or_404(PayoutStatement, pk=object_id)
        form = MarkPaidForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            v = form.cleaned_data
            self._each(request, [statement], lambda s: services.statement_mark_paid(
                statement=s, reference=v["reference"], method=v["method"], paid_on=v["paid_on"], by=request.user,
            ), "marked paid")  # fmt: skip
            return self._back(statement.pk)
        return self._form_page(request, title="Mark statement paid", form=form, statements=[statement],
                               submit="Mark paid")  # fmt: skip

    @action(description="Add adjustment", url_path="adjust", permissions=["cancel_payout"],
            icon="edit")  # fmt: skip
    def adjust_detail(self, request, object_id):
        statement = get_object_or_404(PayoutStatement, pk=object_id)
        form = AdjustmentForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            v = form.cleaned_data
            self._each(request, [statement], lambda s: services.statement_adjust(
                statement=s, amount=v["amount"], reason=v["reason"], by=request.user), "adjusted")  # fmt: skip
            return self._back(statement.pk)
        return self._form_page(request, title="Add an adjustment", form=form, statements=[statement], submit="Add",
                               help=f"In {statement.currency}; only a draft can be adjusted.")  # fmt: skip

    @action(description="Cancel", url_path="cancel", permissions=["cancel_payout"], icon="cancel")
    def cancel_detail(self, request, object_id):
        statement = get_object_or_404(PayoutStatement, pk=object_id)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._each(request, [statement], lambda s: services.statement_cancel(
                statement=s, reason=form.cleaned_data["reason"], by=request.user), "cancelled")  # fmt: skip
            return self._back(statement.pk)
        return self._form_page(request, title="Cancel statement", form=form, statements=[statement],
                               submit="Cancel statement")  # fmt: skip

    @action(description="PDF", url_path="pdf", permissions=["view"], icon="picture_as_pdf")
    def pdf_detail(self, request, object_id):
        return files.statement_pdf_response(get_object_or_404(selectors.payout_statements(), pk=object_id))

    @action(description="Entries CSV", url_path="entries-csv", permissions=["view"],
            icon="download")  # fmt: skip
    def entries_csv_detail(self, request, object_id):
        return files.entries_csv_response(get_object_or_404(selectors.payout_statements(), pk=object_id))

    @action(description="Invoice PDF", url_path="invoice", permissions=["view"],
            icon="receipt")  # fmt: skip
    def invoice_detail(self, request, object_id):
        statement = get_object_or_404(selectors.payout_statements(), pk=object_id)
        if not hasattr(statement, "invoice"):
            self.message_user(request, "This statement has no invoice: it is issued on approval for affiliates who "
                              "must send one.", level=messages.WARNING)  # fmt: skip
            return self._back(statement.pk)
        return files.invoice_pdf_response(statement)


@admin.register(Invoice)
class InvoiceAdmin(ModelAdmin):
    list_display = ["number", "statement", "issued_on", "net", "vat_amount", "gross", "currency", "voided_at"]
    search_fields = ["number", "=statement__id", "billed_by"]
    list_select_related = ["statement"]
    readonly_fields = [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
