"""Admin for sources (mapping editor with dry run and versions), the inbound log (raw and canonical side by
side, rejected ones by reason, replay), and FX rates (with ECB CSV import). Every write goes through a
service; the inbound log is tuned for a huge table (no full counts, indexed filters only)."""

import json
from functools import cached_property
from urllib.parse import parse_qsl

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action

from core.readonly_admin import ReadOnlyAdminMixin
from tracking.models import ConversionEvent

from . import services
from .ingestion import inbound_replay, replay_summary
from .mapping import MappingError, compile_mapping
from .models import FxRate, InboundEvent, InboundStatus, MappingVersion, Source
from .presets import preset_choices

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows, never the whole inbound log."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_CAP].count()


def _pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) if value is not None else ""


def _errors_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


class SourceForm(forms.ModelForm):
    preset = forms.ChoiceField(choices=[("", "— none —"), *preset_choices()], required=False)
    mapping = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "style": "font-family: monospace; width: 100%"}),
        help_text="CONTRACT.md 'Mapping'. Empty on a new source: the preset's mapping. Each save is a new version.",
    )
    change_note = forms.CharField(required=False, max_length=500, help_text="Why the mapping changed.")

    class Meta:
        model = Source
        fields = [
            "slug", "name", "brand", "kind", "preset", "mapping", "change_note", "test_mode", "derive_ftd",
            "is_active", "rate_limit_per_minute",
        ]  # fmt: skip

    def clean_mapping(self):
        mapping = self.cleaned_data.get("mapping") or {}
        if mapping:
            try:
                compile_mapping(mapping)
            except MappingError as exc:
                raise ValidationError(exc.errors) from None
        return mapping


class MappingVersionInline(TabularInline):
    model = MappingVersion
    extra = 0
    can_delete = False
    fields = ["version", "created_by", "created_at", "note"]
    readonly_fields = fields
    ordering = ["-version"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Source)
class SourceAdmin(ModelAdmin):
    form = SourceForm
    list_display = ["name", "slug", "brand", "kind", "preset", "test_mode", "derive_ftd", "is_active", "postback"]
    list_filter = ["brand", "kind", "test_mode", "is_active"]
    search_fields = ["name", "slug"]
    inlines = [MappingVersionInline]
    readonly_fields = ["created_at", "postback_template", "dry_run_link"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = list(self.form.Meta.fields)
        if obj is not None:
            fields.remove("slug")
            fields.remove("brand")
            fields += ["postback_template", "dry_run_link", "created_at"]
        return fields

    @admin.display(description="postback")
    def postback(self, obj):
        return f"/postback/{obj.slug}/"

    @admin.display(description="Postback URL template")
    def postback_template(self, obj):
        from django.conf import settings

        return f"{settings.PUBLIC_BASE_URL}/postback/{obj.slug}/?key=<source key>&<the source's parameters>"

    @admin.display(description="Dry run")
    def dry_run_link(self, obj):
        url = reverse("admin:integrations_source_mapping_test", args=[obj.pk])
        return format_html('<a href="{}">Test the mapping on a sample payload</a>', url)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            source, raw = services.source_create(
                slug=data["slug"], name=data["name"], brand=data["brand"], kind=data["kind"], preset=data["preset"],
                mapping=data["mapping"] or None, test_mode=data["test_mode"], derive_ftd=data["derive_ftd"],
                is_active=data["is_active"], rate_limit_per_minute=data["rate_limit_per_minute"],
                created_by=request.user,
            )  # fmt: skip
            obj.pk = source.pk
            self.message_user(
                request, f"Source key (copy it now; it is not shown again): {raw}", level=messages.WARNING
            )
            return
        changes = {name: data[name] for name in services.SOURCE_FIELDS if name in form.changed_data}
        mapping = data["mapping"] if "mapping" in form.changed_data else None
        services.source_update(
            source=Source.objects.get(pk=obj.pk), by=request.user, note=data.get("change_note", ""),
            mapping=mapping, **changes,
        )  # fmt: skip

    def save_related(self, request, form, formsets, change):
        return None

    def get_urls(self):
        urls = [
            path(
                "<int:source_id>/mapping-test/",
                self.admin_site.admin_view(self.mapping_test_view),
                name="integrations_source_mapping_test",
            )
        ]
        return urls + super().get_urls()

    def mapping_test_view(self, request, source_id: int):
        """Dry run: map a pasted payload or query string with the mapping being edited; save it only on
        request (a new version)."""
        source = get_object_or_404(Source, pk=source_id)
        mapping_text = _pretty(source.mapping)
        sample = ""
        result = None
        if request.method == "POST":
            mapping_text = request.POST.get("mapping", "")
            sample = request.POST.get("sample", "").strip()
            try:
                mapping = json.loads(mapping_text or "{}")
                mapper = compile_mapping(mapping)
            except (ValueError, MappingError) as exc:
                result = {"mapping_errors": getattr(exc, "errors", [str(exc)])}
                mapping = None
            if mapping is not None and "_save" in request.POST and self.has_change_permission(request, source):
                services.mapping_save(
                    source=source, mapping=mapping, by=request.user, note=request.POST.get("note", "")
                )
                self.message_user(request, "Mapping saved as a new version.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:integrations_source_change", args=[source.pk]))
            if mapping is not None and sample:
                if sample.startswith("{"):
                    try:
                        from decimal import Decimal

                        payload = json.loads(sample, parse_float=Decimal)
                    except ValueError as exc:
                        payload, result = None, {"sample_error": f"The sample is not valid JSON: {exc}"}
                else:
                    payload = dict(parse_qsl(sample.lstrip("?")))
                if payload is not None:
                    mapped = mapper.map(payload)
                    result = {
                        "ok": mapped.ok,
                        "canonical": _pretty(mapped.canonical),
                        "event_id": mapped.external_id,
                        "errors": [p.as_dict() for p in mapped.errors],
                    }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Mapping dry run: {source.name}",
            "source": source,
            "mapping_text": mapping_text,
            "sample": sample,
            "result": result,
        }
        return TemplateResponse(request, "admin/integrations/source/mapping_test.html", context)


