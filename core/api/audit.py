"""`GET /api/v1/audit-log`: the audit log, read-only (management key)."""

import django_filters
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets

from core.problems import Problem

from ..audit import audited_models

ACTIONS = {LogEntry.Action.CREATE: "create", LogEntry.Action.UPDATE: "update", LogEntry.Action.DELETE: "delete",
           LogEntry.Action.ACCESS: "access"}  # fmt: skip


def model_label(content_type: ContentType) -> str:
    return f"{content_type.app_label}.{content_type.model}"


class AuditLogFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(
        method="filter_model",
        help_text="app_label.model, e.g. `commissions.commissionentry` or `affiliates.affiliate`.",
    )
    object_id = django_filters.CharFilter(field_name="object_pk", help_text="The object's primary key.")
    actor = django_filters.NumberFilter(field_name="actor_id", help_text="The user id of who made the change.")
    # `from` is a Python keyword: declared as `from_`, published as `from` (below the class)
    from_ = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", help_text="ISO 8601, inclusive."
    )
    to = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt", help_text="ISO 8601, exclusive.")

    class Meta:
        model = LogEntry
        fields = []

    def filter_model(self, queryset, name, value):
        app_label, _, model = value.strip().lower().partition(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model).first() if model else None
        if content_type is None or content_type.model_class() not in audited_models():
            known = sorted(model_label(ContentType.objects.get_for_model(m)) for m in audited_models())
            raise Problem(
                status_code=400, code="unknown_model", title="Not an audited model.",
                detail=f"model={value!r}; audited models: {', '.join(known)}.",
            )  # fmt: skip
        return queryset.filter(content_type=content_type)


AuditLogFilter.base_filters["from"] = AuditLogFilter.base_filters.pop("from_")


class AuditLogEntrySerializer(serializers.ModelSerializer):
    model = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="object_pk")
    action = serializers.SerializerMethodField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    actor_username = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = ["id", "timestamp", "model", "object_id", "object_repr", "action", "actor", "actor_username",
                  "changes", "reason", "remote_addr", "cid"]  # fmt: skip
        read_only_fields = fields

    def get_model(self, obj) -> str:
        return model_label(obj.content_type)

    @extend_schema_field(serializers.ChoiceField(choices=sorted(ACTIONS.values())))
    def get_action(self, obj) -> str:
        return ACTIONS.get(obj.action, str(obj.action))

    def get_actor_username(self, obj) -> str | None:
        return obj.actor.get_username() if obj.actor else None

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string", "nullable": True}}}
    )
    def get_changes(self, obj) -> dict:
        """field → [old, new], as text."""
        changes = obj.changes
        return changes if isinstance(changes, dict) else (obj.changes_dict or {})

    @extend_schema_field(OpenApiTypes.STR)
    def get_reason(self, obj) -> str:
        data = obj.additional_data
        return data.get("reason", "") if isinstance(data, dict) else ""


class AuditLogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Who changed what, when and why: deals, assignments, commission entries, brands and affiliates
    (payment details, payout settings, status). Newest first; nothing here can be changed."""

    queryset = LogEntry.objects.select_related("content_type", "actor")
    serializer_class = AuditLogEntrySerializer
    filterset_class = AuditLogFilter
