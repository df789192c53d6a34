"""The mapping engine, rule by rule (CONTRACT.md "Mapping"), with the expected values written by hand."""

from decimal import Decimal

import pytest
import time_machine

from integrations.mapping import MappingError, compile_mapping

NOW = "2026-11-28T12:00:00+00:00"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def mapped(mapping: dict, payload: dict) -> dict:
    result = compile_mapping(mapping).map(payload)
    assert result.ok, result.reason_detail
    return result.canonical


def rejected(mapping: dict, payload: dict) -> tuple[str, str]:
    result = compile_mapping(mapping).map(payload)
    assert not result.ok, result.canonical
    return result.reason_code, result.reason_detail


DEPOSIT = {"type": "deposit", "event_id": "D1", "customer_id": "C1", "amount": "10.00", "currency": "EUR",
           "occurred_at": "2026-11-01T10:00:00Z"}  # fmt: skip


class TestFields:
    def test_default_mapping_reads_canonical_names(self):
        assert mapped({}, DEPOSIT) == {
            "type": "deposit", "event_id": "D1", "customer_id": "C1", "amount": "10.00", "currency": "EUR",
            "occurred_at": "2026-11-01T10:00:00+00:00", "status": "qualified",
        }  # fmt: skip

    @pytest.mark.parametrize(
        ("alias", "canonical"),
        [("first_deposit", "ftd"), ("initial_fund", "ftd"), ("signup", "registration"), ("lead", "registration"),
         ("ngr", "revenue"), ("FTD", "ftd")],
    )  # fmt: skip
    def test_default_aliases(self, alias, canonical):
        assert mapped({}, {**DEPOSIT, "type": alias})["type"] == canonical

    def test_dotted_paths_read_nested_json_and_list_items(self):
        mapping = {"fields": {"type": "t", "event_id": "a.b.id", "customer_id": "a.items.0.who",
                              "amount": "money.v", "currency": "money.c"}}  # fmt: skip
        payload = {"t": "deposit", "a": {"b": {"id": 7}, "items": [{"who": "C9"}]}, "money": {"v": "1.5", "c": "USD"}}
        out = mapped(mapping, payload)
        assert (out["event_id"], out["customer_id"], out["amount"]) == ("7", "C9", "1.50")

    def test_a_parameter_name_with_dots_is_read_as_is(self):
        out = mapped({"fields": {"type": "t", "customer_id": "user.id"}}, {"t": "signup", "user.id": "U1"})
        assert out["customer_id"] == "U1"

    @pytest.mark.parametrize(
        ("spec", "raw", "expected"),
        [
            ({"path": "amt", "divide": 100}, "5000", "50.00"),
            ({"path": "amt", "divide": 100}, "-1250", None),
            ({"path": "amt", "multiply": -1}, "-5.00", "5.00"),
            ({"path": "amt", "abs": True}, "-200.00", "200.00"),
            ({"path": ["missing", "amt"]}, "7", "7.00"),
            ({"path": "nothing", "default": "3"}, None, "3.00"),
        ],
    )
    def test_amount_options(self, spec, raw, expected):
        mapping = {"fields": {"type": "t", "event_id": "id", "customer_id": "c", "amount": spec, "currency": "cur"}}
        payload = {"t": "deposit", "id": "1", "c": "C", "cur": "EUR", **({"amt": raw} if raw is not None else {})}
        if expected is None:
            assert rejected(mapping, payload) == ("invalid_amount", "amount: -12.5 must not be negative for deposit")
        else:
            assert mapped(mapping, payload)["amount"] == expected

    def test_revenue_may_be_negative(self):
        assert mapped({}, {**DEPOSIT, "type": "revenue", "amount": "-12.50"})["amount"] == "-12.50"

    @pytest.mark.parametrize(
        ("spec", "raw", "expected"),
        [
            ({"path": "ts", "format": "unix"}, 1761991200, "2025-11-01T10:00:00+00:00"),
            ({"path": "ts", "format": "unix"}, "1761991200", "2025-11-01T10:00:00+00:00"),
            ({"path": "ts", "format": "unix_ms"}, 1761991200500, "2025-11-01T10:00:00.500000+00:00"),
            ({"path": "ts", "format": "iso"}, "2026-11-01T12:00:00+02:00", "2026-11-01T10:00:00+00:00"),
            ("ts", "2026-11-01T10:00:00Z", "2026-11-01T10:00:00+00:00"),
            ({"path": "ts", "format": "%d/%m/%Y %H:%M"}, "24/11/2026 10:00", "2026-11-24T08:00:00+00:00"),
            ("ts", "2026-07-01 10:00", "2026-07-01T07:00:00+00:00"),  # summer: UTC+3 in Nicosia
        ],
    )
    def test_dates_and_the_time_zone_for_times_without_offset(self, spec, raw, expected):
        mapping = {"fields": {"type": "t", "customer_id": "c", "occurred_at": spec}, "timezone": "Asia/Nicosia"}
        assert mapped(mapping, {"t": "signup", "c": "C", "ts": raw})["occurred_at"] == expected

    def test_an_event_without_a_time_happened_when_received(self):
        from datetime import UTC, datetime

        mapper = compile_mapping({})
        result = mapper.map({"type": "signup", "customer_id": "C"}, received_at=datetime(2026, 11, 2, tzinfo=UTC))
        assert result.canonical["occurred_at"] == "2026-11-02T00:00:00+00:00"

    def test_statuses_map_case_insensitively_and_canonical_values_pass(self):
        mapping = {"statuses": {"approved": "qualified", "declined": "rejected"}}
        assert mapped(mapping, {**DEPOSIT, "status": "Approved"})["status"] == "qualified"
        assert mapped(mapping, {**DEPOSIT, "status": "declined"})["status"] == "rejected"
        assert mapped(mapping, {**DEPOSIT, "status": "pending"})["status"] == "pending"
        assert rejected(mapping, {**DEPOSIT, "status": "maybe"}) == ("unknown_status", "status: unknown status 'maybe'")

    def test_defaults_fill_what_the_payload_lacks(self):
        payload = {k: v for k, v in DEPOSIT.items() if k != "currency"}
        assert mapped({"defaults": {"currency": "EUR"}}, payload)["currency"] == "EUR"

    def test_data_fields_are_text_and_divided(self):
        mapping = {"fields": {"type": "t", "event_id": "id", "customer_id": "c", "amount": "a", "currency": "cur",
                              "data.lots": {"path": "Volume", "divide": 10000}, "data.instrument": "sym"}}  # fmt: skip
        out = mapped(mapping, {"t": "trade", "id": "1", "c": "C", "a": "5", "cur": "USD", "Volume": 25000, "sym": "X"})
        assert out["data"] == {"lots": "2.5", "instrument": "X"}

    def test_regex_extracts_a_value_from_text(self):
        mapping = {"fields": {"type": "t", "customer_id": "c", "click_id": {"path": "Comment", "regex": "ib=(\\w+)"}}}
        assert mapped(mapping, {"t": "signup", "c": "C", "Comment": "via ib=CLICK1 x"})["click_id"] == "CLICK1"
        assert "click_id" not in mapped(mapping, {"t": "signup", "c": "C", "Comment": "organic"})

    def test_id_fields_derive_an_event_id_where_the_source_sends_none(self):
        mapper = compile_mapping({"fields": {"type": "a", "customer_id": "p", "occurred_at": "ts"},
                                  "id_fields": ["a", "p", "ts"]})  # fmt: skip
        first = mapper.map({"a": "signup", "p": "P1", "ts": "2026-11-01T10:00:00Z"})
        again = mapper.map({"a": "signup", "p": "P1", "ts": "2026-11-01T10:00:00Z"})
        other = mapper.map({"a": "signup", "p": "P2", "ts": "2026-11-01T10:00:00Z"})
        assert first.external_id == again.external_id == "~signup|P1|2026-11-01T10:00:00Z"
        assert other.external_id != first.external_id
        assert "event_id" not in first.canonical

    def test_a_money_event_without_id_or_id_fields_is_rejected(self):
        payload = {k: v for k, v in DEPOSIT.items() if k != "event_id"}
        assert rejected({}, payload) == ("missing_field", "event_id: is required for money events")


