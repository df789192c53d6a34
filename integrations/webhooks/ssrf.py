"""The SSRF guard for every outgoing target (webhook endpoints and partner postbacks).

A URL is checked when it is saved and again at delivery time, after DNS resolution: the connection then goes
to the address that was checked, so a rebinding name cannot pass the check and connect elsewhere.
Loopback, private, carrier-grade NAT and IPv6 unique-local addresses are refused unless
`WEBHOOKS_ALLOW_PRIVATE_TARGETS` is set (development and tests); link-local, cloud metadata, multicast,
unspecified, reserved, IPv4-mapped and other translated IPv6 addresses are refused always.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

CGNAT = ipaddress.ip_network("100.64.0.0/10")
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
# Cloud metadata services outside link-local space (Alibaba, Oracle); AWS IPv6 IMDS sits in ULA space.
METADATA = (
    ipaddress.ip_network("100.100.100.200/32"),
    ipaddress.ip_network("192.0.0.192/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
TRANSLATED_V6 = (
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("2002::/16"),  # 6to4
    ipaddress.ip_network("2001::/32"),  # Teredo
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated)
)


class UnsafeTarget(Exception):
    """The target is not allowed (scheme, host or resolved address)."""


@dataclass(frozen=True)
class Target:
    """A checked target: connect to `ip`, and send `host` as the Host header and TLS server name."""

    scheme: str
    host: str
    port: int
    ip: str
    path: str  # path and query, as given

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _allow_private(allow_private: bool | None) -> bool:
    return settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS if allow_private is None else allow_private


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> str | None:
    """Why this address is refused, or None when it may be connected to."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "IPv4-mapped IPv6 addresses are not allowed"
        if any(ip in net for net in TRANSLATED_V6):
            return "IPv6 addresses that embed an IPv4 address are not allowed"
    if any(ip in net for net in METADATA):
        return "cloud metadata addresses are not allowed"
    if ip.is_link_local:
        return "link-local addresses are not allowed"
    if ip.is_multicast:
        return "multicast addresses are not allowed"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in THIS_NETWORK):
        return "unspecified addresses are not allowed"
    if ip.is_reserved and not ip.is_loopback:
        return "reserved addresses are not allowed"
    private = ip.is_loopback or ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT)
    if private:
        return None if allow_private else "loopback and private network addresses are not allowed"
    if not ip.is_global:
        return "addresses that are not globally reachable are not allowed"
    return None


def parse_target_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path+query) of an absolute http(s) URL, or UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeTarget("only http and https URLs are allowed")
    if parts.username or parts.password:
        raise UnsafeTarget("credentials in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("the URL has no host")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or DEFAULT_PORTS[scheme], path


def resolve_target(url: str, *, allow_private: bool | None = None) -> Target:
    """Check `url` and resolve its host once. Every resolved address must be allowed (a name that mixes a
    public and a private address is refused), and the first one is the one to connect to."""
    scheme, host, port, path = parse_target_url(url)
    allow = _allow_private(allow_private)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeTarget(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses:
            raise UnsafeTarget(f"{host} has no addresses")
    for address in addresses:
        reason = address_refusal(address, allow_private=allow)
        if reason:
            raise UnsafeTarget(f"{host} resolves to {address}: {reason}")
    return Target(scheme=scheme, host=host, port=port, ip=str(addresses[0]), path=path)


def check_url_at_save(url: str, *, allow_private: bool | None = None) -> None:
    """The save-time check: scheme, host, and (when the name resolves now) its addresses. A name that does
    not resolve yet is accepted here and checked again at every delivery."""
    parse_target_url(url)
    try:
        resolve_target(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        if "cannot resolve" in str(exc):
            return
        raise
