"""Writes of the payouts app: generate a statement (idempotent per affiliate, scope and period), adjust it,
approve it, mark it paid, cancel it. Every function here is keyword-only and the only way statements change.

Concurrency: generation locks the affiliate row, so two generators of one affiliate run one after the other;
a statement's status changes lock its row (select_for_update) and check the status they expect, so of two
approvers one wins and the other gets a clear conflict. Entries move approved → paid by compare-and-swap in
commissions.ledger; if one of them is no longer approved the payment is refused and nothing changes.
"""

import datetime as dt
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from affiliates.choices import AffiliateStatus, PayoutFrequency, PayoutScope
from affiliates.models import Affiliate, Brand, DealAssignment, DealVersion
from commissions import ledger
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from core.money import quantize
from core.problems import Problem
from integrations.fx import MissingRate, rate_for
from integrations.webhooks.outbox import outbox_publish

from . import periods
from .choices import LIVE_STATUSES, StatementStatus
from .models import Invoice, InvoiceSequence, PayoutAdjustment, PayoutStatement, StatementLine

ZERO = Decimal("0")
RATE_PLACES = Decimal("0.0000000001")
ALL = "all"


def _money(amount: Decimal, currency: str) -> str:
    return f"{quantize(amount, currency)} {currency}"


def scope_key(brand: Brand | None) -> str:
    return f"brand:{brand.pk}" if brand is not None else ALL


def statement_data(statement: PayoutStatement) -> dict:
    """A statement as JSON-safe data for webhooks."""
    ccy = statement.currency
    invoice = getattr(statement, "invoice", None) if statement.pk else None
    return {
        "id": statement.pk, "affiliate_id": statement.affiliate_id, "brand_id": statement.brand_id,
        "period": statement.period, "period_start": statement.period_start.isoformat(),
        "period_end": statement.period_end.isoformat(), "status": statement.status, "currency": ccy,
        "amount": str(quantize(statement.amount, ccy)), "total": str(quantize(statement.total, ccy)),
        "carried_in": str(quantize(statement.carried_in, ccy)), "carry_out": str(quantize(statement.carry_out, ccy)),
        "payment_reference": statement.payment_reference, "payment_method": statement.payment_method,
        "paid_on": statement.paid_on.isoformat() if statement.paid_on else None,
        "invoice_number": invoice.number if invoice else None,
    }  # fmt: skip


def _announce(statement: PayoutStatement, type: str) -> None:
    outbox_publish(
        type=type, data=statement_data(statement), affiliate_id=statement.affiliate_id, brand_id=statement.brand_id
    )


# --- FX ----------------------------------------------------------------------------------------------


def fx_rate(source: str, target: str, on: dt.date) -> tuple[Decimal, dt.date]:
    """Units of `target` per unit of `source` on `on` (crossed through the base currency), and the rate's date."""
    if source == target:
        return Decimal(1), on
    try:
        source_rate, source_date = rate_for(source, on)
        target_rate, target_date = rate_for(target, on)
    except MissingRate as missing:
        raise Problem(
            status_code=422,
            code="missing_fx_rate",
            title="An FX rate is missing for the payout currency.",
            detail=f"No {missing.currency} rate on or up to 7 days before {missing.on.isoformat()}: add it "
            "under FX rates (or import the ECB file), then generate again.",
        ) from None
    rate = (source_rate / target_rate).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)
    return rate, min(source_date, target_date)


# --- Generation --------------------------------------------------------------------------------------


@dataclass
class Generation:
    """What a generation run did: statements created or refreshed, and affiliates skipped with the reason."""

    statements: list[PayoutStatement] = field(default_factory=list)
    created: int = 0
    refreshed: int = 0
    skipped: list[dict] = field(default_factory=list)


def _eligible(affiliate: Affiliate, brand: Brand | None, period: periods.Period):
    """Approved entries of the affiliate up to the end of the period (in each brand's time zone) that no live
    statement holds: this period's, and earlier ones approved late or booked later (a reversal after payment)."""
    in_live = StatementLine.objects.filter(entry_id=OuterRef("pk"), live=True)
    rows = CommissionEntry.objects.filter(affiliate_id=affiliate.pk, status=EntryStatus.APPROVED).exclude(
        Exists(in_live)
    )
    brands = [brand] if brand is not None else list(Brand.objects.filter(pk__in=rows.values("brand_id")))
    if not brands:
        return rows.none()
    when = Q()
    for b in brands:
        when |= Q(brand_id=b.pk, occurred_at__lt=period.end_moment(b.timezone))
    return rows.filter(when)


