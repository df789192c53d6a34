from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from . import audit_admin  # noqa: F401 (the audit log page)
from .keys import KeyRotationError, api_key_create, api_key_revoke, api_key_rotate
from .models import ApiKey, User

admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    """Keys are shown once, at creation, in a message; afterwards only their prefix. Only the SHA-256
    digest is stored, so a lost key cannot be shown again: revoke it and create another."""

    list_display = [
        "name", "scope", "prefix", "state", "affiliate", "source", "created_at", "last_used_at", "expires_at",
    ]  # fmt: skip
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    list_select_related = ["affiliate", "source"]
    raw_id_fields = ["affiliate", "source"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at", "expires_at", "replaced_by"]
    fields = ["name", "scope", "affiliate", "source", *readonly_fields]
    actions = ["revoke", "rotate"]
    actions_detail = ["rotate_detail", "revoke_detail"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_revoke_permission(self, request, obj=None):
        return request.user.has_perm("core.change_apikey")

    @display(description="State", label={"active": "success", "expiring": "warning", "revoked": "danger"})
    def state(self, obj):
        if obj.revoked_at is not None or not obj.is_active:
            return "revoked"
        return "expiring" if obj.expires_at is not None else "active"

    def _rotate(self, request, key: ApiKey) -> None:
        try:
            new, raw = api_key_rotate(key=key, by=request.user)
        except KeyRotationError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        until = f"until {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "no longer"
        self.message_user(
            request,
            f"Rotated {key}: the old key works {until}. New {new.scope} key (copy it now; it is not shown again): "
            f"{raw}",
            level=messages.WARNING,
        )

    @admin.action(
        description="Rotate the selected key (a new key; the old one works for the grace period)",
        permissions=["revoke"],
    )
    def rotate(self, request, queryset):
        keys = list(queryset[:2])
        if len(keys) != 1:
            self.message_user(request, "Rotate one key at a time: its new key is shown once.", level=messages.ERROR)
            return
        self._rotate(request, keys[0])

    @action(description="Rotate this key", url_path="rotate", icon="autorenew", permissions=["revoke"])
    def rotate_detail(self, request, object_id):
        key = get_object_or_404(ApiKey, pk=object_id)
        if request.method != "POST":  # a link is not a decision: a forged one must not rotate the key
            return self._confirm(request, key, "Rotate", "A new key is made and shown once; the old one keeps "
                                 "working for the grace period, then stops.")  # fmt: skip
        self._rotate(request, key)
        return HttpResponseRedirect(reverse("admin:core_apikey_change", args=[key.pk]))

    def _confirm(self, request, key: ApiKey, verb: str, consequence: str):
        context = {
            **self.admin_site.each_context(request), "title": f"{verb} {key}", "key": key, "verb": verb,
            "consequence": consequence, "back": reverse("admin:core_apikey_change", args=[key.pk]),
        }  # fmt: skip
        return TemplateResponse(request, "admin/core/apikey/confirm.html", context)

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = api_key_create(
            name=obj.name, scope=obj.scope, affiliate=obj.affiliate, source=obj.source, created_by=request.user
        )
        obj.__dict__.update(key.__dict__)
        self.message_user(
            request, f"New {key.scope} key (copy it now; it is not shown again): {raw}", level=messages.WARNING
        )

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        active = [key for key in queryset if key.revoked_at is None]
        for key in active:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {len(active)} key(s).", level=messages.SUCCESS)

    @action(description="Revoke this key", url_path="revoke", icon="block", permissions=["revoke"])
    def revoke_detail(self, request, object_id):
        key = get_object_or_404(ApiKey, pk=object_id)
        if request.method != "POST" and key.revoked_at is None:
            return self._confirm(request, key, "Revoke", "Requests with this key are refused from now on (within "
                                 "the key cache's few seconds). This cannot be undone.")  # fmt: skip
        if key.revoked_at is None:
            api_key_revoke(key=key)
            self.message_user(request, f"Revoked {key}.", level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:core_apikey_change", args=[key.pk]))