class TestConditionalTypes:
    PROP = {
        "fields": {"type": "type", "event_id": "id", "customer_id": "c", "amount": "total", "currency": "cur"},
        "event_types": {"order.paid": {"field": "product", "cases": [
            {"prefix": "challenge-", "type": "challenge_purchase"}, {"prefix": "reset-", "type": "reset_fee"}]}},
    }  # fmt: skip

    @pytest.mark.parametrize(
        ("product", "expected"), [("challenge-100k", "challenge_purchase"), ("reset-50k", "reset_fee")]
    )
    def test_one_source_type_becomes_two_canonical_types_by_a_second_field(self, product, expected):
        payload = {"type": "order.paid", "id": "1", "c": "C", "total": "99", "cur": "USD", "product": product}
        assert mapped(self.PROP, payload)["type"] == expected

    def test_no_matching_case_is_an_unknown_type(self):
        payload = {"type": "order.paid", "id": "1", "c": "C", "total": "99", "cur": "USD", "product": "gift-card"}
        code, detail = rejected(self.PROP, payload)
        assert code == "unknown_event_type"
        assert detail == "type: unknown event type 'order.paid' (product = 'gift-card' matches no case)"

    @pytest.mark.parametrize(("profit", "expected"), [("1000.00", "deposit"), ("-200.00", "withdrawal")])
    def test_numeric_cases_split_by_sign(self, profit, expected):
        mapping = {
            "fields": {"type": "Action", "event_id": "Deal", "customer_id": "Login",
                       "amount": {"path": "Profit", "abs": True}, "currency": "Currency"},
            "event_types": {"2": {"field": "Profit", "cases": [{"gt": 0, "type": "deposit"},
                                                               {"lt": 0, "type": "withdrawal"}]}},
        }  # fmt: skip
        payload = {"Action": 2, "Deal": 1, "Login": 5, "Profit": Decimal(profit), "Currency": "USD"}
        out = mapped(mapping, payload)
        assert (out["type"], out["amount"]) == (expected, format(abs(Decimal(profit)), "f"))

    def test_ignored_types_are_known_but_make_no_event(self):
        result = compile_mapping({"fields": {"type": "Action"}, "event_types": {"3": "ignore"}}).map({"Action": 3})
        assert result.ok and result.ignored

    def test_type_fields_replace_or_remove_fields_per_type(self):
        mapping = {
            "fields": {"type": "action", "event_id": "dep_id", "status": "state", "occurred_at": "ts"},
            "type_fields": {"status_update": {"event_id": None, "ref_event_id": "dep_id"}},
            "event_types": {"dep_status": "status_update"},
            "statuses": {"approved": "qualified"},
        }
        out = mapped(mapping, {"action": "dep_status", "dep_id": "D1", "state": "approved", "ts": "2026-11-01T10:00Z"})
        assert out == {"type": "status_update", "ref_event_id": "D1", "status": "qualified",
                       "occurred_at": "2026-11-01T10:00:00+00:00"}  # fmt: skip


