"""The API rate limit per key: at most settings.API_RATE_LIMITS[scope] requests a minute for each
management or partner key, counted in the shared cache (Redis in production) so that every process
shares one count. Past it the answer is a 429 problem with Retry-After (the seconds until the minute
ends). Source keys are not counted here: ingestion has its own per-source limit
(integrations.ingestion.rate_limit_retry_after), which a refused request is stored against."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from core.keys import KeyPrincipal
from core.models import ApiKeyScope

WINDOW_SECONDS = 60


def key_rate_count(*, key_id: int, window: int) -> int:
    """Count one request of key `key_id` in minute `window`; the minute's count so far."""
    name = f"api-rate:{key_id}:{window}"
    if cache.add(name, 1, timeout=WINDOW_SECONDS + 10):
        return 1
    try:
        return cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=WINDOW_SECONDS + 10)
        return 1


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self):
        self.retry_after: int | None = None

    def allow_request(self, request, view) -> bool:
        principal = request.auth
        if not isinstance(principal, KeyPrincipal) or principal.scope == ApiKeyScope.SOURCE:
            return True
        limit = (getattr(settings, "API_RATE_LIMITS", None) or {}).get(principal.scope) or 0
        if limit <= 0:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        if key_rate_count(key_id=principal.key_id, window=window) <= limit:
            return True
        self.retry_after = max(1, int(WINDOW_SECONDS - (now % WINDOW_SECONDS)) + 1)
        return False

    def wait(self) -> int | None:
        return self.retry_after
