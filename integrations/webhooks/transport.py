"""The outgoing HTTP client: one request to a target checked by the SSRF guard.

It connects to the checked address (no second DNS lookup), sends the URL's host as the Host header and TLS
server name (so certificates are verified against the name), never follows redirects, gives the whole exchange
a deadline, and reads at most a capped number of bytes of the answer. A connection whose answer was read
whole is kept alive for the next request to the same checked address from the same delivery thread.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .ssrf import Target, UnsafeTarget, resolve_target

USER_AGENT = "AffiliatePlatform-Webhooks/1.0"
_READ_CHUNK = 16 * 1024


@dataclass
class HttpResult:
    """What came back: a status and the first bytes of the body, or the error that stopped the exchange."""

    status: int | None
    body: bytes
    error: str
    latency_ms: int
    refused: bool = False  # the SSRF guard refused the target: nothing was sent

    @property
    def network_error(self) -> bool:
        return self.status is None and not self.refused


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP address, with SNI and certificate checks against the original host name."""

    def __init__(self, ip: str, port: int, *, server_hostname: str, timeout: float, context: ssl.SSLContext):
        super().__init__(ip, port, timeout=timeout, context=context)
        self._server_hostname = server_hostname

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_hostname)


_tls_context = ssl.create_default_context()

# Kept-alive connections, per delivery thread, keyed by the checked address and the host name: a connection is
# reused only for the same checked IP, so keeping it alive never skips the SSRF check.
KEEP_ALIVE_SECONDS = 15.0
KEEP_ALIVE_PER_THREAD = 8
_kept = threading.local()
_kept_all: set = set()
_kept_lock = threading.Lock()


def close_kept_connections() -> None:
    """Close every kept-alive connection of every thread (a worker shutting down, a test ending)."""
    with _kept_lock:
        connections = list(_kept_all)
        _kept_all.clear()
    for conn in connections:
        conn.close()


def _pooled(key: tuple, timeout: float) -> http.client.HTTPConnection | None:
    pool = getattr(_kept, "pool", None)
    entry = pool.pop(key, None) if pool else None
    if entry is None:
        return None
    conn, since = entry
    with _kept_lock:
        _kept_all.discard(conn)
    if time.monotonic() - since > KEEP_ALIVE_SECONDS or conn.sock is None:
        conn.close()
        return None
    conn.timeout = timeout
    conn.sock.settimeout(timeout)
    return conn


def _release(key: tuple, conn: http.client.HTTPConnection) -> None:
    pool = getattr(_kept, "pool", None)
    if pool is None:
        pool = _kept.pool = {}
    while len(pool) >= KEEP_ALIVE_PER_THREAD:
        oldest = min(pool, key=lambda k: pool[k][1])
        stale = pool.pop(oldest)[0]
        with _kept_lock:
            _kept_all.discard(stale)
        stale.close()
    pool[key] = (conn, time.monotonic())
    with _kept_lock:
        _kept_all.add(conn)


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(
            target.ip, target.port, server_hostname=target.host, timeout=timeout, context=_tls_context
        )
    return http.client.HTTPConnection(target.ip, target.port, timeout=timeout)


def http_send(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    max_bytes: int,
    allow_private: bool | None = None,
) -> HttpResult:
    """Send one request to `url` and return what came back; never raises for network trouble."""
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve_target(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        return HttpResult(status=None, body=b"", error=f"refused: {exc}"[:500], latency_ms=elapsed_ms(), refused=True)
    deadline = started + timeout
    key = (target.scheme, target.ip, target.port, target.host)
    conn = _pooled(key, timeout)
    reused, keep = conn is not None, False
    if conn is None:
        conn = _connection(target, timeout)
    request_headers = {"Host": target.host_header, "User-Agent": USER_AGENT, **headers}
    try:
        try:
            conn.request(method, target.path, body=body, headers=request_headers)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            # A kept-alive connection the receiver closed meanwhile: once more, on a new connection.
            conn.close()
            conn = _connection(target, timeout)
            conn.request(method, target.path, body=body, headers=request_headers)
            response = conn.getresponse()
        chunks, size = [], 0
        while size < max_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the answer took longer than the deadline")
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = response.read(min(_READ_CHUNK, max_bytes - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the deadline")
        # Keep the connection only when the whole answer was read and the receiver allows it.
        keep = response.isclosed() and not response.will_close
        return HttpResult(status=response.status, body=b"".join(chunks), error="", latency_ms=elapsed_ms())
    except TimeoutError:
        return HttpResult(status=None, body=b"", error=f"timeout after {timeout:g} s", latency_ms=elapsed_ms())
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return HttpResult(status=None, body=b"", error=message[:500], latency_ms=elapsed_ms())
    finally:
        if keep:
            _release(key, conn)
        else:
            conn.close()