class TestBadInput:
    @pytest.mark.parametrize(
        ("amount", "detail"),
        [
            ("abc", "amount: 'abc' is not a number"),
            ("NaN", "amount: 'NaN' is not a finite number"),
            ("Infinity", "amount: 'Infinity' is not a finite number"),
            ("-Infinity", "amount: '-Infinity' is not a finite number"),
            ("1e400", "amount: '1e400' is out of range"),
            (Decimal("1E+400"), "amount: Decimal('1E+400') is out of range"),
            ("10.001", "amount: 10.001 has more decimals than EUR allows"),
            ("", "amount: is required for deposit"),
            (True, "amount: True is not a number"),
            ({"v": 1}, "amount: {'v': 1} is not a number"),
        ],
    )
    def test_bad_amounts_are_rejected_never_zero(self, amount, detail):
        code, got = rejected({}, {**DEPOSIT, "amount": amount})
        assert got == detail
        assert code == ("missing_field" if amount == "" else "invalid_amount")

    def test_a_currency_without_minor_units_takes_no_decimals(self):
        assert rejected({}, {**DEPOSIT, "amount": "100.5", "currency": "JPY"})[1] == (
            "amount: 100.5 has more decimals than JPY allows"
        )
        assert mapped({}, {**DEPOSIT, "amount": "100", "currency": "JPY"})["amount"] == "100"

    @pytest.mark.parametrize("currency", ["XXQ", "eu", "", 12])
    def test_unknown_currencies(self, currency):
        code, detail = rejected({}, {**DEPOSIT, "currency": currency})
        assert code in ("unknown_currency", "missing_field")
        assert detail.startswith("currency: ")

    @pytest.mark.parametrize(
        ("when", "detail"),
        [
            ("yesterday", "occurred_at: 'yesterday' is not a valid date (iso)"),
            ("2026-13-01T00:00:00Z", "occurred_at: '2026-13-01T00:00:00Z' is not a valid date (iso)"),
            ("2031-01-01T00:00:00Z", "occurred_at: '2031-01-01T00:00:00Z' is in the future"),
            ("1970-01-01T00:00:00Z", "occurred_at: '1970-01-01T00:00:00Z' is before 1990"),
            (12345, "occurred_at: 12345 is not a valid date (iso)"),
        ],
    )
    def test_unparseable_and_far_future_dates(self, when, detail):
        assert rejected({}, {**DEPOSIT, "occurred_at": when}) == ("invalid_date", detail)

    def test_a_time_a_few_hours_ahead_is_clock_skew_not_an_error(self):
        assert mapped({}, {**DEPOSIT, "occurred_at": "2026-11-28T15:00:00Z"})["occurred_at"].startswith("2026-11-28")

    def test_unknown_event_type(self):
        assert rejected({}, {**DEPOSIT, "type": "jackpot"}) == (
            "unknown_event_type",
            "type: unknown event type 'jackpot'",
        )

    @pytest.mark.parametrize(
        ("payload", "detail"),
        [
            ({"type": "registration"}, "customer_id: is required for registration"),
            ({"type": "status_update", "status": "qualified"}, "ref_event_id: is required for status_update"),
            ({"type": "status_update", "ref_event_id": "D1"}, "status: is required for a status_update"),
            ({"event_id": "1", "type": "ftd", "customer_id": "C"}, "amount: is required for ftd"),
            ({"customer_id": "C"}, "type: is required"),
            (
                {"type": "deposit", "event_id": "1", "customer_id": "C", "amount": "5"},
                "currency: is required with an amount",
            ),
        ],
    )
    def test_missing_required_fields_per_type(self, payload, detail):
        assert rejected({}, payload) == ("missing_field", detail)

    def test_several_problems_are_all_reported_first_code_wins(self):
        result = compile_mapping({}).map({**DEPOSIT, "amount": "x", "occurred_at": "never"})
        assert [p.field for p in result.errors] == ["amount", "occurred_at"]
        assert result.reason_code == "invalid_amount"

    def test_a_non_object_payload_is_invalid(self):
        result = compile_mapping({}).map(["not", "an", "object"])
        assert (result.reason_code, result.reason_detail) == ("invalid_payload", ": the event must be a JSON object")

    def test_overlong_ids_are_rejected(self):
        assert rejected({}, {**DEPOSIT, "event_id": "x" * 201})[0] == "invalid_field"

    def test_a_bad_country_is_rejected(self):
        assert rejected({}, {**DEPOSIT, "country": "Germany"}) == (
            "invalid_field",
            "country: 'Germany' is not an ISO 3166-1 alpha-2 code",
        )