def _carries_negative(affiliate_id: int, version_ids: set[int], carried_in: Decimal) -> bool:
    """A negative total carries over where a deal of its entries says so (negative_carryover, or the affiliate's
    override of it); a balance that was carried negative before keeps carrying."""
    if carried_in < 0:
        return True
    versions = dict(DealVersion.objects.filter(pk__in=version_ids).values_list("deal_id", "negative_carryover"))
    overrides = DealAssignment.objects.filter(affiliate_id=affiliate_id, deal_id__in=versions).values_list(
        "deal_id", "overrides"
    )
    for deal_id, terms in overrides:
        if isinstance(terms, dict) and "negative_carryover" in terms:
            versions[deal_id] = bool(terms["negative_carryover"])
    return any(versions.values())


def _compute(statement: PayoutStatement, *, affiliate: Affiliate, lines=None, adjusted: bool = True) -> None:
    """Totals of a statement from its live lines (or `lines`: (currency, amount, deal version id) of all of them),
    its carry in and its adjustments (`adjusted=False`: it has none yet). In memory; the caller saves."""
    ccy = statement.currency
    subtotals = defaultdict(lambda: ZERO)
    versions: set[int] = set()
    count = 0
    if lines is None:
        lines = statement.lines.filter(live=True).values_list("currency", "amount", "entry__deal_version_id")
    for currency, amount, version_id in lines:
        subtotals[currency] += amount
        count += 1
        if version_id:
            versions.add(version_id)
    fx_rows, entries_total = [], ZERO
    for currency in sorted(subtotals):
        rate, rate_date = fx_rate(currency, ccy, statement.period_end)
        converted = quantize(subtotals[currency] * rate, ccy)
        entries_total += converted
        fx_rows.append({
            "currency": currency, "amount": str(subtotals[currency]), "rate": str(rate),
            "rate_date": rate_date.isoformat(), "converted": str(converted),
        })  # fmt: skip
    adjustments = (statement.adjustments.aggregate(total=Sum("amount"))["total"] or ZERO) if adjusted else ZERO
    statement.fx_date = statement.period_end
    statement.fx_rates = fx_rows
    statement.entries_total = entries_total
    statement.adjustments_total = adjustments
    statement.total = quantize(entries_total + statement.carried_in + adjustments, ccy)
    statement.threshold = affiliate.payout_threshold
    total = statement.total
    statement.negative_carryover = total < 0 and _carries_negative(affiliate.pk, versions, statement.carried_in)
    parts = [f"{count} approved entr{'y' if count == 1 else 'ies'}: {_money(entries_total, ccy)}"]
    for row in fx_rows:
        if row["currency"] != ccy:
            parts.append(f"({row['amount']} {row['currency']} at {row['rate']} of {row['rate_date']})")
    if statement.carried_in:
        parts.append(f"+ carried in {_money(statement.carried_in, ccy)}")
    if adjustments:
        parts.append(f"+ adjustments {_money(adjustments, ccy)}")
    text = " ".join(parts) + f" = total {_money(total, ccy)}."
    statement.written_off = ZERO
    if total < 0:
        statement.amount = ZERO
        if statement.negative_carryover:
            statement.carry_out = total
            text += f" Negative: {_money(-total, ccy)} is carried into the next statement (the deal carries negatives)."
        else:
            statement.carry_out = ZERO
            statement.written_off = total
            text += f" Negative: the deal does not carry negatives, so {_money(-total, ccy)} is reset to zero."
    elif total == 0:
        statement.amount = statement.carry_out = ZERO
        text += " Nothing to pay."
    elif total < statement.threshold:
        statement.amount = ZERO
        statement.carry_out = total
        text += f" Under the payout threshold of {_money(statement.threshold, ccy)}: carried into the next statement."
    else:
        statement.amount = total
        statement.carry_out = ZERO
        text += f" To pay: {_money(total, ccy)}."
    statement.explanation = text


