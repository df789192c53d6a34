"""Standard Webhooks signing (https://www.standardwebhooks.com/): secrets `whsec_<base64>`, and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, several signatures space-separated."""

import base64
import hashlib
import hmac
import json
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` for `body` sent as message `message_id` at `timestamp` (Unix seconds)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(*, secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per valid secret (new first, then the previous one
    during a rotation), so a receiver holding either verifies the message."""
    return " ".join(sign(secret=s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_)


def webhook_body(*, type: str, timestamp: str, data: dict) -> bytes:
    """The body `{"type", "timestamp", "data"}` as compact UTF-8 JSON; the same bytes on every attempt."""
    return json.dumps(
        {"type": type, "timestamp": timestamp, "data": data}, separators=(",", ":"), ensure_ascii=False
    ).encode()
