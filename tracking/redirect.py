"""The pieces of `GET /t/<token>`: the in-process link cache, reading the visitor, building the target URL.

Kept free of ORM model instances on the hot path: a cached link is a small tuple of ids and pre-split URL
parts, so a click costs one INSERT and some string work.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import threading
import time
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from django.utils.encoding import iri_to_uri

from affiliates.choices import AffiliateStatus

from .conf import setting
from .models import SUB_ID_LENGTH, TrackingLink

logger = logging.getLogger(__name__)

SUB_KEYS = ("sub1", "sub2", "sub3", "sub4", "sub5")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
USER_AGENT_LENGTH = 500
REFERRER_LENGTH = 1000
LINK_CACHE_MAX_ENTRIES = 20_000

# Automated clients: search and social crawlers, link previewers, monitors, headless browsers and HTTP
# libraries. Matched as lower-case substrings (a regex alternation of this size costs ~100x more per call).
BOT_MARKERS = (
    "crawl", "spider", "slurp", "scrap", "headless", "phantomjs", "selenium", "puppeteer", "playwright",
    "webdriver", "lighthouse", "pagespeed", "gtmetrix", "pingdom", "uptime", "monitor", "checker", "validator",
    "preview", "facebookexternalhit", "facebookcatalog", "whatsapp/", "embedly", "vkshare", "outbrain",
    "curl/", "wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp", "httpx/", "go-http-client",
    "java/", "okhttp", "apache-httpclient", "libwww", "lwp::", "http_request", "node-fetch", "axios/", "undici",
    "postmanruntime", "insomnia", "apachebench", "wrk/", "k6/", "locust", "jmeter", "httpie", "guzzlehttp",
    "ruby", "mechanize", "feedfetcher", "mediapartners",
)  # fmt: skip
# "bot" anywhere (Googlebot, AdsBot-Google, Twitterbot, robot) except in phone models such as "CUBOT".
_BOT_WORD = re.compile(r"(?<!cu)bot")
BOT_CACHE_SIZE = 4096


class CachedLink(NamedTuple):
    """What the redirect needs of a link, resolved once per process per TTL."""

    link_id: int
    affiliate_id: int
    brand_id: int
    billable: bool
    click_param: str
    base: str  # scheme://host/path, already a URI
    query: tuple[tuple[str, str], ...]  # (decoded key, raw "k=v" segment) of the landing URL's own query
    fragment: str  # "#…" or ""


_cache: dict[str, tuple[float, CachedLink | None]] = {}
_lock = threading.Lock()


_recent_clicks: dict[tuple[int, str], datetime] = {}
RECENT_CLICKS_MAX_ENTRIES = 100_000


def clicked_recently(link_id: int, ip: str, now: datetime, since: datetime) -> bool:
    """Whether this process saw `ip` click `link_id` at or after `since`; remembers this click either way.

    Repeats from one visitor usually reach the same worker (keep-alive, bursts of bots and refreshes):
    they are flagged here without asking the database. A repeat that reaches another process is still
    caught by the database probe in `click_record`.
    """
    key = (link_id, ip)
    last = _recent_clicks.get(key)
    if len(_recent_clicks) >= RECENT_CLICKS_MAX_ENTRIES:
        _recent_clicks.clear()
    _recent_clicks[key] = now
    return last is not None and since <= last <= now


def link_cache_forget(token: str | None = None) -> None:
    """Drop one token (or everything) from this process's cache."""
    with _lock:
        if token is None:
            _cache.clear()
            _recent_clicks.clear()
        else:
            _cache.pop(token, None)