def _carry_in(statement: PayoutStatement, previous: PayoutStatement | None) -> None:
    statement.carried_from = None
    statement.carried_in = ZERO
    if previous is None or not previous.carry_out:
        return
    taken = previous.carried_into.filter(status__in=LIVE_STATUSES)
    if statement.pk:
        taken = taken.exclude(pk=statement.pk)
    if taken.exists():
        return
    rate, _ = fx_rate(previous.currency, statement.currency, statement.period_end)
    statement.carried_from = previous
    statement.carried_in = quantize(previous.carry_out * rate, statement.currency)


def _refuse_if_carried(statement: PayoutStatement, doing: str) -> None:
    later = statement.carried_into.filter(status__in=LIVE_STATUSES).first()
    if later is not None:
        raise Problem(
            status_code=409,
            code="carry_taken",
            title=f"This statement's balance is already carried into statement #{later.pk}.",
            detail=f"Cancel statement #{later.pk} ({later.period}) first, then {doing} this one.",
        )


def _require_active(affiliate: Affiliate) -> None:
    if affiliate.status != AffiliateStatus.ACTIVE:
        raise Problem(
            status_code=409,
            code="affiliate_not_active",
            title=f"The affiliate is {affiliate.status}: no payout statement is drawn up, approved or paid.",
            detail=f"{affiliate} is {affiliate.get_status_display().lower()}"
            + (f" ({affiliate.status_reason})" if affiliate.status_reason else "")
            + ". Reactivate the affiliate first.",
        )


def _statement_for_scope(
    *, affiliate: Affiliate, brand: Brand | None, period: periods.Period, by=None
) -> tuple[PayoutStatement | None, bool]:
    """Create or refresh the statement of one scope; (statement, created). Called inside a transaction with the
    affiliate locked. Few queries: a month's run makes thousands of these."""
    scope = scope_key(brand)
    # This period's live statement (locked: an approval waits for the refresh) and the one before it.
    recent = list(
        PayoutStatement.objects.select_for_update(of=("self",))
        .filter(affiliate_id=affiliate.pk, scope=scope, status__in=LIVE_STATUSES, period_start__lte=period.start)
        .order_by("-period_start", "-pk")[:2]
    )
    existing = next((s for s in recent if s.period == period.key), None)
    previous = next((s for s in recent if s.period_start < period.start), None)
    if existing is not None and existing.status == StatementStatus.PAID:
        raise Problem(
            status_code=409,
            code="period_already_paid",
            title="This period is already paid; it is not generated again.",
            detail=f"Statement #{existing.pk} for {period.key} was paid on {existing.paid_on} "
            f"(reference {existing.payment_reference}). Later entries go into the next period's statement.",
        )
    if existing is not None and existing.status == StatementStatus.APPROVED:
        raise Problem(
            status_code=409,
            code="statement_already_approved",
            title="This period's statement is already approved; it is not generated again.",
            detail=f"Statement #{existing.pk} for {period.key} is approved. Cancel it (with a reason) to redo it.",
        )
    _require_active(affiliate)
    if existing is not None:
        _refuse_if_carried(existing, "regenerate")
    statement = existing or PayoutStatement(
        affiliate=affiliate, brand=brand, scope=scope, frequency=period.frequency, period=period.key,
        period_start=period.start, period_end=period.end, currency=affiliate.payout_currency, created_by=by,
    )  # fmt: skip
    new_ids = list(
        _eligible(affiliate, brand, period)
        .order_by("pk")
        .values_list("pk", "kind", "amount", "currency", "deal_version_id")
    )
    if existing is not None and existing.currency != affiliate.payout_currency:
        statement.currency = affiliate.payout_currency
    _carry_in(statement, previous)
    if existing is None and not new_ids and not statement.carried_in:
        return None, False
    if existing is None:
        # Every line is new: the totals come from them, and the statement is written once, complete.
        lines = [(currency, amount, version) for _, _, amount, currency, version in new_ids]
        _compute(statement, affiliate=affiliate, lines=lines, adjusted=False)
        statement.save()
    try:
        StatementLine.objects.bulk_create(
            [
                StatementLine(statement=statement, entry_id=pk, kind=kind, amount=amount, currency=currency)
                for pk, kind, amount, currency, _ in new_ids
            ],
            batch_size=5000,
        )
    except IntegrityError:
        raise Problem(
            status_code=409,
            code="conflict",
            title="Entries were taken by another statement meanwhile.",
            detail="Generate again: the entries already on a statement are left out.",
        ) from None
    if existing is not None:
        before = _totals(statement)
        _compute(statement, affiliate=affiliate)
        if new_ids or _totals(statement) != before:
            statement.save()
    return statement, existing is None


