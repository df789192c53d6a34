"""The error answers every API operation can give, added to the OpenAPI schema in one place.

Every error is an RFC 9457 problem from core.problems (one exception handler), so the schema documents one
`Problem` component and, per operation, the problem answers its kind of request can get: 401 and 403 (key and
scope), 404 (an unknown object, or a page past the end), 400 (invalid parameters or body), 429 with
Retry-After (the key's or source's rate limit), and for writes 409 (a conflicting concurrent write), 413
(body too large), 415 (not JSON) and 422 (an Idempotency-Key reused with another body).
"""

PROBLEM_CONTENT_TYPE = "application/problem+json"

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem. `code` is stable and machine-readable (the last part of `type`).",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                    "index": {"type": "integer"},
                },
                "required": ["message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}

_DESCRIPTIONS = {
    "400": "Invalid parameters or body (problem `errors` lists each field)",
    "401": "No API key, or an unknown, expired or revoked one",
    "403": "The key's scope does not allow this operation",
    "404": "No such object (or not one this key may see), or a page past the end",
    "409": "The change conflicts with a concurrent one, or an Idempotency-Key request is still running",
    "413": "The request body is too large",
    "415": "The body is not JSON",
    "422": "An Idempotency-Key reused with another body",
    "429": "Past the rate limit; retry after Retry-After seconds",
}
_READ = ("400", "401", "403", "404", "429")
_WRITE = (*_READ, "409", "413", "415", "422")
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
}


def _problem_response(code: str, description: str | None = None) -> dict:
    response = {
        "description": description or _DESCRIPTIONS[code],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if code == "429":
        response["headers"] = _RETRY_AFTER
    return response


def add_problem_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the Problem component and each operation's problem answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            codes = _WRITE if method in ("post", "put", "patch") else _READ
            if path.startswith("/postback/"):
                codes = ("400", "401", "404", "413", "429")
            for code in codes:
                existing = responses.get(code)
                if existing is None:
                    responses[code] = _problem_response(code)
                elif "content" not in existing:
                    # documented by the view with a description only: the body is still a problem
                    responses[code] = _problem_response(code, existing.get("description"))
    return result
