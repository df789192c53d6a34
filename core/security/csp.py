"""Content-Security-Policy per area of the site.

settings.CONTENT_SECURITY_POLICY is the policy of every page (the portal, error pages): only this
platform's own scripts, styles, images and fonts. Some pages need more, listed in
settings.CSP_PATH_ADDITIONS by path prefix: the admin (django-unfold styles elements inline and its
Alpine.js components evaluate their attribute expressions) and the API docs (Swagger UI styles elements
inline). A view's own `csp_update` decorator still wins over both."""

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings


def _merge(first: dict | None, second: dict) -> dict:
    merged = {name: list(values) for name, values in (first or {}).items()}
    for name, values in second.items():
        merged.setdefault(name, [])
        merged[name].extend(value for value in values if value not in merged[name])
    return merged


class PathCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        for prefix, additions in getattr(settings, "CSP_PATH_ADDITIONS", {}).items():
            if request.path_info.startswith(prefix):
                parts.update = _merge(additions, parts.update or {})
        return parts
