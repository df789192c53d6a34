"""Tracking settings: a Django setting of the same name wins, else the environment, else the default.

- TRACKING_LINK_CACHE_SECONDS (30): how long a process keeps a token → link lookup. Disabling a link
  or suspending its affiliate takes effect on every process within this many seconds.
- CLICK_DUPLICATE_WINDOW_SECONDS (60): a second click from the same IP on the same link within this
  window is flagged duplicate (0 turns the check off).
- GEOIP_COUNTRY_HEADER (CF-IPCountry): the request header a CDN or proxy fills with the visitor's country.
- GEOIP_DB_PATH (empty): a MaxMind GeoIP2/GeoLite2 country or city database, used when the header is
  absent and the optional `geoip2` package is installed.
- TRUSTED_PROXY (0): how many reverse proxies in front append to X-Forwarded-For; 0 ignores that header
  and uses REMOTE_ADDR.
"""

import os

from django.conf import settings
from django.core.signals import setting_changed

_DEFAULTS = {
    "TRACKING_LINK_CACHE_SECONDS": 30,
    "CLICK_DUPLICATE_WINDOW_SECONDS": 60,
    "GEOIP_COUNTRY_HEADER": "CF-IPCountry",
    "GEOIP_DB_PATH": "",
    "TRUSTED_PROXY": 0,
}


_cache: dict = {}


def _clear(**kwargs) -> None:
    _cache.clear()


# Read once per process (the redirect asks on every click); a test's override_settings clears it.
setting_changed.connect(_clear)


def setting(name: str):
    try:
        return _cache[name]
    except KeyError:
        value = _cache[name] = _read(name)
        return value


def _read(name: str):
    default = _DEFAULTS[name]
    value = getattr(settings, name) if hasattr(settings, name) else os.environ.get(name, default)
    if isinstance(default, int):
        if isinstance(value, str) and value.strip().lower() in {"true", "yes", "on"}:
            return 1
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return default
    return str(value or "")
