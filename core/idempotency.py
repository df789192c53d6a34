"""`Idempotency-Key` for management POSTs: a replay answers the first answer; the same key with
another body is a 422 problem; a key still being worked on is a 409."""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from .keys import KeyPrincipal
from .models import IdempotencyRecord
from .problems import PROBLEM_CONTENT_TYPE, Problem

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_LENGTH = 255
_RETRYABLE = {409, 429}  # transient refusals; replaying them would make a retry pointless
MIN_TTL_HOURS = 24  # the contract promises a replay for at least a day, whatever the setting says


def ttl() -> timedelta:
    return timedelta(hours=max(MIN_TTL_HOURS, settings.IDEMPOTENCY_KEY_TTL_HOURS))


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.record = record


def _request_hash(request) -> str:
    body = request.body if hasattr(request, "body") else b""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + canonical).hexdigest()


class IdempotentPostMixin:
    """Mix into an APIView/ViewSet. Records are kept IDEMPOTENCY_KEY_TTL_HOURS (at least 24)."""

    _idempotency_record: IdempotencyRecord | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.META.get(HEADER)
        if request.method != "POST" or key is None or not isinstance(request.auth, KeyPrincipal):
            return
        if not key or len(key) > MAX_LENGTH:
            raise Problem(
                status_code=400,
                code="invalid_idempotency_key",
                title="Invalid Idempotency-Key",
                detail=f"Idempotency-Key must be 1 to {MAX_LENGTH} characters.",
            )
        digest = _request_hash(request._request)
        fresh_after = timezone.now() - ttl()
        IdempotencyRecord.objects.filter(api_key_id=request.auth.key_id, key=key, created_at__lt=fresh_after).delete()
        try:
            with transaction.atomic():
                self._idempotency_record = IdempotencyRecord.objects.create(
                    api_key_id=request.auth.key_id,
                    key=key,
                    method=request.method,
                    path=request.path,
                    request_hash=digest,
                )
            return
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(api_key_id=request.auth.key_id, key=key).first()
        if record is not None and record.request_hash != digest:
            raise Problem(
                status_code=422,
                code="idempotency_key_reused",
                title="Idempotency-Key reused",
                detail="This Idempotency-Key was used with a different request; use a new key.",
            )
        if record is None or record.response_status is None:
            raise Problem(
                status_code=409,
                code="idempotency_in_progress",
                title="Request in progress",
                detail="A request with this Idempotency-Key is still being processed; retry shortly.",
            )
        raise _Replay(record)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            status = exc.record.response_status
            response = Response(
                exc.record.response_body,
                status=status,
                content_type=PROBLEM_CONTENT_TYPE if status >= 400 else None,
            )
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except BaseException:
            # An unhandled error becomes a 500 outside DRF: nothing was answered, so the key is free again.
            record, self._idempotency_record = self._idempotency_record, None
            if record is not None:
                IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            if response.status_code >= 500 or response.status_code in _RETRYABLE:
                record.delete()  # a server failure or a passing conflict is not an answer: let the client retry
            else:
                record.response_status = response.status_code
                record.response_body = getattr(response, "data", None)
                record.save(update_fields=["response_status", "response_body"])
        return response


def idempotency_purge(*, older_than_hours: int | None = None) -> int:
    """Delete records past their TTL (never younger than 24 hours)."""
    age = timedelta(hours=max(MIN_TTL_HOURS, older_than_hours)) if older_than_hours else ttl()
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - age).delete()
    return deleted