def _split_landing(url: str) -> tuple[str, tuple[tuple[str, str], ...], str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host.isascii():
        # An internationalised host name goes out in its ASCII (punycode) form.
        try:
            ascii_host = host.encode("idna").decode()
        except UnicodeError:  # refused at creation; an older row is percent-encoded below instead
            ascii_host = None
        if ascii_host:
            netloc = parts.netloc.replace(parts.netloc.rpartition("@")[2].rsplit(":", 1)[0], ascii_host)
            url = urlunsplit(parts._replace(netloc=netloc))
    url = iri_to_uri(url)
    rest, hash_mark, fragment = url.partition("#")
    base, _, query = rest.partition("?")
    segments = tuple((unquote_plus(seg.partition("=")[0]), seg) for seg in query.split("&") if seg)
    return base, segments, hash_mark + fragment


def _load(token: str) -> CachedLink | None:
    row = (
        TrackingLink.objects.filter(token=token, is_active=True)
        .values_list("pk", "affiliate_id", "brand_id", "affiliate__status", "brand__click_param", "landing_url")
        .first()
    )
    if row is None:
        return None
    pk, affiliate_id, brand_id, status, click_param, landing_url = row
    base, query, fragment = _split_landing(landing_url)
    return CachedLink(
        pk, affiliate_id, brand_id, status == AffiliateStatus.ACTIVE, click_param or "click_id", base, query, fragment
    )


def link_for_token(token: str) -> CachedLink | None:
    """The active link for `token`, from this process's cache (TRACKING_LINK_CACHE_SECONDS), else the database.

    Unknown tokens are cached too (so garbage tokens cannot hammer the database); the cache is bounded.
    A disabled link, or a suspended affiliate, takes effect on every process within the TTL.
    """
    now = time.time()
    hit = _cache.get(token)
    if hit is not None and hit[0] > now:
        return hit[1]
    link = _load(token)
    ttl = setting("TRACKING_LINK_CACHE_SECONDS")
    if ttl:
        with _lock:
            if len(_cache) >= LINK_CACHE_MAX_ENTRIES:
                _cache.clear()
            _cache[token] = (now + ttl, link)
    return link


def clean_text(value: str, limit: int) -> str:
    """Control characters stripped (PostgreSQL refuses NUL), trimmed, at most `limit` characters."""
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    return value.strip()[:limit]


def _wsgi_text(value: str) -> str:
    """Unescaped non-ASCII bytes in a query string reach us as latin-1 text (PEP 3333): read them as UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:  # already real text (not from a WSGI server)
        return value


def sub_ids_from_query(query_string: str) -> tuple[str, str, str, str, str]:
    """sub1…sub5 from a raw query string: first occurrence wins, invalid UTF-8 replaced, cleaned, 255 max.

    Parsed by hand so that no query string, however long or malformed, can make the redirect fail
    (QueryDict refuses more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters).
    """
    found: dict[str, str] = {}
    if "sub" not in query_string:
        return ("", "", "", "", "")
    for segment in query_string.split("&"):
        key, _, value = segment.partition("=")
        if key not in SUB_KEYS:
            if "%" not in key and "+" not in key:
                continue
            key = unquote_plus(key, errors="replace")
            if key not in SUB_KEYS:
                continue
        if key in found:
            continue
        # Decode no more than a worst-case encoded 255-character value needs.
        value = value[: SUB_ID_LENGTH * 12]
        if not value.isascii():
            value = _wsgi_text(value)
        found[key] = clean_text(unquote_plus(value, errors="replace"), SUB_ID_LENGTH)
        if len(found) == 5:
            break
    return tuple(found.get(key, "") for key in SUB_KEYS)  # type: ignore[return-value]


def _valid_ip(value: str) -> str | None:
    # inet_pton is C-fast; ipaddress.ip_address costs ~20 µs, a noticeable share of a redirect.
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in value else socket.AF_INET, value)
    except (OSError, ValueError):
        return None
    return value


def client_ip(meta: dict) -> str | None:
    """REMOTE_ADDR, or the client entry of X-Forwarded-For when TRUSTED_PROXY says how many proxies add to it."""
    proxies = setting("TRUSTED_PROXY")
    raw = meta.get("REMOTE_ADDR", "")
    if proxies:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            raw = forwarded[-min(proxies, len(forwarded))]
    return _valid_ip(raw) if raw else None


_geoip_state: dict = {"path": None, "reader": None}


def _geoip():
    """The GeoIP2 reader for GEOIP_DB_PATH, opened once per process; None without a path or the package."""
    path = setting("GEOIP_DB_PATH")
    if path != _geoip_state["path"]:
        reader = None
        if path:
            try:
                import geoip2.database

                reader = geoip2.database.Reader(path)
            except Exception:  # optional: a missing package or unreadable file means no GeoIP lookups
                logger.warning("GeoIP database %s could not be opened; countries come from the header only", path)
        _geoip_state.update(path=path, reader=reader)
    return _geoip_state["reader"]


def _header_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


def visitor_country(meta: dict, ip: str | None) -> str:
    """ISO country from the configured header (e.g. CF-IPCountry), else a GeoIP2 database if configured."""
    header = setting("GEOIP_COUNTRY_HEADER")
    if header:
        value = meta.get(_header_key(header), "").strip().upper()
        # XX and T1 are Cloudflare's "unknown" and "Tor": not countries.
        if len(value) == 2 and value.isascii() and value.isalpha() and value != "XX":
            return value
    reader = _geoip() if ip else None
    if reader is not None:
        try:
            if "City" in reader.metadata().database_type:
                return reader.city(ip).country.iso_code or ""
            return reader.country(ip).country.iso_code or ""
        except Exception:  # an address not in the database, a private address: unknown country
            return ""
    return ""


@functools.lru_cache(maxsize=BOT_CACHE_SIZE)
def is_bot(user_agent: str) -> bool:
    """Empty or automated user agents. Cached: real traffic repeats a few thousand user agents."""
    low = user_agent.strip().lower()
    if not low or low.startswith("ab/"):
        return True
    if "bot" in low and _BOT_WORD.search(low):
        return True
    return any(marker in low for marker in BOT_MARKERS)


def target_url(link: CachedLink, click_id: str, subs: tuple[str, ...]) -> str:
    """The landing URL with click_param=<click id> and the non-empty sub ids appended.

    The landing URL's own query and fragment are kept; a landing parameter with the same name as one we
    append is replaced, so the landing page never sees two click ids.
    """
    added = [(link.click_param, click_id)]
    added.extend((key, value) for key, value in zip(SUB_KEYS, subs, strict=True) if value)
    names = {key for key, _ in added}
    parts = [raw for key, raw in link.query if key not in names]
    parts.extend(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in added)
    return f"{link.base}?{'&'.join(parts)}{link.fragment}"


def landing_url(link: CachedLink) -> str:
    """The landing URL as a URI, with nothing added."""
    query = "&".join(raw for _, raw in link.query)
    return f"{link.base}{'?' if query else ''}{query}{link.fragment}"
