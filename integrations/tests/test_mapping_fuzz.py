"""The mapping engine under arbitrary input (hypothesis): whatever the payload and whatever the mapping, it
answers with its own rejection (MappingError for a mapping, a MappingResult with errors for a payload) and
never raises anything else; and it never turns text that is not a number into an amount."""

import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.mapping import MappingError, MappingResult, compile_mapping
from integrations.presets import preset_mapping, preset_names

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# what an operator's number looks like: ASCII digits, an optional sign, point and exponent
NUMBER = re.compile(r"[ \t\r\n]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\r\n]*", re.ASCII)
CANONICAL = ["event_id", "type", "customer_id", "amount", "currency", "occurred_at", "status", "click_id",
             "ref_event_id", "country", "brand", "data.lots", "data", "affiliate_id", "sub1"]  # fmt: skip

TRICKY = ["deposit", "ftd", "registration", "EUR", "USD", "2026-11-01T10:00:00Z", "1700000000", "1e999",
          "NaN", "-Infinity", "1_000", "١٢٣", "0x10", "12,50", " 25 ", "qualified", "DE"]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(TRICKY),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.one_of(
    st.dictionaries(st.sampled_from(CANONICAL) | st.text(max_size=12), json_values, max_size=10),
    json_values,
)
field_specs = st.one_of(
    st.text(max_size=15),
    st.none(),
    st.fixed_dictionaries(
        {"path": st.text(max_size=10)},
        optional={
            "divide": scalars,
            "multiply": scalars,
            "format": st.sampled_from(["iso", "unix", "unix_ms", "%Y-%m-%d", "%", "%Q"]) | st.text(max_size=6),
            "default": scalars,
            "absolute": scalars,
        },
    ),
    json_values,
)
mappings = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "fields": st.dictionaries(st.sampled_from(CANONICAL) | st.text(max_size=8), field_specs, max_size=6),
            "event_types": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
            "statuses": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
            "defaults": st.dictionaries(st.sampled_from(CANONICAL) | st.text(max_size=8), json_values, max_size=4),
            "id_fields": json_values,
            "timezone": st.sampled_from(["UTC", "Europe/Malta", "Mars/Olympus", ""]) | json_values,
            "type_fields": json_values,
        },
    ),
    json_values,
)


def _map(mapping, payload) -> MappingResult | None:
    try:
        mapper = compile_mapping(mapping)
    except MappingError as exc:
        assert exc.errors and all(isinstance(e, str) for e in exc.errors)
        return None
    result = mapper.map(payload)
    assert isinstance(result, MappingResult)
    assert result.ok == (result.canonical is not None) or result.ignored
    if not result.ok:
        assert all(problem.code and problem.message for problem in result.errors)
    return result


@FUZZ
@given(mapping=mappings, payload=payloads)
def test_any_mapping_and_payload_end_in_the_engines_own_answer(mapping, payload):
    result = _map(mapping, payload)
    if result is not None and result.ok and "amount" in result.canonical:
        amount = result.canonical["amount"]  # canonical events carry amounts as decimal text
        assert isinstance(amount, str) and NUMBER.fullmatch(amount) and Decimal(amount).is_finite()


@pytest.mark.parametrize("preset", preset_names())
@FUZZ
@given(payload=payloads)
def test_every_preset_answers_any_payload_with_an_event_or_its_reasons(preset, payload):
    _map(preset_mapping(preset), payload)


@FUZZ
@given(garbage=st.one_of(st.text(max_size=20), st.sampled_from(["1_000", "١٢٣", "0x10", "12,50", "NaN", "1e999", "∞"])))
def test_text_that_is_not_a_number_never_becomes_an_amount(garbage):
    payload = {"type": "deposit", "event_id": "D-1", "customer_id": "P-1", "amount": garbage, "currency": "EUR"}
    result = compile_mapping({}).map(payload)
    if NUMBER.fullmatch(garbage) is None:
        assert not result.ok
        assert "amount" in {problem.field for problem in result.errors}
    elif result.ok:
        assert Decimal(result.canonical["amount"]) == Decimal(garbage.strip())


@FUZZ
@given(amount=st.decimals(min_value="-999999999999.99", max_value="999999999999.99", allow_nan=False, places=2))
def test_a_number_is_read_exactly_as_sent(amount):
    payload = {"type": "revenue", "event_id": "R-1", "customer_id": "P-1", "amount": str(amount), "currency": "EUR"}
    result = compile_mapping({}).map(payload)
    assert result.ok, result.reason_detail
    assert Decimal(result.canonical["amount"]) == amount
