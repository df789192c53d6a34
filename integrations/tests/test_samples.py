"""The four operator dialects in /work/shared/samples map exactly to their expected canonical events.

Each sample is fed through the real endpoints (postbacks as GET query strings, JSON rows to the events
API, one request per line, in order) with a source on the shipped preset. For every line the expected
file says what it must become: a canonical event (compared exactly with what the mapping produced, a
referring event showing the event it resolved to), a duplicate of an earlier line (answered with that
line's id), or a rejection with its reason.
"""

import json
from decimal import Decimal

import pytest

from integrations.models import InboundEvent, InboundStatus
from integrations.presets import SAMPLES_DIR as SAMPLES
from tracking.models import ConversionEvent

pytestmark = pytest.mark.django_db


def _send_query_lines(source, client, name):
    answers = []
    for line in (SAMPLES / name).read_text().split():
        response = client.get(f"/postback/{source.slug}/?{line}")
        answers.append(response)
    return answers


def _json_rows(name) -> list[str]:
    """Each row's own text (the files hold one object per line), so numbers arrive as the operator wrote them."""
    rows = [line.strip().rstrip(",") for line in (SAMPLES / name).read_text().splitlines()]
    rows = [row for row in rows if row.startswith("{")]
    assert len(rows) == len(json.loads((SAMPLES / name).read_text()))
    return rows


def _send_json_rows(client, name):
    return [client.post("/api/v1/events", row, content_type="application/json") for row in _json_rows(name)]


def _answer(response) -> tuple[str, str]:
    body = response.json()
    if "results" in body:
        [result] = body["results"]
        return result["status"], result["id"]
    if response.status_code == 400:
        return "rejected", body["id"]
    return body["status"], body["id"]


def _assert_matches_expected(answers, expected, source):
    assert len(answers) == len(expected)
    for index, (response, want) in enumerate(zip(answers, expected, strict=True)):
        status, inbound_id = _answer(response)
        inbound = InboundEvent.objects.get(pk=int(inbound_id))
        if "_duplicate_of" in want:
            _, original_id = _answer(answers[want["_duplicate_of"]])
            assert (status, inbound_id) == ("duplicate", original_id), f"line {index}"
            assert response.status_code in (200, 202)
            assert InboundEvent.objects.filter(source=source, duplicate_of_id=int(original_id)).count() == 1
        elif "_reject" in want:
            assert status == "rejected", f"line {index}: {response.json()}"
            assert inbound.status == InboundStatus.REJECTED
            assert inbound.reason_detail == want["_reject"]
        else:
            assert status == "accepted", f"line {index}: {response.json()}"
            assert inbound.status == InboundStatus.PROCESSED, f"line {index}: {inbound.reason_detail}"
            assert inbound.canonical == want, f"line {index}"
            assert ConversionEvent.objects.filter(inbound=inbound).count() == 1


def test_casino_postbacks_map_to_expected_events(source_client):
    # given a source on the casino preset
    source, client = source_client(preset="casino_postbacks")
    # when the sample postbacks arrive as GET query strings
    answers = _send_query_lines(source, client, "casino_postbacks.txt")
    # then each line became what the expected file says
    _assert_matches_expected(answers, json.loads((SAMPLES / "casino_postbacks.expected.json").read_text()), source)
    ftd = ConversionEvent.objects.get(source=source, external_id="D-5001")
    assert ftd.status == "qualified"  # the status update was applied
    assert ftd.amount == Decimal("50.00") and ftd.amount_base == Decimal("50.00") and ftd.fx_rate == Decimal(1)
    assert ConversionEvent.objects.filter(source=source).count() == 5


def test_mt5_deals_map_to_expected_events(source_client, fx_rates):
    source, client = source_client(preset="mt5_deals")
    answers = _send_json_rows(client, "mt5_deals.json")
    _assert_matches_expected(answers, json.loads((SAMPLES / "mt5_deals.expected.json").read_text()), source)
    trade = ConversionEvent.objects.get(source=source, external_id="880002")
    assert trade.data == {"lots": "2.5", "instrument": "EURUSD"}
    assert trade.amount_base == Decimal("4.50")  # 5.00 USD at 0.90


def test_prop_shop_webhooks_map_to_expected_events(source_client, fx_rates):
    source, client = source_client(preset="prop_shop_webhooks")
    answers = _send_json_rows(client, "prop_shop_webhooks.json")
    _assert_matches_expected(answers, json.loads((SAMPLES / "prop_shop_webhooks.expected.json").read_text()), source)
    reset = ConversionEvent.objects.get(source=source, external_id="evt_05")
    refund = ConversionEvent.objects.get(source=source, external_id="evt_06")
    assert refund.ref_event == reset and refund.applied_at is not None
    assert reset.status == "rejected"  # refunded in full
    assert ConversionEvent.objects.get(source=source, external_id="evt_02").status == "qualified"


def test_crm_events_map_to_expected_events(source_client, fx_rates):
    source, client = source_client(preset="crm_events")
    answers = _send_json_rows(client, "crm_events.json")
    _assert_matches_expected(answers, json.loads((SAMPLES / "crm_events.expected.json").read_text()), source)
    assert ConversionEvent.objects.get(source=source, external_id="T-992").status == "rejected"
    assert ConversionEvent.objects.get(source=source, external_id="T-991").amount_base == Decimal("300.00")
