import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No event, mapping or API body nests anywhere near this deep; a deeper document is an attack on the parser
# (Python's recursion limit) or on whatever walks or re-serializes it later (orjson stops at 255 levels).
MAX_JSON_DEPTH = 64


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class JSONTooDeep(ValueError):
    def __init__(self, limit: int = MAX_JSON_DEPTH):
        super().__init__(f"JSON nested deeper than {limit} levels")


class JSONNotText(ValueError):
    def __init__(self):
        super().__init__("JSON text holds a NUL character or an unpaired surrogate (\\u0000, \\ud800), not text")


def unstorable_text(value: str) -> bool:
    """A NUL or an unpaired surrogate: no PostgreSQL text or jsonb column stores it."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _holds_unstorable_text(value) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if unstorable_text(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _deeper_than(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH):
    """JSON with numbers as Decimal, NaN and Infinity refused, nesting bounded, and only storable text; a
    ValueError (JSONTooDeep, JSONNotText, UnicodeDecodeError, JSONDecodeError) for anything else."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise JSONTooDeep(max_depth) from None
    opening = raw.count(b"{" if isinstance(raw, bytes) else "{") + raw.count(b"[" if isinstance(raw, bytes) else "[")
    if opening > max_depth and _deeper_than(data, max_depth):  # a document with few brackets cannot nest deep
        raise JSONTooDeep(max_depth)
    # NUL and lone surrogates only arrive as \u escapes (raw bytes that decode hold neither)
    if (b"\\u" in raw if isinstance(raw, bytes) else "\\u" in raw) and _holds_unstorable_text(data):
        raise JSONNotText()
    return data


class DecimalJSONParser(JSONParser):
    """JSON with numbers as Decimal (no float near money), and NaN/Infinity refused.

    DRF reads the body as a stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is
    enforced here: a body larger than `max_body_bytes` (default that setting) is a 413 problem."""

    max_body_bytes: int | None = None

    def parse(self, stream, media_type=None, parser_context=None):
        from .problems import RequestTooLarge  # problems imports DRF views, which import this module

        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = self.max_body_bytes or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        if limit and request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge(limit)
        raw = stream.read(limit + 1) if limit else stream.read()
        if limit and len(raw) > limit:
            raise RequestTooLarge(limit)
        try:
            return json_loads(raw.decode(encoding))
        except ValueError as exc:  # also UnicodeDecodeError and JSONTooDeep
            raise ParseError(f"JSON parse error - {exc}") from None
