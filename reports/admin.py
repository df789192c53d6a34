"""Report pages in the admin: a form, a chart drawn as inline SVG (no script, no CDN), the table, CSV."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from unfold.admin import ModelAdmin

from affiliates.models import Affiliate, Brand
from integrations.monitoring import charts

from . import export, selectors
from .models import Report

UTC = dt.UTC
MAX_DAYS = 366
CHART_GROUPS = 20


class ReportForm(forms.Form):
    start = forms.DateField(label="From (UTC day)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (UTC day, inclusive)", required=False,
                          widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    group_by = forms.ChoiceField(choices=[(g, g) for g in selectors.GROUP_BY], initial="day", required=False)
    brand = forms.ModelChoiceField(queryset=Brand.objects.order_by("name"), required=False, to_field_name="slug")
    affiliate = forms.IntegerField(label="Affiliate id", required=False, min_value=1)

    def clean(self):
        data = super().clean()
        today = timezone.now().astimezone(UTC).date()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=29)
        if start > end:
            raise forms.ValidationError("“From” must not be after “To”.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"A report covers at most {MAX_DAYS} days.")
        affiliate = data.get("affiliate")
        if affiliate and not Affiliate.objects.filter(pk=affiliate).exists():
            self.add_error("affiliate", f"No affiliate has the id {affiliate}.")
        data["start"], data["end"], data["group_by"] = start, end, data.get("group_by") or "day"
        return data

    def clean_defaults(self) -> dict:
        """The defaults when no parameter is given: the last 30 days by day."""
        self.is_valid()
        return self.cleaned_data


class CohortForm(forms.Form):
    start = forms.DateField(label="First month", required=False, widget=forms.DateInput(attrs={"type": "month"}),
                            input_formats=["%Y-%m", "%Y-%m-%d"])  # fmt: skip
    end = forms.DateField(label="Last month", required=False, widget=forms.DateInput(attrs={"type": "month"}),
                          input_formats=["%Y-%m", "%Y-%m-%d"])  # fmt: skip
    brand = forms.ModelChoiceField(queryset=Brand.objects.order_by("name"), required=False, to_field_name="slug")
    affiliate = forms.IntegerField(label="Affiliate id", required=False, min_value=1)

    def clean(self):
        data = super().clean()
        end = (data.get("end") or timezone.now().astimezone(UTC).date()).replace(day=1)
        start = (data.get("start") or dt.date(end.year - 1, end.month, 1) + dt.timedelta(days=32)).replace(day=1)
        if start > end:
            raise forms.ValidationError("The first month must not be after the last.")
        if (end.year - start.year) * 12 + end.month - start.month >= 36:
            raise forms.ValidationError("At most 36 months.")
        data["start"], data["end"] = start, end
        return data

    def clean_defaults(self) -> dict:
        """The defaults when no parameter is given: the last 12 months."""
        self.is_valid()
        return self.cleaned_data


def _csv(header, body, filename: str) -> HttpResponse:
    response = HttpResponse(export.as_csv(header, body), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(Report)
class ReportAdmin(ModelAdmin):
    """The report pages: the changelist is the activity report, `cohorts/` the cohort report."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        site = self.admin_site
        return [
            path("cohorts/", site.admin_view(self.cohorts_view), name="reports_report_cohorts"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = ReportForm(request.GET or None)
        context = self.admin_site.each_context(request) | {"title": "Reports", "form": form, "opts": self.opts}
        if request.GET and not form.is_valid():
            return TemplateResponse(request, "reports/report.html", context)
        data = form.cleaned_data if request.GET else ReportForm({}).clean_defaults()
        start = dt.datetime.combine(data["start"], dt.time(), tzinfo=UTC)
        end = dt.datetime.combine(data["end"] + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
        flt = selectors.ReportFilter(
            affiliate_id=data.get("affiliate"), brand_id=data["brand"].pk if data.get("brand") else None
        )
        rows = selectors.report(start=start, end=end, group_by=data["group_by"], flt=flt)
        base = settings.BASE_CURRENCY
        header, body = export.report_table(rows, base_currency=base)
        if request.GET.get("format") == "csv":
            return _csv(header, body, f"report-{data['group_by']}-{data['start']:%Y%m%d}-{data['end']:%Y%m%d}.csv")
        context |= {
            "header": header,
            "body": body,
            "data": data,
            "chart": self._chart(rows, data["group_by"]),
            "totals": {
                "clicks": sum(r.clicks for r in rows),
                "registrations": sum(r.registrations for r in rows),
                "ftds": sum(r.ftds for r in rows),
                "deposit_amount": sum((r.deposit_amount for r in rows), start=0),
                "revenue": sum((r.revenue for r in rows), start=0),
            },
            "base": base,
            "csv_query": (request.GET.urlencode() + "&" if request.GET else "") + "format=csv",
        }
        return TemplateResponse(request, "reports/report.html", context)

    @staticmethod
    def _chart(rows, group_by: str):
        if group_by == "day":
            return charts.line_chart(
                title="Clicks, registrations and FTDs per day",
                labels=[r.group[5:] for r in rows],
                series={
                    "Clicks": [r.clicks for r in rows],
                    "Registrations": [r.registrations for r in rows],
                    "FTDs": [r.ftds for r in rows],
                },
            )
        biggest = sorted(rows, key=lambda r: (-r.ftds, -r.clicks))[:CHART_GROUPS]
        return charts.bar_chart(
            title=f"Registrations and FTDs, the {len(biggest)} groups with most FTDs",
            labels=[(r.label or r.group or "—")[:14] for r in biggest],
            series={"Registrations": [r.registrations for r in biggest], "FTDs": [r.ftds for r in biggest]},
        )

    def cohorts_view(self, request):
        form = CohortForm(request.GET or None)
        context = self.admin_site.each_context(request) | {"title": "Cohorts", "form": form, "opts": self.opts}
        if request.GET and not form.is_valid():
            return TemplateResponse(request, "reports/cohorts.html", context)
        data = form.cleaned_data if request.GET else CohortForm({}).clean_defaults()
        rows = selectors.cohorts(
            start=data["start"],
            end=data["end"],
            affiliate_id=data.get("affiliate"),
            brand_id=data["brand"].pk if data.get("brand") else None,
        )
        base = settings.BASE_CURRENCY
        header, body = export.cohort_table(rows, base_currency=base)
        if request.GET.get("format") == "csv":
            return _csv(header, body, f"cohorts-{data['start']:%Y%m}-{data['end']:%Y%m}.csv")
        context |= {
            "header": header,
            "body": body,
            "chart": charts.bar_chart(
                title="FTD rate (%) within 7, 30 and 90 days, per registration month",
                labels=[r.month.strftime("%Y-%m") for r in rows],
                series={f"Day {n}": [r.ftd_rate(n) for r in rows] for n in export.AGES},
            ),
            "csv_query": (request.GET.urlencode() + "&" if request.GET else "") + "format=csv",
        }
        return TemplateResponse(request, "reports/cohorts.html", context)
