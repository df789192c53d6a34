"""Webhook endpoints, partner postbacks and the delivery log in the admin. Writes go through `services`."""

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from rest_framework.exceptions import ValidationError as ApiValidationError
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from . import services
from .choices import EVENT_TYPES, DeliveryStatus
from .models import Delivery, DeliveryAttempt, DeliveryNotice, OutboxEvent, PartnerPostback, WebhookEndpoint

STATUS_LABELS = {
    DeliveryStatus.PENDING: "warning",
    DeliveryStatus.SUCCEEDED: "success",
    DeliveryStatus.FAILED: "danger",
    DeliveryStatus.CANCELLED: "info",
}


def _messages(exc: ApiValidationError) -> dict[str, list[str]]:
    detail = exc.detail if isinstance(exc.detail, dict) else {"__all__": exc.detail}
    return {field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for field, msgs in detail.items()}


def _add_errors(form: forms.ModelForm, exc: ApiValidationError) -> None:
    for field, msgs in _messages(exc).items():
        for message in msgs:
            form.add_error(field if field in form.fields else None, message)


ENDPOINT_FIELDS = ["url", "description", "event_types", "affiliate", "enabled"]
POSTBACK_FIELDS = ["affiliate", "event", "url_template", "enabled", "raw_customer_ids"]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[("*", "* (every event)"), *[(t, t) for t in EVENT_TYPES]], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ENDPOINT_FIELDS

    def clean(self):
        data = super().clean()
        try:
            if data.get("url"):
                services.validate_target_url(data["url"])
            if data.get("event_types"):
                data["event_types"] = services.validate_event_types(list(data["event_types"]))
        except ApiValidationError as exc:
            _add_errors(self, exc)
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "state", "types", "affiliate", "failing_since", "last_success_at", "deliveries_link"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    raw_id_fields = ["affiliate"]
    readonly_fields = [
        "secret_prefix", "failing_since", "last_success_at", "disabled_at", "disabled_reason",
        "previous_secret_expires_at", "created_at", "updated_at",
    ]  # fmt: skip
    actions = ["send_test_selected", "rotate_selected"]
    actions_detail = ["send_test_detail"]

    def get_fields(self, request, obj=None):
        return ENDPOINT_FIELDS if obj is None else [*ENDPOINT_FIELDS, *self.readonly_fields]

    @display(description="State", label={"enabled": "success", "disabled": "danger"})
    def state(self, obj):
        return "enabled" if obj.enabled else "disabled"

    @display(description="Event types")
    def types(self, obj):
        return ", ".join(obj.event_types)

    @display(description="Deliveries")
    def deliveries_link(self, obj):
        url = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">log</a>', url)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ENDPOINT_FIELDS}
        if change:
            services.endpoint_update(endpoint=obj, **data)
            return
        endpoint, secret = services.endpoint_create(**data)
        obj.__dict__.update(endpoint.__dict__)
        self.message_user(
            request, f"Signing secret (copy it now; it is not shown again): {secret}", level=messages.WARNING
        )

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj)

    def _rotate(self, request, endpoints):
        for endpoint in endpoints:
            secret = services.endpoint_rotate_secret(endpoint=endpoint)
            self.message_user(
                request,
                f"New secret for {endpoint.url} (copy it now; the old one signs too for a while): {secret}",
                level=messages.WARNING,
            )

    def _test(self, request, endpoints):
        for endpoint in endpoints:
            delivery = services.endpoint_send_test(endpoint=endpoint)
            self.message_user(request, f"Test event {delivery.message_id} queued for {endpoint.url}.")

    @admin.action(description="Send a test event to selected endpoints", permissions=["change"])
    def send_test_selected(self, request, queryset):
        self._test(request, queryset)

    @admin.action(description="Rotate the signing secret of selected endpoints", permissions=["change"])
    def rotate_selected(self, request, queryset):
        self._rotate(request, queryset)

    @action(description="Send test event", url_path="send-test", permissions=["change"], icon="send")
    def send_test_detail(self, request, object_id):
        endpoint = get_object_or_404(WebhookEndpoint, pk=object_id)
        self._test(request, [endpoint])
        return HttpResponseRedirect(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))