def _totals(statement: PayoutStatement) -> tuple:
    return (
        statement.entries_total, statement.carried_in, statement.carried_from_id, statement.adjustments_total,
        statement.total, statement.amount, statement.carry_out, statement.written_off, statement.threshold,
        statement.currency, statement.explanation, statement.fx_rates,
    )  # fmt: skip


def _brands_to_state(affiliate: Affiliate, period: periods.Period) -> list[Brand]:
    """The brands a per-brand affiliate gets a statement for: those with approved entries not yet on one, or
    with a balance carried from an earlier statement, or with a statement for the period already."""
    ids = set(
        CommissionEntry.objects.filter(affiliate_id=affiliate.pk, status=EntryStatus.APPROVED)
        .order_by()
        .values_list("brand_id", flat=True)
        .distinct()
    )
    stated = PayoutStatement.objects.filter(affiliate_id=affiliate.pk, status__in=LIVE_STATUSES, brand__isnull=False)
    stated = stated.filter(Q(period_start__lt=period.start) & ~Q(carry_out=0) | Q(period=period.key))
    ids |= set(stated.order_by().values_list("brand_id", flat=True).distinct())
    return list(Brand.objects.filter(pk__in=ids).order_by("pk"))


def _check_period(affiliate: Affiliate, period: periods.Period, brands: list[Brand], now: dt.datetime) -> None:
    if affiliate.payout_frequency != period.frequency:
        raise Problem(
            status_code=400,
            code="period_frequency_mismatch",
            title="The period does not match the affiliate's payout frequency.",
            detail=f"{affiliate} is paid {affiliate.payout_frequency}; {period.key} is a {period.frequency} period.",
        )
    for brand in brands:
        if not period.closed(brand.timezone, now):
            raise Problem(
                status_code=409,
                code="period_open",
                title="The period has not ended yet.",
                detail=f"{period.key} ends at {period.end_moment(brand.timezone).isoformat()} ({brand.timezone}); "
                "statements are drawn up once it is over.",
            )


def statement_generate(
    *, affiliate: Affiliate, period: str, brand: Brand | None = None, by=None, now: dt.datetime | None = None
) -> Generation:
    """Draw up (or refresh, while draft) an affiliate's statements for a period: one per brand or one across
    brands, as the affiliate is configured. Idempotent: running it again with nothing new changes nothing.
    Raises Problem for a bad period, a suspended affiliate, a paid or approved period, or a missing FX rate."""
    try:
        p = periods.parse(period)
    except periods.PeriodError as exc:
        raise Problem(status_code=400, code="invalid_period", title="Invalid period.", detail=str(exc)) from None
    now = now or timezone.now()
    out = Generation()
    with transaction.atomic():
        affiliate = Affiliate.objects.select_for_update().get(pk=affiliate.pk)
        if affiliate.payout_scope == PayoutScope.ALL_BRANDS:
            scopes = [None]
            check = list(Brand.objects.filter(commissions__affiliate=affiliate).distinct()) or list(
                Brand.objects.all()[:1]
            )
        else:
            scopes = [brand] if brand is not None else _brands_to_state(affiliate, p)
            check = [b for b in scopes if b is not None]
        _check_period(affiliate, p, check, now)
        if brand is not None and affiliate.payout_scope == PayoutScope.ALL_BRANDS:
            raise Problem(
                status_code=400,
                code="scope_mismatch",
                title="The affiliate is paid across brands.",
                detail=f"{affiliate} gets one statement across all brands; generate without a brand.",
            )
        problems: list[Problem] = []
        for scope in scopes:
            try:
                # A savepoint per brand only where one brand's refusal must not undo another's statement.
                with transaction.atomic() if len(scopes) > 1 else nullcontext():
                    statement, created = _statement_for_scope(affiliate=affiliate, brand=scope, period=p, by=by)
            except Problem as problem:
                if brand is not None or len(scopes) == 1:
                    raise
                # One brand's statement already approved or paid: the affiliate's other brands go on.
                problems.append(problem)
                out.skipped.append({"affiliate": affiliate.pk, "code": problem.code, "message": str(problem.detail)})
                continue
            if statement is not None:
                out.statements.append(statement)
                out.created += created
                out.refreshed += not created
        if problems and not out.statements:
            raise problems[0]
    return out


