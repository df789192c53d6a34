"""Admin pages of monitoring: the programme dashboard (admin home), a source's health page, the
reconciliation upload and the go-live checklist. Thin: selectors read, services write."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from integrations.models import Source

from . import charts, golive, selectors
from .models import Granularity, ReconciliationRun
from .reconciliation import MAX_BYTES as MAX_UPLOAD
from .reconciliation import ReconciliationError, reconciliation_create
from .tasks import run_golive_checks

UTC = dt.UTC


def dashboard_callback(request, context: dict) -> dict:
    """Unfold's DASHBOARD_CALLBACK: the figures of the admin home."""
    now = timezone.now()
    today = dt.datetime.combine(now.astimezone(UTC).date(), dt.time.min, tzinfo=UTC)
    month = today.replace(day=1)
    series = selectors.daily_series(end_day=today.date(), days=30)
    context.update(
        {
            "monitoring_today": selectors.programme_figures(start=today, end=now + dt.timedelta(seconds=1)),
            "monitoring_month": selectors.programme_figures(start=month, end=now + dt.timedelta(seconds=1)),
            "monitoring_top_affiliates": selectors.top_affiliates(start=month, end=now + dt.timedelta(seconds=1)),
            "monitoring_open_alerts": selectors.open_alerts(limit=20),
            "monitoring_sources": selectors.sources_health(now=now),
            "monitoring_traffic_chart": charts.line_chart(
                title="Clicks and registrations, last 30 days",
                labels=series["labels"],
                series={"Clicks": series["clicks"], "Registrations": series["registrations"]},
            ),
            "monitoring_ftd_chart": charts.bar_chart(
                title="FTDs, last 30 days", labels=series["labels"], series={"FTDs": series["ftds"]}
            ),
            "monitoring_now": now,
        }
    )
    return context


def source_health_view(request, admin_site, source_id: int):
    source = get_object_or_404(Source.objects.select_related("brand"), pk=source_id)
    now = timezone.now()
    health = selectors.source_health(source=source, now=now)
    volume = health["volume"]
    context = admin_site.each_context(request) | {
        "title": f"Health: {source.name}",
        "health": health,
        "now": now,
        "volume_chart": charts.line_chart(
            title="Inbound events per hour against the same hour of week",
            labels=[v["hour"].strftime("%H:00") for v in volume],
            series={"Events": [v["count"] for v in volume], "Baseline": [v["baseline"] for v in volume]},
        ),
        "sources": Source.objects.order_by("name"),
    }
    return TemplateResponse(request, "monitoring/source_health.html", context)


class ReconciliationUploadForm(forms.Form):
    source = forms.ModelChoiceField(queryset=Source.objects.select_related("brand").order_by("name"))
    granularity = forms.ChoiceField(choices=Granularity.choices)
    period_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    file = forms.FileField(help_text="CSV: customer_id or date, and any of ftds, deposits, revenue (currency).")


def reconciliation_upload_view(request, admin_site):
    errors = []
    if request.method == "POST":
        form = ReconciliationUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = reconciliation_create(
                    source=form.cleaned_data["source"],
                    granularity=form.cleaned_data["granularity"],
                    period_start=form.cleaned_data["period_start"],
                    period_end=form.cleaned_data["period_end"],
                    content=upload.read(MAX_UPLOAD + 1),
                    filename=upload.name,
                    by=request.user,
                )
            except ReconciliationError as exc:
                errors = exc.errors
            else:
                messages.success(request, "Reconciled: see the differences below.")
                return redirect(reverse("admin:monitoring_reconciliationrun_change", args=[run.pk]))
    else:
        form = ReconciliationUploadForm(initial={"source": request.GET.get("source")})
    context = admin_site.each_context(request) | {
        "title": "Reconcile an operator's totals",
        "form": form,
        "csv_errors": errors,
        "opts": ReconciliationRun._meta,
    }
    return TemplateResponse(request, "monitoring/reconciliation_upload.html", context)


def golive_view(request, admin_site, source_id: int):
    source = get_object_or_404(Source.objects.select_related("brand"), pk=source_id)
    if request.method == "POST":
        run = golive.golive_run_start(source=source, by=request.user)
        transaction.on_commit(lambda: run_golive_checks.delay(run.pk))
        messages.info(request, "Go-live checks started.")
        return redirect(reverse("admin:monitoring_golive", args=[source.pk]))
    runs = list(source.golive_runs.all()[:10])
    context = admin_site.each_context(request) | {
        "title": f"Go-live checklist: {source.name}",
        "source": source,
        "latest": runs[0] if runs else None,
        "runs": runs,
        "capacity": golive.check_capacity(source=source),
    }
    return TemplateResponse(request, "monitoring/golive.html", context)
