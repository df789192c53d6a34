"""The mapping engine: a source's dialect (JSON, CONTRACT.md "Mapping") → one canonical event.

A mapping is data. `compile_mapping` validates it once and returns a `Mapper`; `Mapper.map(payload)`
is pure and fast (no database), so it runs on the postback path to decide a 400, and again in the
worker on replays. Every problem is reported as (field, message, reason code); nothing is turned into
zero or dropped silently.

Beyond the CONTRACT keys a mapping may use (all optional):

- a field spec may give `path` as a list (the first path present wins), `multiply`, `abs`, and
  `regex` (the first group, or the whole match, of the value's text);
- `event_types` values may be conditional: `{"field": path, "cases": [{"prefix"|"equals"|"in"|"gt"|
  "lt"|"gte"|"lte"|"regex": …, "type": canonical}], "default": canonical}`, so one source type can
  become several canonical types by a second field; the canonical type `ignore` stores the event as
  known but meaningless for commissions (e.g. MT5 credit deals);
- `type_fields`: per canonical type, field specs that replace (or, with `null`, remove) `fields`;
- canonical field `ref_order_id`: a referring event that names an order instead of an event; it is
  resolved to the event whose `data.order_id` matches.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from core.currencies import MINOR_UNITS
from core.money import MAX_AMOUNT

EVENT_TYPES = (
    "registration", "ftd", "deposit", "withdrawal", "bet", "revenue", "trade", "challenge_purchase",
    "challenge_pass", "funded_activation", "reset_fee", "refund", "chargeback", "status_update",
)  # fmt: skip
IGNORE = "ignore"
REFERRING_TYPES = frozenset({"status_update", "refund", "chargeback"})
MONEY_TYPES = frozenset(
    {"ftd", "deposit", "withdrawal", "bet", "revenue", "trade", "challenge_purchase", "reset_fee", "refund",
     "chargeback"}
)  # fmt: skip
NEGATIVE_ALLOWED = frozenset({"revenue"})
STATUSES = ("pending", "qualified", "rejected")
HINT_FIELDS = ("click_id", "tracking_token", "affiliate_id", "promo_code", "sub1", "sub2", "sub3", "sub4", "sub5")
TEXT_FIELDS = ("event_id", "customer_id", "brand", *HINT_FIELDS, "ref_event_id", "ref_order_id")
CANONICAL_FIELDS = (
    "event_id", "type", "customer_id", "brand", *HINT_FIELDS, "amount", "currency", "occurred_at", "status",
    "ref_event_id", "ref_order_id", "country", "data",
)  # fmt: skip
DEFAULT_ALIASES = {
    "first_deposit": "ftd",
    "initial_fund": "ftd",
    "signup": "registration",
    "lead": "registration",
    "ngr": "revenue",
}
MAX_TEXT = 200
MAX_DATA_TEXT = 500
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
DERIVED_ID_PREFIX = "~"
CASE_OPERATORS = ("equals", "prefix", "in", "gt", "lt", "gte", "lte", "regex")


class MappingError(ValueError):
    """The mapping itself is invalid (a manager's error, reported on save or dry run)."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class Problem:
    field: str
    message: str
    code: str

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message, "code": self.code}


@dataclass
class MappingResult:
    """What one payload became: the canonical event (None when rejected) and why not."""

    canonical: dict | None
    external_id: str = ""
    errors: list[Problem] = field(default_factory=list)
    ignored: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def reason_code(self) -> str:
        return self.errors[0].code if self.errors else ""

    @property
    def reason_detail(self) -> str:
        return "; ".join(f"{p.field}: {p.message}" for p in self.errors)


@dataclass(frozen=True)
class FieldSpec:
    paths: tuple[str, ...]
    divide: Decimal | None = None
    multiply: Decimal | None = None
    absolute: bool = False
    format: str | None = None
    default: object = None
    regex: re.Pattern | None = None


_MISSING = object()


def _number(value, what: str, errors: list[str]) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors.append(f"{what} must be a number")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.append(f"{what} must be a number")
        return None
    if not number.is_finite() or number == 0:
        errors.append(f"{what} must be a finite, non-zero number")
        return None
    return number