def statements_generate(
    *, period: str, brand: Brand | None = None, affiliate_ids: list[int] | None = None, by=None,
    now: dt.datetime | None = None,
) -> Generation:  # fmt: skip
    """`statement_generate` for every active affiliate paid at the period's frequency (or those given), each
    in its own transaction: an affiliate that cannot be stated is skipped with the reason, never the others."""
    try:
        p = periods.parse(period)
    except periods.PeriodError as exc:
        raise Problem(status_code=400, code="invalid_period", title="Invalid period.", detail=str(exc)) from None
    if brand is not None and not p.closed(brand.timezone, now or timezone.now()):
        raise Problem(
            status_code=409, code="period_open", title="The period has not ended yet.",
            detail=f"{p.key} ends at {p.end_moment(brand.timezone).isoformat()} ({brand.timezone}).",
        )  # fmt: skip
    rows = Affiliate.objects.filter(payout_frequency=p.frequency)
    if affiliate_ids is not None:
        rows = rows.filter(pk__in=affiliate_ids)
    else:
        rows = rows.filter(status=AffiliateStatus.ACTIVE)
    if brand is not None:
        rows = rows.filter(payout_scope=PayoutScope.PER_BRAND)
    out = Generation()
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        # A batch of affiliates commits once (each affiliate in its own savepoint, so one that is refused rolls
        # back alone): the commit, not the work, is what a statement of a few hundred lines mostly costs.
        with transaction.atomic():
            for affiliate in Affiliate.objects.filter(pk__in=ids[start : start + BATCH]).order_by("pk"):
                try:
                    one = statement_generate(affiliate=affiliate, period=p.key, brand=brand, by=by, now=now)
                except Problem as problem:
                    out.skipped.append(
                        {"affiliate": affiliate.pk, "code": problem.code, "message": str(problem.detail)}
                    )
                    continue
                out.statements += one.statements
                out.created += one.created
                out.refreshed += one.refreshed
                out.skipped += one.skipped
    return out


BATCH = 100  # affiliates per transaction in statements_generate


def statements_generate_closed(*, now: dt.datetime | None = None) -> Generation:
    """Beat, at period close: for each brand, the month (and the ISO week) that ended last in its time zone,
    for monthly and weekly affiliates. Custom periods are generated on demand only. Idempotent."""
    now = now or timezone.now()
    out = Generation()
    done: set[tuple[str, int | None]] = set()
    for brand in Brand.objects.order_by("pk"):
        local = now.astimezone(periods.zoneinfo.ZoneInfo(brand.timezone))
        for frequency in (PayoutFrequency.MONTHLY, PayoutFrequency.WEEKLY):
            p = periods.last_closed(frequency, local)
            result = statements_generate(period=p.key, brand=brand, now=now)
            if (p.key, None) not in done:
                done.add((p.key, None))
                across = statements_generate(
                    period=p.key,
                    affiliate_ids=list(
                        Affiliate.objects.filter(
                            payout_frequency=frequency, payout_scope=PayoutScope.ALL_BRANDS,
                            status=AffiliateStatus.ACTIVE,
                        ).values_list("pk", flat=True)
                    ),
                    now=now,
                )  # fmt: skip
                result.statements += across.statements
                result.created += across.created
                result.refreshed += across.refreshed
                result.skipped += across.skipped
            out.statements += result.statements
            out.created += result.created
            out.refreshed += result.refreshed
            out.skipped += [s for s in result.skipped if s["code"] not in _QUIET]
    return out


# Expected on a beat run (a period already approved or paid, one not over in another time zone): not news.
_QUIET = {"statement_already_approved", "period_already_paid", "period_open"}


# --- Changes of one statement ------------------------------------------------------------------------


def _locked(statement: PayoutStatement) -> PayoutStatement:
    return (
        PayoutStatement.objects.select_for_update(of=("self",))
        .select_related("affiliate", "brand")
        .get(pk=statement.pk)
    )


