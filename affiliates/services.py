"""Writes for brands, affiliates, deals and assignments. Views and admin actions call these."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from core.audit import audit_record
from integrations.webhooks.outbox import outbox_publish

from .choices import ALLOWED_TRANSITIONS, AffiliateStatus
from .models import Affiliate, AffiliateStatusChange, Brand, Deal, DealAssignment, DealVersion
from .terms import terms_to_json, validate_overrides, validate_terms

TERM_FIELDS = (
    "name", "kind", "currency", "hold_days", "countries", "valid_from", "valid_to", "cpa_amount", "country_amounts",
    "qualification", "cpa_daily_cap", "cpa_monthly_cap", "revshare_percent", "revenue_basis", "negative_carryover",
    "tiers", "tier_application", "cpl_amount", "rebate_per_lot", "rebate_groups", "lot_step", "lot_rounding",
    "prop_percent", "prop_pass_amount", "prop_funded_amount", "prop_include_resets", "subaffiliate_percent",
)  # fmt: skip
JSON_TERMS = ("countries", "country_amounts", "qualification", "tiers", "rebate_groups")


# --- Affiliates ---------------------------------------------------------------------------------


def affiliate_create(*, by=None, **fields) -> Affiliate:
    affiliate = Affiliate(**fields)
    affiliate.full_clean()
    with transaction.atomic():
        affiliate.save()
        AffiliateStatusChange.objects.create(
            affiliate=affiliate, from_status="", to_status=affiliate.status, reason="created", changed_by=by
        )
        outbox_publish(type="affiliate.created", data=_affiliate_payload(affiliate), affiliate_id=affiliate.pk)
    return affiliate


def _affiliate_payload(affiliate: Affiliate) -> dict:
    return {
        "id": affiliate.pk, "name": affiliate.name, "email": affiliate.email, "company": affiliate.company,
        "country": str(affiliate.country or ""), "status": affiliate.status, "parent": affiliate.parent_id,
        "manager": affiliate.manager_id, "created_at": affiliate.created_at.isoformat(),
    }  # fmt: skip


PAYMENT_FIELDS = ("payment_method", "payment_details", "payout_currency", "payout_threshold")


def affiliate_update(*, affiliate: Affiliate, by=None, **fields) -> Affiliate:
    """Update an affiliate's details. The status is changed only by `affiliate_set_status`."""
    if "status" in fields:
        raise ValidationError({"status": "Change the status with approve, suspend or reject."})
    before = {name: getattr(affiliate, name) for name in PAYMENT_FIELDS}
    for name, value in fields.items():
        setattr(affiliate, name, value)
    affiliate.full_clean()
    with transaction.atomic():
        affiliate.save()
        if any(getattr(affiliate, name) != value for name, value in before.items()):
            payment = {name: getattr(affiliate, name) for name in PAYMENT_FIELDS}
            payment["payout_threshold"] = f"{Decimal(str(payment['payout_threshold'])):.2f}"
            outbox_publish(
                type="affiliate.payment_details_changed",
                data={"id": affiliate.pk, **payment},
                affiliate_id=affiliate.pk,
            )
    return affiliate


def affiliate_set_status(*, affiliate: Affiliate, status: str, reason: str = "", by=None) -> Affiliate:
    """Move an affiliate through its workflow, recording who, when and why."""
    with transaction.atomic():
        affiliate = Affiliate.objects.select_for_update().get(pk=affiliate.pk)
        current = affiliate.status
        if status == current:
            return affiliate
        if status not in ALLOWED_TRANSITIONS[current]:
            raise ValidationError(
                {"status": f"An affiliate that is {current} cannot become {status}."}, code="invalid_transition"
            )
        if status in (AffiliateStatus.REJECTED, AffiliateStatus.SUSPENDED) and not reason.strip():
            raise ValidationError({"reason": f"A reason is required to make an affiliate {status}."})
        affiliate.status = status
        affiliate.status_reason = reason.strip()
        update = ["status", "status_reason", "updated_at"]
        if status == AffiliateStatus.ACTIVE and affiliate.approved_at is None:
            affiliate.approved_at = timezone.now()
            update.append("approved_at")
        affiliate.save(update_fields=update)
        change = AffiliateStatusChange.objects.create(
            affiliate=affiliate, from_status=current, to_status=status, reason=reason.strip(), changed_by=by
        )
        outbox_publish(
            type="affiliate.status_changed",
            data={"id": affiliate.pk, "from_status": current, "to_status": status, "reason": change.reason,
                  "changed_at": change.changed_at.isoformat()},
            affiliate_id=affiliate.pk,
        )  # fmt: skip
    return affiliate


