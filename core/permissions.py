"""Key scopes, enforced in one place.

Every API view is management-only unless it declares `required_scope` ("source" or "partner").
A partner key sees its own affiliate's rows (views filter by `request.auth.affiliate_id`); a source
key reaches only its own source's ingestion endpoints (checked with `source_key_matches`).
"""

from rest_framework import permissions

from .keys import KeyPrincipal
from .models import ApiKeyScope


class ScopePermission(permissions.BasePermission):
    message = "This API key's scope does not allow this endpoint."

    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if not isinstance(principal, KeyPrincipal):
            return False
        required = getattr(view, "required_scope", ApiKeyScope.MANAGEMENT)
        return principal.scope == required


def source_key_matches(principal: KeyPrincipal | None, source_id: int) -> bool:
    return (
        isinstance(principal, KeyPrincipal)
        and principal.scope == ApiKeyScope.SOURCE
        and principal.source_id == source_id
    )