def _status_problem(statement: PayoutStatement, wanted: str) -> Problem:
    if statement.status == wanted:
        codes = {
            StatementStatus.APPROVED: ("statement_already_approved", "The statement is already approved."),
            StatementStatus.PAID: ("statement_already_paid", "The statement is already paid."),
            StatementStatus.CANCELLED: ("statement_already_cancelled", "The statement is already cancelled."),
        }
        code, title = codes[wanted]
        by = {
            StatementStatus.APPROVED: statement.approved_at, StatementStatus.PAID: statement.paid_at,
            StatementStatus.CANCELLED: statement.cancelled_at,
        }[wanted]  # fmt: skip
        return Problem(
            status_code=409, code=code, title=title,
            detail=f"Statement #{statement.pk} became {wanted} at {by.isoformat() if by else 'an earlier time'}; "
            "nothing was changed.",
        )  # fmt: skip
    return Problem(
        status_code=409,
        code="invalid_status",
        title=f"A {statement.status} statement cannot become {wanted}.",
        detail=f"Statement #{statement.pk} is {statement.status}.",
    )


def statement_adjust(*, statement: PayoutStatement, amount: Decimal, reason: str, by=None) -> PayoutAdjustment:
    """Add a manual adjustment (positive or negative, in the payout currency) with a reason to a draft."""
    reason = (reason or "").strip()
    if not reason:
        raise Problem(status_code=400, code="reason_required", title="An adjustment needs a reason.")
    if amount is None or Decimal(amount) == 0:
        raise Problem(status_code=400, code="invalid_amount", title="An adjustment is a non-zero amount.")
    with transaction.atomic():
        statement = _locked(statement)
        if statement.status != StatementStatus.DRAFT:
            raise Problem(
                status_code=409, code="statement_not_draft", title="Only a draft statement can be adjusted.",
                detail=f"Statement #{statement.pk} is {statement.status}; cancel it to redo it, or adjust the next.",
            )  # fmt: skip
        _refuse_if_carried(statement, "adjust")
        adjustment = PayoutAdjustment.objects.create(
            statement=statement,
            amount=quantize(Decimal(amount), statement.currency),
            reason=reason[:500],
            created_by=by,
        )
        _compute(statement, affiliate=statement.affiliate)
        statement.save()
    return adjustment


def _issue_invoice(statement: PayoutStatement, on: dt.date) -> Invoice:
    affiliate = statement.affiliate
    key = statement.brand.slug if statement.brand_id else "all-brands"
    InvoiceSequence.objects.get_or_create(key=key)
    sequence = InvoiceSequence.objects.select_for_update().get(key=key)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    ccy = statement.currency
    net = quantize(statement.amount, ccy)
    vat = quantize(net * affiliate.vat_rate / Decimal(100), ccy)
    who = affiliate.name + (f", {affiliate.company}" if affiliate.company else "")
    return Invoice.objects.create(
        statement=statement, number=f"{key.upper()}-{sequence.last:06d}", sequence_key=key, sequence=sequence.last,
        issued_on=on, currency=ccy, net=net, vat_rate=affiliate.vat_rate, vat_amount=vat, gross=net + vat,
        vat_number=affiliate.vat_number, billed_by=who[:250],
    )  # fmt: skip


def statement_approve(*, statement: PayoutStatement, by=None) -> PayoutStatement:
    """Draft → approved. Issues the invoice where the affiliate must send one, announces payout.approved."""
    with transaction.atomic():
        statement = _locked(statement)
        if statement.status != StatementStatus.DRAFT:
            raise _status_problem(statement, StatementStatus.APPROVED)
        _require_active(statement.affiliate)
        previous = statement.carried_from
        if previous is not None and previous.status == StatementStatus.DRAFT:
            raise Problem(
                status_code=409,
                code="previous_statement_not_approved",
                title="The statement this one carries a balance from is still a draft.",
                detail=f"Approve statement #{previous.pk} ({previous.period}) first.",
            )
        now = timezone.now()
        statement.status = StatementStatus.APPROVED
        statement.approved_at = now
        statement.approved_by = by
        statement.save()
        if statement.affiliate.invoice_required and statement.amount > 0:
            _issue_invoice(statement, timezone.localdate(now))
        _announce(statement, "payout.approved")
    return statement


