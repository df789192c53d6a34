"""The audit log in the admin: a read-only changelist (nobody adds, edits or deletes a row, superusers
included), filtered by model, actor, action and date; and, on the change page of every audited object,
the History link opens that object's rows in it."""

from urllib.parse import urlencode

from auditlog.mixins import LogEntryAdminMixin
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateTimeFilter, RelatedDropdownFilter

from tracking.admin import EstimatedCountPaginator

from .audit import audited_models
from .readonly_admin import ReadOnlyAdminMixin

if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)  # django-auditlog's own page: replaced by the one below


class AuditedModelFilter(admin.SimpleListFilter):
    """By model: the audited models, listed without reading the (huge) log."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        types = ContentType.objects.get_for_models(*audited_models())
        return sorted(((str(ct.pk), model._meta.verbose_name.capitalize()) for model, ct in types.items()), key=str)

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(content_type_id=self.value())
        return queryset


@admin.register(LogEntry)
class AuditLogAdmin(ReadOnlyAdminMixin, LogEntryAdminMixin, ModelAdmin):
    list_display = ["created", "resource_url", "action", "msg_short", "reason", "user_url"]
    list_filter = [
        AuditedModelFilter,
        ("actor", RelatedDropdownFilter),
        "action",
        ("timestamp", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["content_type", "actor"]
    search_fields = ["=object_pk", "object_repr"]
    search_help_text = "Exact object id, or words of its name."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ["-timestamp", "-pk"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "resource_url", "remote_addr", "cid"]}),
        ("Changes", {"fields": ["action", "msg", "reason"]}),
    ]
    readonly_fields = ["created", "user_url", "resource_url", "remote_addr", "cid", "action", "msg", "reason"]

    def get_actions(self, request):
        return {}  # no bulk delete, for anyone

    def lookup_allowed(self, lookup, value, request=None):
        # the History link of an object's change page filters by its content type and primary key
        return lookup in ("content_type__id__exact", "object_pk") or super().lookup_allowed(lookup, value, request)

    def get_queryset(self, request):
        self.request = request  # LogEntryAdminMixin.cid_url reads it
        return super().get_queryset(request)

    @admin.display(description="Why")
    def reason(self, obj):
        return (obj.additional_data or {}).get("reason", "") if isinstance(obj.additional_data, dict) else ""


def history_url(model, pk) -> str:
    content_type = ContentType.objects.get_for_model(model)
    query = urlencode({"content_type__id__exact": content_type.pk, "object_pk": str(pk)})
    return f"{reverse('admin:auditlog_logentry_changelist')}?{query}"


def _history_view(model_admin):
    def history_view(request, object_id, extra_context=None):
        obj = model_admin.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not model_admin.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return HttpResponseRedirect(history_url(model_admin.model, obj.pk))

    return history_view


def link_audit_history(site=admin.site) -> None:
    """Point the History link of every audited model's change page at its rows in the audit log."""
    for model in audited_models():
        for registered, model_admin in site._registry.items():
            if registered is model or (registered._meta.proxy and registered._meta.concrete_model is model):
                model_admin.history_view = _history_view(model_admin)


def history_link(obj) -> str:
    """An HTML link to `obj`'s audit history (for readonly fields of change pages)."""
    return format_html('<a href="{}">Audit history</a>', history_url(type(obj), obj.pk))
