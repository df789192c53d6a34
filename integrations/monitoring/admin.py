import json

from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from . import views
from .models import Alert, AlertRule, GoLiveRun, ReconciliationRun
from .services import alert_resolve


@admin.register(Alert)
class AlertAdmin(ModelAdmin):
    list_display = ["title", "kind", "severity", "source", "opened_at", "resolved_at", "state"]
    list_filter = ["kind", "severity", ("resolved_at", admin.EmptyFieldListFilter), "source"]
    search_fields = ["title", "subject", "source__slug"]
    list_select_related = ["source"]
    date_hierarchy = "opened_at"
    readonly_fields = [
        "key", "source", "brand", "kind", "subject", "severity", "title", "pretty_details",
        "opened_at", "last_seen_at", "resolved_at",
    ]  # fmt: skip
    exclude = ["details"]
    actions = ["resolve_now"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="State")
    def state(self, obj: Alert) -> str:
        return "open" if obj.is_open else "resolved"

    @admin.display(description="Details")
    def pretty_details(self, obj: Alert) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, default=str))

    @admin.action(description="Resolve now (it reopens if the condition still holds)", permissions=["change"])
    def resolve_now(self, request, queryset):
        now = timezone.now()
        done = sum(alert_resolve(alert=a, now=now) for a in queryset.filter(resolved_at__isnull=True))
        self.message_user(request, f"{done} alert(s) resolved.")

    def get_urls(self):
        site = self.admin_site
        extra = [
            path(
                "health/<int:source_id>/",
                site.admin_view(lambda r, source_id: views.source_health_view(r, site, source_id)),
                name="monitoring_source_health",
            ),
            path(
                "golive/<int:source_id>/",
                site.admin_view(lambda r, source_id: views.golive_view(r, site, source_id)),
                name="monitoring_golive",
            ),
        ]
        return extra + super().get_urls()


@admin.register(AlertRule)
class AlertRuleAdmin(ModelAdmin):
    list_display = [
        "source", "enabled", "silence_minutes", "rejected_share_percent", "volume_drop_percent",
        "volume_spike_percent", "processing_lag_seconds", "health_link",
    ]  # fmt: skip
    list_select_related = ["source"]
    autocomplete_fields = []
    fieldsets = [
        (None, {"fields": ["source", "enabled"]}),
        ("Silence", {"fields": ["silence_minutes", "expected_types"]}),
        (
            "Volume",
            {"fields": ["volume_drop_percent", "volume_spike_percent", "volume_min_baseline", "baseline_weeks"]},
        ),
        (
            "Quality",
            {
                "fields": [
                    "window_minutes",
                    "rejected_share_percent",
                    "rejected_min_events",
                    "schema_drift",
                    "unknown_event_type",
                ]
            },
        ),
        ("Lag", {"fields": ["processing_lag_seconds", "delivery_latency_seconds"]}),
        ("Attribution", {"fields": ["unattributed_rise_points", "unattributed_min_customers"]}),
        ("Go-live", {"fields": ["expected_peak_per_hour"]}),
    ]

    @admin.display(description="Health")
    def health_link(self, obj: AlertRule) -> str:
        return format_html(
            '<a href="{}">health page</a>', reverse("admin:monitoring_source_health", args=[obj.source_id])
        )


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ModelAdmin):
    list_display = ["source", "granularity", "period_start", "period_end", "differences", "created_at", "created_by"]
    list_filter = ["granularity", "source"]
    list_select_related = ["source", "created_by"]
    readonly_fields = [
        "source", "granularity", "period_start", "period_end", "filename", "currency", "created_by", "created_at",
        "totals_table", "lines_table",
    ]  # fmt: skip
    exclude = ["lines", "summary"]

    @admin.display(description="Lines that differ")
    def differences(self, obj: ReconciliationRun) -> str:
        return f"{obj.summary.get('lines_with_differences', 0)} of {obj.summary.get('lines', 0)}"

    @admin.display(description="Totals (ours − theirs)")
    def totals_table(self, obj: ReconciliationRun) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td></tr>",
            ((m, v["theirs"], v["ours"], v["diff"]) for m, v in obj.summary.get("totals", {}).items()),
        )
        return format_html(
            '<table class="reconciliation"><tr><th>metric</th><th>theirs</th><th>ours</th><th>diff</th></tr>{}</table>'
            "<p>{} line(s) missing here, {} extra here.</p>",
            rows,
            obj.summary.get("missing_here", 0),
            obj.summary.get("extra_here", 0),
        )

    @admin.display(description="Lines with differences")
    def lines_table(self, obj: ReconciliationRun) -> str:
        metrics = obj.summary.get("metrics", [])
        body = []
        for line in obj.lines:
            if not line.get("differs"):
                continue
            cells = format_html_join(
                "",
                "<td>{} / {} (<b>{}</b>)</td>",
                ((line[m]["theirs"], line[m]["ours"], line[m]["diff"]) for m in metrics),
            )
            events = ", ".join(f"{e['type']} {e['external_id']} {e['amount']}" for e in line.get("events", [])[:20])
            rejected = ", ".join(f"#{r['inbound_id']} {r['reason']}" for r in line.get("rejected", [])[:20])
            only = {"theirs": "missing here", "ours": "extra here"}.get(line.get("only", ""), "")
            body.append(
                format_html(
                    "<tr><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
                    line["key"],
                    only,
                    cells,
                    events or "—",
                    rejected or "—",
                )
            )
        head = format_html_join("", "<th>{} (theirs / ours (diff))</th>", ((m,) for m in metrics))
        return format_html(
            '<table class="reconciliation"><tr><th>key</th><th></th>{}<th>our events</th>'
            "<th>rejected inbound</th></tr>{}</table>",
            head,
            format_html_join("", "{}", ((b,) for b in body)) if body else format_html("<tr><td>none</td></tr>"),
        )

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return views.reconciliation_upload_view(request, self.admin_site)


@admin.register(GoLiveRun)
class GoLiveRunAdmin(ModelAdmin):
    list_display = ["source", "started_at", "finished_at", "passed", "checklist_link"]
    list_filter = ["passed", "source"]
    list_select_related = ["source"]
    readonly_fields = ["source", "started_at", "finished_at", "passed", "results", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Checklist")
    def checklist_link(self, obj: GoLiveRun) -> str:
        return format_html('<a href="{}">open</a>', reverse("admin:monitoring_golive", args=[obj.source_id]))