@admin.register(MappingVersion)
class MappingVersionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["source", "version", "created_by", "created_at", "note"]
    list_filter = ["source"]
    readonly_fields = ["source", "version", "pretty_mapping", "note", "created_by", "created_at"]
    fields = readonly_fields

    @admin.display(description="mapping")
    def pretty_mapping(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.mapping))


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        codes = (
            InboundEvent.objects.exclude(reason_code="")
            .order_by()
            .values_list("reason_code", flat=True)
            .distinct()[:100]
        )
        return [(code, code) for code in sorted(codes)]

    def queryset(self, request, queryset):
        return queryset.filter(reason_code=self.value()) if self.value() else queryset


@admin.register(InboundEvent)
class InboundEventAdmin(ModelAdmin):
    list_display = ["id", "source", "received_at", "channel", "status", "reason_code", "external_id", "attempts"]
    list_filter = ["status", ReasonFilter, "source", "channel"]
    search_fields = ["=external_id", "=batch_id"]
    list_select_related = ["source"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    actions = ["replay_selected"]
    actions_detail = ["replay_detail"]
    readonly_fields = [
        "source", "received_at", "channel", "method", "content_type", "remote_addr", "status", "reason_code",
        "reason_detail", "external_id", "duplicate_of", "mapping_version", "attempts", "processed_at", "batch_id",
        "batch_index", "side_by_side", "canonical_event",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["source", "received_at", "channel", "status", "reason_code", "reason_detail"]}),
        ("Raw and canonical", {"fields": ["side_by_side", "canonical_event"]}),
        (
            "Details",
            {
                "fields": [
                    "method",
                    "content_type",
                    "remote_addr",
                    "external_id",
                    "duplicate_of",
                    "mapping_version",
                    "attempts",
                    "processed_at",
                    "batch_id",
                    "batch_index",
                ]
            },
        ),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="as received | as mapped")
    def side_by_side(self, obj):
        raw = obj.body or obj.query_string
        if obj.payload is not None:
            raw = f"{raw}\n\nparsed:\n{_pretty(obj.payload)}" if raw else _pretty(obj.payload)
        return format_html(
            '<div style="display:flex;gap:1rem"><pre style="flex:1;white-space:pre-wrap">{}</pre>'
            '<pre style="flex:1;white-space:pre-wrap">{}</pre></div>',
            raw,
            _pretty(obj.canonical) or "—",
        )

    @admin.display(description="canonical event")
    def canonical_event(self, obj):
        event = ConversionEvent.objects.select_related("customer").filter(inbound=obj).first()
        if event is None:
            return "—"
        rows = [
            ("id", event.pk), ("type", event.type), ("status", event.status),
            ("customer", event.customer.external_id if event.customer else "—"), ("affiliate", event.affiliate_id),
            ("amount", f"{event.amount} {event.currency}" if event.amount is not None else "—"),
            ("base amount", event.amount_base if event.amount_base is not None else "—"),
            ("fx rate", f"{event.fx_rate} ({event.fx_date})" if event.fx_rate is not None else "—"),
            ("applied to", event.ref_event_id or "—"), ("test", event.is_test),
        ]  # fmt: skip
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    def get_urls(self):
        urls = [
            path(
                "<int:inbound_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="integrations_inboundevent_replay",
            )
        ]
        return urls + super().get_urls()

    def _report(self, request, outcomes: dict[int, str]) -> None:
        level = messages.SUCCESS if outcomes and "rejected" not in outcomes.values() else messages.WARNING
        details = []
        for pk, status in sorted(outcomes.items())[:20]:
            reason = ""
            if status == InboundStatus.REJECTED:
                reason = InboundEvent.objects.filter(pk=pk).values_list("reason_detail", flat=True).first() or ""
            details.append(f"#{pk} {status}{f' ({reason})' if reason else ''}")
        self.message_user(request, f"Replayed: {replay_summary(outcomes)}. {'; '.join(details)}", level)

    @action(description="Replay", url_path="replay-detail", permissions=["change"])
    def replay_detail(self, request, object_id):
        return HttpResponseRedirect(reverse("admin:integrations_inboundevent_replay", args=[object_id]))

    def replay_view(self, request, inbound_id: int):
        """GET asks for confirmation; POST replays the event and shows the outcome."""
        inbound = get_object_or_404(InboundEvent, pk=inbound_id)
        back = reverse("admin:integrations_inboundevent_change", args=[inbound_id])
        if request.method == "POST" and self.has_change_permission(request):
            self._report(request, inbound_replay(inbound_ids=[inbound_id]))
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Replay inbound event #{inbound.pk}",
            "inbound": inbound,
            "back": back,
        }
        return TemplateResponse(request, "admin/integrations/inboundevent/replay.html", context)

    @admin.action(description="Replay selected (rejected) events under the current mapping", permissions=["change"])
    def replay_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:10_000])
        self._report(request, inbound_replay(inbound_ids=ids))