def _compile_spec(name: str, spec, errors: list[str]) -> FieldSpec | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return FieldSpec(paths=(spec,))
    if not isinstance(spec, dict):
        errors.append(f"fields.{name}: a path or an object with 'path'")
        return None
    unknown = set(spec) - {"path", "divide", "multiply", "abs", "format", "default", "regex"}
    if unknown:
        errors.append(f"fields.{name}: unknown option(s) {', '.join(sorted(unknown))}")
    paths = spec.get("path")
    if isinstance(paths, str):
        paths = (paths,)
    elif isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths):
        paths = tuple(paths)
    elif paths is None and "default" in spec:
        paths = ()
    else:
        errors.append(f"fields.{name}: 'path' must be a path or a list of paths")
        return None
    fmt = spec.get("format")
    if fmt is not None and not isinstance(fmt, str):
        errors.append(f"fields.{name}: 'format' must be iso, unix, unix_ms or a strptime pattern")
    pattern = None
    if spec.get("regex") is not None:
        try:
            pattern = re.compile(str(spec["regex"]))
        except re.error as exc:
            errors.append(f"fields.{name}: invalid regex ({exc})")
    return FieldSpec(
        paths=paths,
        divide=_number(spec.get("divide"), f"fields.{name}.divide", errors),
        multiply=_number(spec.get("multiply"), f"fields.{name}.multiply", errors),
        absolute=bool(spec.get("abs", False)),
        format=fmt,
        default=spec.get("default"),
        regex=pattern,
    )


def _compile_fields(where: str, fields, errors: list[str], allow_null: bool) -> dict[str, FieldSpec | None]:
    if not isinstance(fields, dict):
        errors.append(f"{where}: must be an object of canonical field → path")
        return {}
    out: dict[str, FieldSpec | None] = {}
    for name, spec in fields.items():
        if name not in CANONICAL_FIELDS and not (name.startswith("data.") and len(name) > 5):
            errors.append(f"{where}.{name}: not a canonical field (data.<name> for vertical data)")
            continue
        if spec is None and not allow_null:
            errors.append(f"{where}.{name}: a path is needed")
            continue
        out[name] = _compile_spec(name, spec, errors)
    return out


def _canonical_type(value, where: str, errors: list[str]) -> str | None:
    if value in EVENT_TYPES or value == IGNORE:
        return value
    errors.append(f"{where}: {value!r} is not a canonical event type (or 'ignore')")
    return None


@dataclass(frozen=True)
class ConditionalType:
    path: str
    cases: tuple[tuple[str, object, str], ...]
    default: str | None


def _compile_conditional(name: str, rule: dict, errors: list[str]) -> ConditionalType | None:
    where = f"event_types.{name}"
    path = rule.get("field")
    cases = rule.get("cases")
    if not isinstance(path, str) or not path or not isinstance(cases, list):
        errors.append(f"{where}: a conditional type needs 'field' and a list of 'cases'")
        return None
    compiled = []
    for index, case in enumerate(cases):
        ops = [op for op in CASE_OPERATORS if isinstance(case, dict) and op in case]
        if not isinstance(case, dict) or len(ops) != 1 or "type" not in case:
            errors.append(f"{where}.cases[{index}]: one of {', '.join(CASE_OPERATORS)} and a 'type'")
            continue
        op = ops[0]
        operand = case[op]
        if op in ("gt", "lt", "gte", "lte"):
            try:
                operand = _to_decimal(operand)
            except _Invalid:
                errors.append(f"{where}.cases[{index}].{op}: must be a number")
                continue
        elif op == "regex":
            try:
                operand = re.compile(str(operand))
            except re.error as exc:
                errors.append(f"{where}.cases[{index}]: invalid regex ({exc})")
                continue
        elif op == "in":
            if not isinstance(operand, list):
                errors.append(f"{where}.cases[{index}].in: must be a list")
                continue
            operand = tuple(str(v) for v in operand)
        else:
            operand = str(operand)
        target = _canonical_type(case["type"], f"{where}.cases[{index}].type", errors)
        if target:
            compiled.append((op, operand, target))
    default = rule.get("default")
    if default is not None:
        default = _canonical_type(default, f"{where}.default", errors)
    return ConditionalType(path=path, cases=tuple(compiled), default=default)


