"""Standard Webhooks signatures, checked by the reference library."""

import base64
import json

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from integrations.webhooks.signing import secret_generate, sign, signature_header, webhook_body


def headers(message_id: str, timestamp: int, signature: str) -> dict:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_secret_is_whsec_and_base64_of_32_bytes():
    secret = secret_generate()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != secret_generate()


def test_signature_is_verified_by_the_standardwebhooks_library():
    import time

    secret, now = secret_generate(), int(time.time())
    body = webhook_body(type="commission.approved", timestamp="2026-11-28T10:00:00+00:00", data={"amount": "200.00"})

    signature = sign(secret=secret, message_id="msg_1", timestamp=now, body=body)

    assert Webhook(secret).verify(body, headers("msg_1", now, signature)) == {
        "type": "commission.approved",
        "timestamp": "2026-11-28T10:00:00+00:00",
        "data": {"amount": "200.00"},
    }


def test_a_changed_body_fails_verification():
    import time

    secret, now = secret_generate(), int(time.time())
    signature = sign(secret=secret, message_id="msg_1", timestamp=now, body=b'{"a":1}')

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers("msg_1", now, signature))


def test_known_vector_matches_the_specification():
    # HMAC-SHA256 over "id.timestamp.body" with the base64-decoded secret, base64-encoded, prefixed "v1,".
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"k" * 32, b"msg_x.1700000000.{}", hashlib.sha256).digest()).decode()

    assert sign(secret=secret, message_id="msg_x", timestamp=1700000000, body=b"{}") == f"v1,{expected}"


def test_header_carries_one_signature_per_secret_and_either_secret_verifies():
    import time

    old, new, now = secret_generate(), secret_generate(), int(time.time())
    body = webhook_body(type="alert.raised", timestamp="2026-11-28T10:00:00+00:00", data={})

    value = signature_header(secrets_=[new, old], message_id="msg_2", timestamp=now, body=body)

    assert value.count("v1,") == 2
    assert Webhook(new).verify(body, headers("msg_2", now, value))
    assert Webhook(old).verify(body, headers("msg_2", now, value))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers("msg_2", now, value))


def test_body_is_compact_json_with_type_timestamp_and_data():
    body = webhook_body(type="payout.paid", timestamp="2026-11-28T10:00:00+00:00", data={"amount": "1.10"})

    assert body == b'{"type":"payout.paid","timestamp":"2026-11-28T10:00:00+00:00","data":{"amount":"1.10"}}'
    assert json.loads(body)["data"]["amount"] == "1.10"
