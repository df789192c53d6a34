"""API key issue and lookup. Keys are `<scope>_<prefix>_<secret>`; the prefix finds the row, the
SHA-256 digest of the whole key is compared in constant time. A short in-process cache keeps
lookups off the database on hot paths (every postback authenticates)."""

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .models import ApiKey, ApiKeyScope

SCOPE_TAGS = {ApiKeyScope.MANAGEMENT: "mgmt", ApiKeyScope.SOURCE: "src", ApiKeyScope.PARTNER: "ptnr"}
_LAST_USED_WRITE_EVERY = 60  # seconds; last_used_at is informative, not worth a write per request
_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class KeyPrincipal:
    """What a request authenticated as. Immutable and cacheable."""

    key_id: int
    name: str
    scope: str
    affiliate_id: int | None
    source_id: int | None

    # DRF treats request.user as a user object; these make the principal behave like one.
    is_authenticated = True
    is_anonymous = False
    is_staff = False

    @property
    def pk(self) -> int:
        return self.key_id


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, name: str, scope: str, affiliate=None, source=None, created_by=None) -> tuple[ApiKey, str]:
    """Create a key; return the row and the raw key, which is never stored and shown only now."""
    tag = SCOPE_TAGS[ApiKeyScope(scope)]
    prefix = secrets.token_hex(6)
    raw = f"{tag}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        scope=scope,
        prefix=prefix,
        digest=_digest(raw),
        affiliate=affiliate,
        source=source,
        created_by=created_by,
    )
    key.full_clean()
    key.save()
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    _cache_forget(key.prefix)
    return key


_cache: dict[str, tuple[float, str, KeyPrincipal | None]] = {}
_cache_lock = threading.Lock()
_last_used_written: dict[int, float] = {}


def _cache_forget(prefix: str) -> None:
    with _cache_lock:
        _cache.pop(prefix, None)


def cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
        _last_used_written.clear()


def _split(raw: str) -> str | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] not in SCOPE_TAGS.values() or len(raw) > 200:
        return None
    prefix = parts[1]
    if len(prefix) != 12 or prefix.strip(_HEX) or not parts[2]:
        return None
    return prefix


def authenticate_key(raw: str) -> KeyPrincipal | None:
    """Return the principal for a raw key, or None if it is unknown, malformed or revoked."""
    prefix = _split(raw or "")
    if prefix is None:
        return None
    # Wall-clock time, not monotonic: a clock step only shortens or lengthens one cache period.
    now = time.time()
    ttl = settings.API_KEY_CACHE_SECONDS
    with _cache_lock:
        hit = _cache.get(prefix)
    if hit and hit[0] > now:
        _, digest, principal = hit
    else:
        row = (
            ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True)
            .values("id", "name", "scope", "affiliate_id", "source_id", "digest")
            .first()
        )
        if row is None:
            digest, principal = "", None
        else:
            digest = row.pop("digest")
            principal = KeyPrincipal(
                key_id=row["id"],
                name=row["name"],
                scope=row["scope"],
                affiliate_id=row["affiliate_id"],
                source_id=row["source_id"],
            )
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[prefix] = (now + ttl, digest, principal)
    if principal is None or not hmac.compare_digest(digest, _digest(raw)):
        return None
    _touch(principal.key_id, now)
    return principal


def _touch(key_id: int, now: float) -> None:
    last = _last_used_written.get(key_id)
    if last is not None and now - last < _LAST_USED_WRITE_EVERY:
        return
    _last_used_written[key_id] = now
    ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