def compile_mapping(mapping: dict | None) -> Mapper:
    """Validate a mapping and prepare it for fast use; raises MappingError listing every problem."""
    mapping = mapping or {}
    errors: list[str] = []
    if not isinstance(mapping, dict):
        raise MappingError(["the mapping must be a JSON object"])
    known = {"fields", "event_types", "statuses", "defaults", "id_fields", "timezone", "type_fields", "preset"}
    unknown = set(mapping) - known
    if unknown:
        errors.append(f"unknown key(s): {', '.join(sorted(unknown))}")

    if "fields" in mapping:
        fields = _compile_fields("fields", mapping["fields"], errors, allow_null=False)
        fields.setdefault("type", FieldSpec(paths=("type",)))
    else:
        fields = {name: FieldSpec(paths=(name,)) for name in CANONICAL_FIELDS}

    event_types: dict[str, str | ConditionalType] = dict(DEFAULT_ALIASES)
    raw_types = mapping.get("event_types", {})
    if not isinstance(raw_types, dict):
        errors.append("event_types: must be an object of source value → canonical type")
        raw_types = {}
    for name, target in raw_types.items():
        if isinstance(target, dict):
            rule = _compile_conditional(name, target, errors)
            if rule:
                event_types[str(name)] = rule
        else:
            canonical = _canonical_type(target, f"event_types.{name}", errors)
            if canonical:
                event_types[str(name)] = canonical

    statuses: dict[str, str] = {}
    raw_statuses = mapping.get("statuses", {})
    if not isinstance(raw_statuses, dict):
        errors.append("statuses: must be an object of source value → canonical status")
        raw_statuses = {}
    for name, target in raw_statuses.items():
        if target not in STATUSES:
            errors.append(f"statuses.{name}: {target!r} is not one of {', '.join(STATUSES)}")
        else:
            statuses[str(name)] = target

    defaults = mapping.get("defaults", {})
    if not isinstance(defaults, dict):
        errors.append("defaults: must be an object of canonical field → value")
        defaults = {}
    for name in defaults:
        if name not in CANONICAL_FIELDS and not name.startswith("data."):
            errors.append(f"defaults.{name}: not a canonical field")

    id_fields = mapping.get("id_fields", [])
    if not isinstance(id_fields, list) or not all(isinstance(p, str) and p for p in id_fields):
        errors.append("id_fields: must be a list of paths")
        id_fields = []

    tz_name = mapping.get("timezone") or "UTC"
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        errors.append(f"timezone: {tz_name!r} is not an IANA time zone")
        tz = UTC

    type_fields: dict[str, dict[str, FieldSpec | None]] = {}
    raw_type_fields = mapping.get("type_fields", {})
    if not isinstance(raw_type_fields, dict):
        errors.append("type_fields: must be an object of canonical type → fields")
        raw_type_fields = {}
    for type_name, overrides in raw_type_fields.items():
        if type_name not in EVENT_TYPES:
            errors.append(f"type_fields.{type_name}: not a canonical event type")
            continue
        type_fields[type_name] = _compile_fields(f"type_fields.{type_name}", overrides, errors, allow_null=True)

    if errors:
        raise MappingError(errors)
    return Mapper(
        fields=fields,
        event_types=event_types,
        event_types_folded={k.casefold(): v for k, v in event_types.items()},
        statuses=statuses,
        statuses_folded={k.casefold(): v for k, v in statuses.items()},
        defaults=dict(defaults),
        id_fields=tuple(id_fields),
        tz=tz,
        type_fields=type_fields,
    )


def _lookup(payload, path: str):
    """A value by parameter name or dotted path (list items by index); _MISSING when absent."""
    if type(payload) is dict:  # the usual case, and every parameter name of a postback: one dict probe
        value = payload.get(path, _MISSING)
        if value is not _MISSING or "." not in path:
            return value
    elif isinstance(payload, dict) and path in payload:
        return payload[path]
    current = payload
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _present(value) -> bool:
    return value is not _MISSING and value is not None and value != ""


