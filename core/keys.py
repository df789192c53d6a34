"""API key issue and lookup. Keys are `<scope>_<prefix>_<secret>`; the prefix finds the row, the
SHA-256 digest of the whole key is compared in constant time. A short in-process cache keeps
lookups off the database on hot paths (every postback authenticates)."""

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
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


class KeyRotationError(ValueError):
    pass


def api_key_rotate(*, key: ApiKey, by=None, grace_hours: float | None = None) -> tuple[ApiKey, str]:
    """Replace `key` with a new key of the same name, scope and subject; return the new row and its raw key.

    The old key keeps working for `grace_hours` (default settings.API_KEY_ROTATION_GRACE_HOURS) so that the
    systems using it can switch over, then stops; 0 revokes it at once. A key already rotated, revoked or
    expired cannot be rotated again: rotate its successor."""
    hours = settings.API_KEY_ROTATION_GRACE_HOURS if grace_hours is None else grace_hours
    if hours < 0:
        raise KeyRotationError("The grace period cannot be negative.")
    now = timezone.now()
    with transaction.atomic():
        old = ApiKey.objects.select_for_update().get(pk=key.pk)
        if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
            raise KeyRotationError(f"Key {old.prefix} is revoked or expired; create a new one instead.")
        if old.replaced_by_id is not None:
            raise KeyRotationError(f"Key {old.prefix} was already rotated; rotate its successor instead.")
        new, raw = api_key_create(
            name=old.name, scope=old.scope, affiliate=old.affiliate, source=old.source, created_by=by
        )
        old.replaced_by = new
        if hours == 0:
            old.revoked_at = now
        else:
            old.expires_at = now + timedelta(hours=hours)
        old.save(update_fields=["replaced_by", "revoked_at", "expires_at"])
    _cache_forget(old.prefix)
    key.__dict__.update(old.__dict__)
    return new, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    _cache_forget(key.prefix)
    return key


# prefix -> (cached until, digest, principal, the key's own expiry as a timestamp or None)
_cache: dict[str, tuple[float, str, KeyPrincipal | None, float | None]] = {}
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
        _, digest, principal, expires = hit
    else:
        row = (
            ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True)
            .values("id", "name", "scope", "affiliate_id", "source_id", "digest", "expires_at")
            .first()
        )
        expires = None
        if row is None:
            digest, principal = "", None
        else:
            digest = row.pop("digest")
            expires_at = row.pop("expires_at")
            expires = expires_at.timestamp() if expires_at is not None else None
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
            _cache[prefix] = (now + ttl, digest, principal, expires)
    if principal is None or not hmac.compare_digest(digest, _digest(raw)):
        return None
    if expires is not None and expires <= now:
        return None
    _touch(principal.key_id, now)
    return principal


def _touch(key_id: int, now: float) -> None:
    last = _last_used_written.get(key_id)
    if last is not None and now - last < _LAST_USED_WRITE_EVERY:
        return
    _last_used_written[key_id] = now
    ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
