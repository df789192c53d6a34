"""The audit log: who changed what, when, and why.

django-auditlog records every save() and delete() of the models registered below, with the request's
user as the actor (AuditlogMiddleware). Changes made by a queryset `.update()` never reach its signals:
the commission ledger moves an entry's status by compare-and-swap updates, for instance. The services
that make such changes call `audit_record()`, which writes the same `auditlog.LogEntry` rows, with the
reason in `additional_data["reason"]`, so the admin and the API show one history per object.

Inside `audit_collect()` the records are buffered and written with one bulk INSERT when the block
ends (a batch of a thousand released holds is one statement, not a thousand).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from contextvars import ContextVar

from auditlog.cid import get_cid
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, router
from django.db.models.signals import pre_save
from django.utils import timezone

ACTIONS = {"create": LogEntry.Action.CREATE, "update": LogEntry.Action.UPDATE, "delete": LogEntry.Action.DELETE}

# (app_label.ModelName, fields left out of the recorded changes): the records people and partners rely on.
AUDITED = (
    ("affiliates.Brand", ("created_at",)),
    ("affiliates.Affiliate", ("created_at", "updated_at")),
    ("affiliates.Deal", ("created_at",)),
    ("affiliates.DealVersion", ("created_at",)),
    ("affiliates.DealAssignment", ("created_at",)),
    ("commissions.CommissionEntry", ("created_at",)),
)

_buffer: ContextVar[list[LogEntry] | None] = ContextVar("audit_buffer", default=None)


def audited_models() -> list[type[models.Model]]:
    from django.apps import apps

    return [apps.get_model(label) for label, _ in AUDITED]


def register_audited_models() -> None:
    """Register the audited models with django-auditlog (called once, from CoreConfig.ready)."""
    for model, (_, excluded) in zip(audited_models(), AUDITED, strict=True):
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=list(excluded))


def _text(value) -> str:
    # django-auditlog stores every value as text ("None" for null); the history reads the same either way.
    if isinstance(value, models.Model):
        return str(value.pk)
    return "None" if value is None else str(value)


def _person(actor):
    if isinstance(actor, get_user_model()) and actor.is_authenticated:
        return actor
    return None


def audit_record(
    *,
    obj: models.Model | None = None,
    model: type[models.Model] | None = None,
    pk=None,
    action: str | int = "update",
    changes: dict,
    actor=None,
    reason: str = "",
    label: str = "",
    data: dict | None = None,
) -> LogEntry:
    """Record a change that django-auditlog cannot see (a queryset update, a bulk insert).

    `obj`, or `model` and `pk`, names the object. `changes` maps a field to `(old, new)`. The actor is
    `actor`, else the signed-in user of the current request (or `set_actor()` block), else none (a system
    change). `reason` is the
    why, kept in `additional_data["reason"]`. Inside `audit_collect()` the row is written when the block
    ends; otherwise at once.
    """
    if obj is not None:
        model, pk = type(obj), obj.pk
    if model is None or pk is None:
        raise ValueError("audit_record needs obj, or model and pk.")
    action = ACTIONS[action] if isinstance(action, str) else action
    who = _person(actor)
    extra = dict(data or {})
    if reason:
        extra["reason"] = reason[:2000]
    entry = LogEntry(
        content_type=ContentType.objects.get_for_model(model),
        object_pk=str(pk),
        object_id=pk if isinstance(pk, int) else None,
        object_repr=(label or (str(obj) if obj is not None else f"{model._meta.verbose_name} #{pk}"))[:2000],
        action=action,
        changes={field: [_text(old), _text(new)] for field, (old, new) in changes.items()},
        actor=who,
        cid=get_cid(),
        timestamp=timezone.now(),
        additional_data=extra or None,
    )
    # What django-auditlog does for its own rows: inside a request (AuditlogMiddleware) or set_actor(), its
    # pre_save receiver fills in the signed-in user (unless an actor was given) and the remote address.
    # bulk_create sends no signal, so it is sent here.
    pre_save.send(sender=LogEntry, instance=entry, raw=False, using=router.db_for_write(LogEntry), update_fields=None)
    if entry.actor is not None and not entry.actor_email:
        entry.actor_email = getattr(entry.actor, "email", None) or None
    buffered = _buffer.get()
    if buffered is not None:
        buffered.append(entry)
    else:
        LogEntry.objects.bulk_create([entry])
    return entry


@contextlib.contextmanager
def audit_collect():
    """Buffer the `audit_record()` calls of a block and write them with one bulk INSERT at its end
    (inside the caller's transaction, so the history commits or rolls back with the change)."""
    if _buffer.get() is not None:  # nested: the outer block writes everything
        yield
        return
    rows: list[LogEntry] = []
    token = _buffer.set(rows)
    try:
        yield
    finally:
        _buffer.reset(token)
    if rows:
        LogEntry.objects.bulk_create(rows, batch_size=2000)


def audit_history(*, model: type[models.Model], pks: Iterable) -> models.QuerySet[LogEntry]:
    """The recorded changes of some objects of `model`, newest first."""
    content_type = ContentType.objects.get_for_model(model)
    return LogEntry.objects.filter(content_type=content_type, object_pk__in=[str(pk) for pk in pks]).order_by(
        "-timestamp", "-pk"
    )
