"""POST /api/v1/events with {"events": [1000 events]}: events stored per second (issue 4: at least 10,000/s)."""

import json

from bench.spec import UID, RequestSpec
from core.keys import api_key_create
from integrations.models import InboundEvent

from ._programme import tracking_link
from .postback import source

DESCRIPTION = "events API, batches of 1000, unique event ids across requests"
BATCH = 1000
# Registration, FTD and a deposit per customer: the mix an operator's CRM sends.
_CYCLE = (("registration", None), ("ftd", "50.00"), ("deposit", "25.00"))


def batch_body(size: int = BATCH, *, token: str = "") -> str:
    """A batch whose event and customer ids all carry the per-request placeholder."""
    events = []
    for i in range(size):
        kind, amount = _CYCLE[i % len(_CYCLE)]
        event = {
            "event_id": f"{UID}-{i}",
            "type": kind,
            "customer_id": f"c-{UID}-{i // len(_CYCLE)}",
            "occurred_at": "2026-11-28T10:00:00+00:00",
        }
        if amount:
            event.update(amount=amount, currency="EUR")
        if token and kind == "registration":
            event["tracking_token"] = token
        events.append(event)
    return json.dumps({"events": events}, separators=(",", ":"))


def setup() -> RequestSpec:
    src = source()
    _, key = api_key_create(name="bench events", scope="source", source=src)
    return RequestSpec(
        path="/api/v1/events",
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        body=batch_body(token=tracking_link().token),
        expect_status=(202,),
        units_per_request=BATCH,
        unit="events",
        unit_pattern='"status"%s*:%s*"accepted"',
        count_stored=InboundEvent.objects.filter(source=src).count,
        target_units_per_s=10_000,
        # One batch in flight per gunicorn process: a batch is CPU-heavy, more would only queue.
        connections=4,
        note="units/s counts events answered 'accepted' inside the 202 bodies",
    )