def affiliate_approve(*, affiliate: Affiliate, by=None, reason: str = "") -> Affiliate:
    return affiliate_set_status(affiliate=affiliate, status=AffiliateStatus.ACTIVE, reason=reason, by=by)


def affiliate_suspend(*, affiliate: Affiliate, reason: str, by=None) -> Affiliate:
    return affiliate_set_status(affiliate=affiliate, status=AffiliateStatus.SUSPENDED, reason=reason, by=by)


def affiliate_reject(*, affiliate: Affiliate, reason: str, by=None) -> Affiliate:
    return affiliate_set_status(affiliate=affiliate, status=AffiliateStatus.REJECTED, reason=reason, by=by)


# --- Deals --------------------------------------------------------------------------------------


def _version_fields(terms: dict) -> dict:
    as_json = terms_to_json({k: terms[k] for k in JSON_TERMS})
    return {name: as_json[name] if name in JSON_TERMS else terms[name] for name in TERM_FIELDS}


def brand_today(brand: Brand) -> date:
    import zoneinfo

    return timezone.now().astimezone(zoneinfo.ZoneInfo(brand.timezone)).date()


def deal_create(*, brand: Brand, terms: dict, by=None, effective_from: date | None = None, note: str = "") -> Deal:
    """Create a deal and its first version. `terms` are raw values; they are validated here."""
    clean = validate_terms(terms)
    with transaction.atomic():
        if Deal.objects.filter(brand=brand, name=clean["name"]).exists():
            raise ValidationError({"name": "This brand already has a deal with this name."})
        deal = Deal.objects.create(brand=brand, name=clean["name"], kind=clean["kind"], current_version=1)
        DealVersion.objects.create(
            deal=deal,
            version=1,
            effective_from=effective_from or clean.get("valid_from") or brand_today(brand),
            change_note=note or "created",
            created_by=by,
            **_version_fields(clean),
        )
    return deal


def deal_update(*, deal: Deal, terms: dict, by=None, effective_from: date | None = None, note: str = "") -> DealVersion:
    """Make a new version of a deal's terms, in force from `effective_from` (default: today in the brand's
    time zone). Earlier versions stay as they were: terms never change retroactively. A partial `terms`
    changes only the terms it names."""
    with transaction.atomic():
        deal = Deal.objects.select_for_update().get(pk=deal.pk)
        current = deal.versions.get(version=deal.current_version)
        merged = {**deal_version_terms(current), **terms}
        if merged["kind"] != deal.kind and deal.assignments.exists():
            raise ValidationError({"kind": "An assigned deal keeps its kind; create a new deal instead."})
        clean = validate_terms(merged)
        start = effective_from or brand_today(deal.brand)
        if start < current.effective_from:
            raise ValidationError(
                {"effective_from": f"Must not be before the current version's start ({current.effective_from})."}
            )
        if clean["name"] != deal.name and Deal.objects.filter(brand=deal.brand, name=clean["name"]).exists():
            raise ValidationError({"name": "This brand already has a deal with this name."})
        if _version_fields(clean) == _version_fields(validate_terms(deal_version_terms(current))):
            return current  # nothing changed: no new version
        version = DealVersion.objects.create(
            deal=deal,
            version=current.version + 1,
            effective_from=start,
            change_note=note,
            created_by=by,
            **_version_fields(clean),
        )
        deal.current_version = version.version
        deal.name = clean["name"]
        deal.kind = clean["kind"]
        deal.save(update_fields=["current_version", "name", "kind"])
        outbox_publish(
            type="deal.changed",
            data={"id": deal.pk, "brand": deal.brand.slug, "version": version.version,
                  "effective_from": version.effective_from.isoformat(), "terms": deal_version_terms(version)},
            brand_id=deal.brand_id,
        )  # fmt: skip
    return version