class PartnerPostbackForm(forms.ModelForm):
    class Meta:
        model = PartnerPostback
        fields = POSTBACK_FIELDS

    def clean(self):
        data = super().clean()
        if data.get("url_template"):
            try:
                services.validate_url_template(data["url_template"])
            except ApiValidationError as exc:
                _add_errors(self, exc)
        return data


@admin.register(PartnerPostback)
class PartnerPostbackAdmin(ModelAdmin):
    form = PartnerPostbackForm
    list_display = ["affiliate", "event", "url_template", "state", "raw_customer_ids", "consecutive_failures", "log"]
    list_filter = ["event", "enabled", "raw_customer_ids"]
    search_fields = ["affiliate__name", "affiliate__email", "url_template"]
    list_select_related = ["affiliate"]
    raw_id_fields = ["affiliate"]
    readonly_fields = ["consecutive_failures", "disabled_at", "disabled_reason", "created_at", "updated_at"]

    @display(description="State", label={"enabled": "success", "disabled": "danger"})
    def state(self, obj):
        return "enabled" if obj.enabled else "disabled"

    @display(description="Deliveries")
    def log(self, obj):
        url = reverse("admin:webhooks_delivery_changelist") + f"?postback__id__exact={obj.pk}"
        return format_html('<a href="{}">log</a>', url)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in POSTBACK_FIELDS}
        if change:
            original = PartnerPostback.objects.get(pk=obj.pk)
            if (original.affiliate_id, original.event) != (obj.affiliate_id, obj.event):
                original.delete()
        saved = services.postback_save(**data)
        obj.__dict__.update(saved.__dict__)


class DeliveryAttemptInline(TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "at", "response_status", "latency_ms", "error", "response_body", "request_url"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ModelAdmin):
    list_display = [
        "message_id", "event_type", "target", "status_label", "attempts", "last_status_code", "next_attempt_at",
        "created_at",
    ]  # fmt: skip
    list_filter = ["status", "event__type"]
    search_fields = ["=message_id"]
    list_select_related = ["event", "endpoint", "postback__affiliate"]
    raw_id_fields = ["event", "endpoint", "postback"]
    show_full_result_count = False
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver_selected"]
    actions_detail = ["redeliver_detail"]
    readonly_fields = [
        "message_id", "event", "endpoint", "postback", "url", "status", "attempts", "next_attempt_at",
        "last_status_code", "last_error", "created_at", "finished_at", "payload",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description="Event")
    def event_type(self, obj):
        return obj.event.type

    @display(description="Target")
    def target(self, obj):
        if obj.endpoint_id:
            return obj.endpoint.url
        return f"{obj.postback.affiliate.name}: {obj.postback.event} postback"

    @display(description="Status", label=STATUS_LABELS)
    def status_label(self, obj):
        return obj.status

    @display(description="Payload")
    def payload(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.event.data, indent=2, ensure_ascii=False))

    @admin.action(description="Redeliver selected deliveries", permissions=["view"])
    def redeliver_selected(self, request, queryset):
        count = services.delivery_redeliver(deliveries=list(queryset))
        self.message_user(request, f"{count} deliveries queued again.", level=messages.SUCCESS)

    @action(description="Redeliver", url_path="redeliver", permissions=["view"], icon="replay")
    def redeliver_detail(self, request, object_id):
        delivery = get_object_or_404(Delivery, pk=object_id)
        services.delivery_redeliver(deliveries=[delivery])
        self.message_user(request, f"Delivery {delivery.message_id} queued again.", level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))


@admin.register(DeliveryNotice)
class DeliveryNoticeAdmin(ModelAdmin):
    list_display = ["created_at", "kind", "message", "recipients"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "endpoint", "postback", "message", "recipients", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ModelAdmin):
    list_display = ["pk", "type", "affiliate_id", "brand_id", "created_at", "dispatched_at"]
    list_filter = ["type"]
    show_full_result_count = False
    readonly_fields = ["type", "data", "affiliate_id", "brand_id", "created_at", "dispatched_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