class TestMappingValidation:
    @pytest.mark.parametrize(
        ("mapping", "message"),
        [
            (
                {"fields": {"amount": {"path": "a", "divide": 0}}},
                "fields.amount.divide must be a finite, non-zero number",
            ),
            ({"fields": {"amonut": "a"}}, "fields.amonut: not a canonical field (data.<name> for vertical data)"),
            ({"event_types": {"x": "jackpot"}}, "event_types.x: 'jackpot' is not a canonical event type (or 'ignore')"),
            ({"statuses": {"ok": "fine"}}, "statuses.ok: 'fine' is not one of pending, qualified, rejected"),
            ({"timezone": "Mars/Base"}, "timezone: 'Mars/Base' is not an IANA time zone"),
            ({"id_fields": "a,b"}, "id_fields: must be a list of paths"),
            ({"fields": {"click_id": {"path": "c", "regex": "("}}}, "fields.click_id: invalid regex"),
            ({"colour": "blue"}, "unknown key(s): colour"),
            ({"event_types": {"x": {"field": "p", "cases": [{"type": "ftd"}]}}}, "event_types.x.cases[0]: one of"),
        ],
    )
    def test_invalid_mappings_are_refused_with_the_reason(self, mapping, message):
        with pytest.raises(MappingError) as exc:
            compile_mapping(mapping)
        assert any(error.startswith(message) for error in exc.value.errors), exc.value.errors
