"""Writes for sources, mappings and FX rates. Ingestion itself is in `ingestion.py`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from core.keys import api_key_create
from core.models import ApiKeyScope
from core.money import is_currency

from .fx import FxImportError, base_currency, parse_ecb_csv
from .ingestion import source_runtime_forget
from .mapping import MappingError, compile_mapping
from .models import FxRate, MappingVersion, Source
from .presets import preset_mapping, preset_names


def mapping_validate(mapping) -> dict:
    """The mapping if it compiles; ValidationError listing every problem otherwise."""
    if not isinstance(mapping, dict):
        raise ValidationError({"mapping": ["The mapping must be a JSON object."]})
    try:
        compile_mapping(mapping)
    except MappingError as exc:
        raise ValidationError({"mapping": exc.errors}) from None
    return mapping


def _initial_mapping(preset: str, mapping: dict | None) -> dict:
    if preset and preset not in preset_names():
        raise ValidationError({"preset": [f"Unknown preset {preset!r}; known: {', '.join(preset_names())}."]})
    if mapping:
        return mapping
    return preset_mapping(preset) if preset else {}


@transaction.atomic
def source_create(
    *,
    slug: str,
    name: str,
    brand,
    kind: str = "other",
    preset: str = "",
    mapping: dict | None = None,
    test_mode: bool = False,
    derive_ftd: bool = False,
    is_active: bool = True,
    rate_limit_per_minute: int = 6000,
    created_by=None,
    key_name: str = "",
) -> tuple[Source, str]:
    """Create a source (mapping from `mapping`, else from its preset) with mapping version 1 and its
    first source key. Returns the source and the raw key, shown only now."""
    mapping = mapping_validate(_initial_mapping(preset, mapping))
    source = Source(
        slug=slug,
        name=name,
        brand=brand,
        kind=kind,
        preset=preset,
        mapping=mapping,
        test_mode=test_mode,
        derive_ftd=derive_ftd,
        is_active=is_active,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    source.full_clean()
    source.save()
    MappingVersion.objects.create(
        source=source, version=1, mapping=mapping, note=f"created{f' from preset {preset}' if preset else ''}",
        created_by=created_by,
    )  # fmt: skip
    _, raw = api_key_create(name=key_name or f"{slug} ingestion", scope=ApiKeyScope.SOURCE, source=source)
    source_runtime_forget()
    return source, raw


def mapping_save(*, source: Source, mapping: dict, by=None, note: str = "") -> MappingVersion:
    """Make `mapping` the source's mapping as a new version (who, when, why). An unchanged mapping
    makes no version."""
    mapping = mapping_validate(mapping)
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        latest = source.mapping_versions.order_by("-version").first()
        if latest is not None and latest.mapping == mapping and source.mapping == mapping:
            return latest
        number = (source.mapping_versions.aggregate(m=Max("version"))["m"] or 0) + 1
        version = MappingVersion.objects.create(
            source=source, version=number, mapping=mapping, note=note[:500], created_by=by
        )
        Source.objects.filter(pk=source.pk).update(mapping=mapping)
    source_runtime_forget()
    return version


SOURCE_FIELDS = ("name", "kind", "preset", "test_mode", "derive_ftd", "is_active", "rate_limit_per_minute")


def source_update(*, source: Source, by=None, note: str = "", mapping: dict | None = None, **changes) -> Source:
    """Change a source's settings; a changed mapping becomes a new mapping version. A new preset without
    a mapping resets the mapping to the preset's."""
    unknown = set(changes) - set(SOURCE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    if "preset" in changes and changes["preset"] and changes["preset"] not in preset_names():
        raise ValidationError({"preset": [f"Unknown preset {changes['preset']!r}."]})
    if mapping is None and changes.get("preset") and changes["preset"] != source.preset:
        mapping = preset_mapping(changes["preset"])
        note = note or f"reset to preset {changes['preset']}"
    with transaction.atomic():
        for name, value in changes.items():
            setattr(source, name, value)
        source.full_clean()
        if changes:
            source.save(update_fields=list(changes))
        if mapping is not None:
            mapping_save(source=source, mapping=mapping, by=by, note=note)
            source.refresh_from_db(fields=["mapping"])
    source_runtime_forget()
    return source


def fx_rate_create(*, currency: str, date: date, rate: Decimal, origin: str = "manual") -> FxRate:
    if not is_currency(currency):
        raise ValidationError({"currency": [f"{currency!r} is not an ISO 4217 currency code."]})
    if currency == base_currency():
        raise ValidationError({"currency": [f"{currency} is the base currency (its rate is always 1)."]})
    if rate is None or not Decimal(rate).is_finite() or rate <= 0:
        raise ValidationError({"rate": ["Must be a positive number."]})
    if FxRate.objects.filter(currency=currency, date=date).exists():
        raise ValidationError({"date": [f"A {currency} rate for {date.isoformat()} exists already."]})
    rate_row = FxRate(currency=currency, date=date, rate=rate, origin=origin)
    rate_row.full_clean()
    rate_row.save()
    return rate_row


@transaction.atomic
def fx_rates_import(*, text: str, origin: str = "ECB csv") -> dict:
    """Import an ECB reference-rate CSV; a rate already stored for a day is replaced. Returns counts."""
    try:
        rows = parse_ecb_csv(text)
    except FxImportError as exc:
        raise ValidationError({"file": [str(exc)]}) from None
    created = updated = 0
    for currency, day, rate in rows:
        _, was_created = FxRate.objects.update_or_create(
            currency=currency, date=day, defaults={"rate": rate, "origin": origin}
        )
        created += was_created
        updated += not was_created
    return {"created": created, "updated": updated, "days": len({d for _, d, _ in rows})}