def _settle_entries(statement: PayoutStatement) -> None:
    ids = list(statement.lines.filter(live=True).values_list("entry_id", flat=True))
    changed = ledger.entries_mark_paid(entry_ids=ids)
    if changed != len(ids):
        raise Problem(
            status_code=409,
            code="entries_changed",
            title="Some entries of the statement are no longer approved.",
            detail=f"{len(ids) - changed} of {len(ids)} entries changed meanwhile; nothing was marked paid.",
        )


def statement_mark_paid(
    *, statement: PayoutStatement, reference: str, method: str = "", paid_on: dt.date | None = None, by=None
) -> PayoutStatement:
    """Approved → paid, with the payment reference, method and date. Its entries move approved → paid (and so
    do those of earlier statements whose balance it carried, which count as paid with it); announces payout.paid."""
    reference = (reference or "").strip()
    if not reference:
        raise Problem(
            status_code=400, code="reference_required", title="A payment reference is required.",
            detail="Give the bank transfer or wallet transaction reference of the payment.",
        )  # fmt: skip
    with transaction.atomic():
        statement = _locked(statement)
        if statement.status != StatementStatus.APPROVED:
            raise _status_problem(statement, StatementStatus.PAID)
        if statement.amount <= 0:
            raise Problem(
                status_code=409, code="nothing_to_pay", title="The statement has nothing to pay.",
                detail=f"Its balance of {_money(statement.carry_out, statement.currency)} is carried into the next "
                "statement and is paid with it.",
            )  # fmt: skip
        _require_active(statement.affiliate)
        method = (method or statement.affiliate.payment_method or "").strip()
        if not method:
            raise Problem(
                status_code=400, code="payment_method_required", title="A payment method is required.",
                detail="The affiliate has no payment method on file; give the method used.",
            )  # fmt: skip
        now = timezone.now()
        paid_on = paid_on or timezone.localdate(now)
        statement.status = StatementStatus.PAID
        statement.paid_at, statement.paid_by, statement.paid_on = now, by, paid_on
        statement.payment_reference, statement.payment_method = reference[:200], method[:20]
        statement.save()
        _settle_entries(statement)
        earlier = statement.carried_from
        while earlier is not None and earlier.status == StatementStatus.APPROVED and earlier.amount == 0:
            earlier = PayoutStatement.objects.select_for_update().get(pk=earlier.pk)
            earlier.status = StatementStatus.PAID
            earlier.paid_at, earlier.paid_by, earlier.paid_on = now, by, paid_on
            earlier.payment_reference = f"carried into #{statement.pk}: {reference}"[:200]
            earlier.payment_method = method[:20]
            earlier.save()
            _settle_entries(earlier)
            earlier = earlier.carried_from
        _announce(statement, "payout.paid")
    return statement


def statement_cancel(*, statement: PayoutStatement, reason: str, by=None) -> PayoutStatement:
    """Draft or approved → cancelled, with a reason: its entries are free for the period's next statement, its
    invoice is void (the number is not reused). A paid statement is never cancelled."""
    reason = (reason or "").strip()
    if not reason:
        raise Problem(status_code=400, code="reason_required", title="A reason is required to cancel a statement.")
    with transaction.atomic():
        statement = _locked(statement)
        if statement.status == StatementStatus.PAID:
            raise Problem(
                status_code=409, code="statement_paid", title="A paid statement cannot be cancelled.",
                detail="Its entries are paid and locked; book a reversal or an adjustment, which lands in the next "
                "statement.",
            )  # fmt: skip
        if statement.status == StatementStatus.CANCELLED:
            raise _status_problem(statement, StatementStatus.CANCELLED)
        _refuse_if_carried(statement, "cancel")
        now = timezone.now()
        statement.status = StatementStatus.CANCELLED
        statement.cancelled_at, statement.cancelled_by, statement.cancel_reason = now, by, reason[:500]
        statement.save()
        statement.lines.filter(live=True).update(live=False)
        invoice = Invoice.objects.filter(statement=statement, voided_at__isnull=True).first()
        if invoice is not None:
            invoice.voided_at, invoice.void_reason = now, f"Statement cancelled: {reason}"[:500]
            invoice.save()
    return statement