def deal_version_terms(version: DealVersion) -> dict:
    """A version's terms as plain JSON-safe values (the shape the API shows and accepts)."""
    return terms_to_json({name: getattr(version, name) for name in TERM_FIELDS})


def deal_assignment_create(
    *,
    deal: Deal,
    affiliate: Affiliate | None,
    valid_from: date,
    valid_to: date | None = None,
    overrides: dict | None = None,
    note: str = "",
    by=None,
) -> DealAssignment:
    """Assign a deal to an affiliate (or as the brand's default). Assignments for the same affiliate and
    brand must not overlap in time: which deal applies on a day has one answer."""
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError({"valid_to": "Must be on or after valid_from."})
    if not deal.is_active:
        raise ValidationError({"deal": "This deal is inactive."})
    clean_overrides = {}
    if overrides:
        if affiliate is None:
            raise ValidationError({"overrides": "Overrides apply to one affiliate; a default assignment has none."})
        current = deal.versions.get(version=deal.current_version)
        clean_overrides = terms_to_json(validate_overrides(overrides, kind=deal.kind, base=deal_version_terms(current)))
    with transaction.atomic():
        if affiliate is not None:
            Affiliate.objects.select_for_update().filter(pk=affiliate.pk).first()
        else:
            Brand.objects.select_for_update().filter(pk=deal.brand_id).first()
        overlapping = DealAssignment.objects.filter(brand=deal.brand, affiliate=affiliate).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from)
        )
        if valid_to is not None:
            overlapping = overlapping.filter(valid_from__lte=valid_to)
        clash = overlapping.select_related("deal").first()
        if clash is not None:
            end = clash.valid_to or "open-ended"
            raise ValidationError(
                {"valid_from": f"Overlaps assignment #{clash.pk} ({clash.deal.name}, {clash.valid_from} – {end})."},
                code="overlapping_assignment",
            )
        assignment = DealAssignment.objects.create(
            deal=deal,
            brand=deal.brand,
            affiliate=affiliate,
            valid_from=valid_from,
            valid_to=valid_to,
            overrides=clean_overrides,
            note=note,
            created_by=by,
        )
        outbox_publish(
            type="deal.assigned",
            data={"id": assignment.pk, "deal": deal.pk, "deal_version": deal.current_version, "brand": deal.brand.slug,
                  "affiliate": assignment.affiliate_id, "valid_from": valid_from.isoformat(),
                  "valid_to": valid_to.isoformat() if valid_to else None, "overrides": clean_overrides},
            affiliate_id=assignment.affiliate_id,
            brand_id=deal.brand_id,
        )  # fmt: skip
    return assignment


def deal_set_active(*, deal: Deal, active: bool, by=None) -> Deal:
    """Open or close a deal for new assignments. Assignments already made keep their terms and dates:
    closing a deal never changes what was agreed (end an assignment to stop paying it)."""
    with transaction.atomic():
        changed = Deal.objects.filter(pk=deal.pk, is_active=not active).update(is_active=active)
        deal.refresh_from_db()
        if changed:
            audit_record(obj=deal, changes={"is_active": (not active, active)}, actor=by)  # an update() is not seen
            outbox_publish(
                type="deal.changed",
                data={"id": deal.pk, "brand": deal.brand.slug, "version": deal.current_version, "is_active": active},
                brand_id=deal.brand_id,
            )
    return deal


def deal_assignment_delete(*, assignment: DealAssignment) -> None:
    assignment.delete()