def _text(value) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return decimal_text(Decimal(repr(value)))
    return str(value)


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros ("2.5", "100000"); one that is not finite,
    or past the precision of plain text (JSON allows 1e999999), as Decimal writes it ("1E+999999")."""
    if not value.is_finite() or abs(value.adjusted()) > 100:
        return str(value)
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), "f")
    return format(value.normalize(), "f")


class _Invalid(Exception):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


# A number as text: ASCII digits, optional sign, point and exponent. Decimal() alone also reads "1_000",
# full-width or Arabic-Indic digits and control characters around them, which no operator means as an amount.
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def _to_decimal(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _Invalid(f"{value!r} is not a number", "invalid_amount")
    if isinstance(value, float):
        value = repr(value)
    text = value.strip(" \t\r\n") if isinstance(value, str) else value
    if isinstance(text, str) and not _NUMBER_TEXT.fullmatch(text):
        if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
            raise _Invalid(f"{value!r} is not a finite number", "invalid_amount")
        raise _Invalid(f"{value!r} is not a number", "invalid_amount")
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise _Invalid(f"{value!r} is not a number", "invalid_amount") from None
    if not number.is_finite():
        raise _Invalid(f"{value!r} is not a finite number", "invalid_amount")
    if abs(number) >= MAX_AMOUNT:
        raise _Invalid(f"{value!r} is out of range", "invalid_amount")
    return number


@dataclass
class Mapper:
    """A compiled mapping. `map()` never touches the database."""

    fields: dict[str, FieldSpec | None]
    event_types: dict
    event_types_folded: dict
    statuses: dict[str, str]
    statuses_folded: dict[str, str]
    defaults: dict
    id_fields: tuple[str, ...]
    tz: zoneinfo.ZoneInfo
    type_fields: dict
    # Per canonical type: the field specs in force and those to read (built on first use).
    _plans: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # -- reading ------------------------------------------------------------------------------
    def _raw(self, payload, spec: FieldSpec | None):
        if spec is None:
            return _MISSING
        for path in spec.paths:
            value = _lookup(payload, path)
            if value is not _MISSING and value is not None and value != "":  # _present(), inlined: hot
                if spec.regex is not None:
                    match = spec.regex.search(_text(value))
                    if match is None:
                        continue
                    value = match.group(1) if match.groups() else match.group(0)
                return value
        if spec.default is not None:
            return spec.default
        return _MISSING

    def _number(self, value, spec: FieldSpec | None) -> Decimal:
        number = _to_decimal(value)
        if spec is not None:
            if spec.divide is not None:
                number = number / spec.divide
            if spec.multiply is not None:
                number = number * spec.multiply
            if spec.absolute:
                number = abs(number)
        return number

    def _datetime(self, value, spec: FieldSpec | None) -> datetime:
        fmt = (spec.format if spec else None) or "iso"
        try:
            if fmt in ("unix", "unix_ms"):
                if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
                    raise ValueError
                text = str(value).strip(" \t\r\n")
                if not _NUMBER_TEXT.fullmatch(text):
                    raise ValueError
                seconds = Decimal(text)
                if not seconds.is_finite():
                    raise ValueError
                if fmt == "unix_ms":
                    seconds = seconds / 1000
                moment = datetime.fromtimestamp(float(seconds), tz=UTC)
            elif fmt == "iso":
                if not isinstance(value, str):
                    raise ValueError
                moment = datetime.fromisoformat(value.strip())
            else:
                if not isinstance(value, str):
                    raise ValueError
                moment = datetime.strptime(value.strip(), fmt)
        except (ValueError, OverflowError, OSError, ArithmeticError):
            raise _Invalid(f"{value!r} is not a valid date ({fmt})", "invalid_date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        moment = moment.astimezone(UTC)
        if moment > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise _Invalid(f"{value!r} is in the future", "invalid_date")
        if moment < EARLIEST:
            raise _Invalid(f"{value!r} is before {EARLIEST.year}", "invalid_date")
        return moment

    def _type(self, payload, raw) -> tuple[str | None, Problem | None]:
        key = _text(raw).strip()
        target = self.event_types.get(key)
        if target is None:
            target = self.event_types_folded.get(key.casefold())
        if target is None:
            folded = key.casefold()
            if folded in EVENT_TYPES:
                return folded, None
            return None, Problem("type", f"unknown event type {key!r}", "unknown_event_type")
        if isinstance(target, str):
            return target, None
        value = _lookup(payload, target.path)
        for op, operand, result in target.cases:
            if _present(value) and _case_matches(op, operand, value):
                return result, None
        if target.default:
            return target.default, None
        shown = _text(value) if _present(value) else "nothing"
        return None, Problem(
            "type", f"unknown event type {key!r} ({target.path} = {shown!r} matches no case)", "unknown_event_type"
        )

    # -- mapping ------------------------------------------------------------------------------
    def map(self, payload, *, received_at: datetime | None = None) -> MappingResult:
        """Map one payload. An event without a time happened when it was received (`received_at`)."""
        if not isinstance(payload, dict):
            return MappingResult(None, errors=[Problem("", "the event must be a JSON object", "invalid_payload")])
        raw_type = self._raw(payload, self.fields.get("type"))
        if not _present(raw_type):
            raw_type = self.defaults.get("type", _MISSING)
        if not _present(raw_type):
            return MappingResult(None, errors=[Problem("type", "is required", "missing_field")])
        event_type, problem = self._type(payload, raw_type)
        if problem:
            return MappingResult(None, errors=[problem])
        if event_type == IGNORE:
            return MappingResult({"type": IGNORE, "source_type": _text(raw_type)}, ignored=True)

        plan = self._plans.get(event_type)
        if plan is None:
            specs = self.fields
            if event_type in self.type_fields:
                specs = {**specs, **self.type_fields[event_type]}
            reads = [(name, spec) for name, spec in specs.items() if name != "type" and spec is not None]
            plan = self._plans[event_type] = (specs, reads)
        specs, reads = plan
        defaults = self.defaults
        errors: list[Problem] = []
        out: dict = {"type": event_type}
        data: dict = {}

        for name, spec in reads:
            value = self._raw(payload, spec)
            if value is _MISSING or value is None or value == "":  # not _present(), inlined: hot
                if name not in defaults:
                    continue
                value = defaults[name]
                if not _present(value):
                    continue
            try:
                if name.startswith("data."):
                    data[name[5:]] = self._data_value(value, spec)
                elif name == "data":
                    data.update(self._data_object(value))
                elif name == "amount":
                    out["amount"] = self._number(value, spec)
                elif name == "occurred_at":
                    out["occurred_at"] = self._datetime(value, spec)
                else:
                    out[name] = value
            except _Invalid as exc:
                errors.append(Problem(name, exc.message, exc.code))
        for name, value in self.defaults.items():
            if name.startswith("data.") and name[5:] not in data:
                data[name[5:]] = _text(value)
            elif (
                name not in out and name not in ("type", "data") and not name.startswith("data.") and name not in specs
            ):
                out[name] = value

        self._finish(out, data, errors)
        external_id = out.get("event_id", "")
        if not errors and not external_id:
            external_id = self._derive_id(payload, out)
            if not external_id:
                errors.append(Problem("event_id", "is required for money events", "missing_field"))
        if errors:
            return MappingResult(None, errors=errors)
        out.setdefault("occurred_at", received_at or timezone.now())
        return MappingResult(self._serialise(out, data), external_id=external_id)

    def _data_value(self, value, spec: FieldSpec | None):
        if isinstance(value, dict | list):
            raise _Invalid("must be a single value, not an object or list", "invalid_field")
        if isinstance(value, bool):
            return value
        if spec is not None and (spec.divide or spec.multiply or spec.absolute):
            return decimal_text(self._number(value, spec))
        text = _text(value)
        if len(text) > MAX_DATA_TEXT:
            raise _Invalid(f"is longer than {MAX_DATA_TEXT} characters", "invalid_field")
        return text

    def _data_object(self, value) -> dict:
        if not isinstance(value, dict):
            raise _Invalid("must be an object", "invalid_field")
        return {str(k): self._data_value(v, None) for k, v in value.items() if _present(v)}

    def _finish(self, out: dict, data: dict, errors: list[Problem]) -> None:
        event_type = out["type"]
        failed = {p.field for p in errors}
        for name in TEXT_FIELDS:
            if name in out:
                value = out[name]
                if isinstance(value, dict | list | bool):
                    errors.append(Problem(name, "must be a single value", "invalid_field"))
                    continue
                text = _text(value).strip()
                if len(text) > MAX_TEXT:
                    errors.append(Problem(name, f"is longer than {MAX_TEXT} characters", "invalid_field"))
                if text:
                    out[name] = text
                else:
                    del out[name]

        if "status" in out:
            raw = _text(out["status"]).strip()
            status = self.statuses.get(raw) or self.statuses_folded.get(raw.casefold())
            if status is None and raw.casefold() in STATUSES:
                status = raw.casefold()
            if status is None:
                errors.append(Problem("status", f"unknown status {raw!r}", "unknown_status"))
                del out["status"]
            else:
                out["status"] = status
        elif event_type == "status_update":
            errors.append(Problem("status", "is required for a status_update", "missing_field"))
        out.setdefault("status", "qualified")

        if "country" in out:
            country = _text(out["country"]).strip().upper()
            if len(country) != 2 or not country.isascii() or not country.isalpha():
                errors.append(
                    Problem("country", f"{out['country']!r} is not an ISO 3166-1 alpha-2 code", "invalid_field")
                )
            out["country"] = country

        currency = out.get("currency")
        if currency is not None:
            currency = _text(currency).strip().upper()
            out["currency"] = currency
            if currency not in MINOR_UNITS:
                errors.append(Problem("currency", f"unknown currency {_text(out['currency'])!r}", "unknown_currency"))
                currency = None
        amount = out.get("amount")
        if amount is not None:
            if currency is None and "currency" not in out:
                errors.append(Problem("currency", "is required with an amount", "missing_field"))
            if amount < 0 and event_type not in NEGATIVE_ALLOWED:
                errors.append(
                    Problem("amount", f"{decimal_text(amount)} must not be negative for {event_type}", "invalid_amount")
                )
            if currency is not None:
                exponent = Decimal(1).scaleb(-MINOR_UNITS[currency])
                quantized = amount.quantize(exponent)
                if quantized != amount:
                    errors.append(
                        Problem(
                            "amount",
                            f"{decimal_text(amount)} has more decimals than {currency} allows",
                            "invalid_amount",
                        )
                    )
                out["amount"] = quantized
        elif "currency" in out:
            del out["currency"]

        if event_type in MONEY_TYPES and amount is None and "amount" not in failed:
            errors.append(Problem("amount", f"is required for {event_type}", "missing_field"))
        if event_type in REFERRING_TYPES:
            if "ref_event_id" not in out and "ref_order_id" not in out:
                errors.append(Problem("ref_event_id", f"is required for {event_type}", "missing_field"))
        elif "customer_id" not in out:
            errors.append(Problem("customer_id", f"is required for {event_type}", "missing_field"))
        if data:
            out["data"] = data

    def _derive_id(self, payload, out: dict) -> str:
        if out["type"] in MONEY_TYPES and not self.id_fields:
            return ""
        if self.id_fields:
            parts = [_text(v) if _present(v := _lookup(payload, path)) else "" for path in self.id_fields]
        else:
            parts = [out["type"], out.get("customer_id", ""), out.get("ref_event_id", ""), out.get("ref_order_id", "")]
            parts.append(out["occurred_at"].isoformat() if "occurred_at" in out else "")
        if not any(parts):
            return ""
        joined = "|".join(parts)
        if len(joined) + len(DERIVED_ID_PREFIX) > MAX_TEXT:
            joined = "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
        return DERIVED_ID_PREFIX + joined

    @staticmethod
    def _serialise(out: dict, data: dict) -> dict:
        canonical = {}
        for name, value in out.items():
            if isinstance(value, Decimal):
                value = format(value, "f")
            elif isinstance(value, datetime):
                value = value.isoformat()
            canonical[name] = value
        return canonical


def _case_matches(op: str, operand, value) -> bool:
    if op in ("gt", "lt", "gte", "lte"):
        try:
            number = _to_decimal(value)
        except _Invalid:
            return False
        return {
            "gt": number > operand,
            "lt": number < operand,
            "gte": number >= operand,
            "lte": number <= operand,
        }[op]
    text = _text(value)
    if op == "equals":
        return text == operand
    if op == "prefix":
        return text.startswith(operand)
    if op == "in":
        return text in operand
    return operand.search(text) is not None


def parse_canonical_time(value: str) -> datetime:
    """The occurred_at of a canonical event (always ISO with offset) as an aware datetime."""
    return datetime.fromisoformat(value)


__all__ = [
    "EVENT_TYPES",
    "IGNORE",
    "MONEY_TYPES",
    "REFERRING_TYPES",
    "Mapper",
    "MappingError",
    "MappingResult",
    "compile_mapping",
    "decimal_text",
]
