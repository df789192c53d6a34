"""The SSRF guard: which targets are refused, at save time and at delivery time after DNS resolution."""

import socket
from unittest import mock

import pytest

from integrations.webhooks.ssrf import UnsafeTarget, check_url_at_save, resolve_target
from integrations.webhooks.transport import http_send


def fake_dns(*addresses):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return mock.patch("socket.getaddrinfo", side_effect=getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost.:8080/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://[::1]/",
        "http://[fd12:3456::1]/",  # IPv6 unique-local
        "http://0177.0.0.1/",  # octal spelling does not slip through: it is not an address, and does not resolve
    ],
)
def test_private_and_loopback_targets_are_refused_by_default(url):
    with fake_dns("127.0.0.1"), pytest.raises(UnsafeTarget):
        resolve_target(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # AWS, GCP, Azure metadata
        "http://[fd00:ec2::254]/",  # AWS IPv6 metadata
        "http://100.100.100.200/",  # Alibaba metadata
        "http://169.254.10.10/",  # link-local
        "http://[fe80::1]/",
        "http://224.0.0.1/",  # multicast
        "http://[ff02::1]/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
        "http://[::ffff:8.8.8.8]/",
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://240.0.0.1/",  # reserved
    ],
)
def test_link_local_metadata_multicast_and_mapped_targets_are_refused_even_when_private_is_allowed(url):
    with pytest.raises(UnsafeTarget):
        resolve_target(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)", "http:///nohost",
     "https://user:pass@example.com/", "http://example.com:99999/"],
)  # fmt: skip
def test_non_http_schemes_credentials_and_malformed_urls_are_refused(url):
    with pytest.raises(UnsafeTarget):
        check_url_at_save(url, allow_private=True)


def test_private_targets_are_allowed_when_the_development_setting_says_so():
    target = resolve_target("http://127.0.0.1:8070/hook?a=B", allow_private=True)

    assert (target.ip, target.port, target.path) == ("127.0.0.1", 8070, "/hook?a=B")
    assert target.host_header == "127.0.0.1:8070"


def test_public_name_is_resolved_once_and_the_checked_address_is_used():
    with fake_dns("93.184.215.14") as dns:
        target = resolve_target("https://hooks.example.com/in", allow_private=False)

    assert dns.call_count == 1
    assert (target.host, target.ip, target.port, target.host_header) == (
        "hooks.example.com",
        "93.184.215.14",
        443,
        "hooks.example.com",
    )


def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery_time():
    with fake_dns("10.0.0.7"), pytest.raises(UnsafeTarget, match=r"10\.0\.0\.7"):
        resolve_target("https://rebind.example.com/", allow_private=False)


def test_a_name_with_one_public_and_one_private_address_is_refused():
    with fake_dns("93.184.215.14", "192.168.0.10"), pytest.raises(UnsafeTarget):
        resolve_target("https://mixed.example.com/", allow_private=False)


def test_save_time_check_accepts_a_name_that_does_not_resolve_yet_and_refuses_a_private_one():
    with mock.patch("socket.getaddrinfo", side_effect=socket.gaierror("no such host")):
        check_url_at_save("https://not-yet.example.com/hook", allow_private=False)
    with fake_dns("127.0.0.1"), pytest.raises(UnsafeTarget):
        check_url_at_save("https://internal.example.com/hook", allow_private=False)


def test_refused_target_is_never_connected_to():
    with fake_dns("169.254.169.254"), mock.patch("socket.create_connection") as connect:
        result = http_send(
            method="GET", url="http://metadata.example.com/", headers={}, body=None, timeout=1, max_bytes=100
        )

    connect.assert_not_called()
    assert result.refused
    assert "metadata" in result.error


def test_connection_goes_to_the_checked_address_with_the_original_host_header(receiver):
    with fake_dns("127.0.0.1"):
        result = http_send(
            method="GET",
            url=f"http://tracker.example.com:{receiver.port}/pb?cid=AbC",
            headers={},
            body=None,
            timeout=2,
            max_bytes=100,
            allow_private=True,
        )

    assert result.status == 200
    request = receiver.requests[0]
    assert request.headers["host"] == f"tracker.example.com:{receiver.port}"
    assert request.path == "/pb?cid=AbC"


def test_https_verifies_the_certificate_against_the_host_name_not_the_address():
    from integrations.webhooks.transport import _PinnedHTTPSConnection, _tls_context

    conn = _PinnedHTTPSConnection(
        "93.184.215.14", 443, server_hostname="hooks.example.com", timeout=1, context=_tls_context
    )
    sock = mock.MagicMock()
    with (
        mock.patch("socket.create_connection", return_value=sock) as connect,
        mock.patch.object(_tls_context, "wrap_socket") as wrap,
    ):
        conn.connect()

    connect.assert_called_once_with(("93.184.215.14", 443), 1)
    wrap.assert_called_once_with(sock, server_hostname="hooks.example.com")
    assert _tls_context.check_hostname


def _get(url):
    return http_send(method="GET", url=url, headers={}, body=None, timeout=2, max_bytes=100, allow_private=True)


def test_a_connection_is_kept_alive_for_the_next_request_to_the_same_checked_address(receiver):
    first, second = _get(receiver.url("/a")), _get(receiver.url("/b"))

    assert (first.status, second.status) == (200, 200)
    assert receiver.requests[0].client_port == receiver.requests[1].client_port


def test_a_kept_connection_the_receiver_dropped_is_replaced_and_the_request_sent_once(receiver):
    receiver.script = ["ok-then-drop", 200]

    first, second = _get(receiver.url("/a")), _get(receiver.url("/b"))

    assert (first.status, second.status) == (200, 200)
    assert [r.path for r in receiver.requests] == ["/a", "/b"]
    assert receiver.requests[0].client_port != receiver.requests[1].client_port