class FxImportForm(forms.Form):
    file = forms.FileField(help_text="ECB reference rates CSV (eurofxref.csv or eurofxref-hist.csv).")


@admin.register(FxRate)
class FxRateAdmin(ModelAdmin):
    list_display = ["currency", "date", "rate", "origin", "created_at"]
    list_filter = ["currency", "origin"]
    date_hierarchy = "date"
    fields = ["currency", "date", "rate"]
    actions_list = ["import_csv"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        created = services.fx_rate_create(currency=obj.currency, date=obj.date, rate=obj.rate, origin="manual")
        obj.pk = created.pk

    def get_urls(self):
        urls = [path("import/", self.admin_site.admin_view(self.import_view), name="integrations_fxrate_import")]
        return urls + super().get_urls()

    @action(description="Import ECB CSV", url_path="import-csv", permissions=["add"])
    def import_csv(self, request):
        return HttpResponseRedirect(reverse("admin:integrations_fxrate_import"))

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = FxImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            text = form.cleaned_data["file"].read().decode("utf-8-sig", errors="replace")
            try:
                counts = services.fx_rates_import(text=text)
            except ValidationError as exc:
                form.add_error("file", _errors_text(exc))
            else:
                self.message_user(
                    request,
                    f"Imported {counts['created']} new, {counts['updated']} updated rates ({counts['days']} days).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:integrations_fxrate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import FX rates (ECB CSV)",
            "form": form,
        }
        return TemplateResponse(request, "admin/integrations/fxrate/import.html", context)
