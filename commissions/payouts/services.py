"""Writes of the payouts app: generate a statement (idempotent per affiliate, scope and period), adjust it,
approve it, mark it paid, cancel it. Every function here is keyword-only and the only way statements change.

Concurrency: generation locks the affiliate row, so two generators of one affiliate run one after the other;
a statement's status changes lock its row (select_for_update) and check the status they expect, so of two
approvers one wins and the other gets a clear conflict. Entries move approved → paid by compare-and-swap in
commissions.ledger; if one of them is no longer approved the payment is refused and nothing changes.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
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
MILLI = Decimal("0.001")
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


def _scope_versions(statement: PayoutStatement) -> set[int]:
    """The deal versions of the affiliate's entries in the statement's scope up to its end (for a negative total)."""
    end = dt.datetime.combine(statement.period_end + dt.timedelta(days=2), dt.time.min, tzinfo=dt.UTC)
    rows = CommissionEntry.objects.filter(
        affiliate_id=statement.affiliate_id, occurred_at__lt=end, deal_version_id__isnull=False
    )
    if statement.brand_id:
        rows = rows.filter(brand_id=statement.brand_id)
    return set(rows.order_by().values_list("deal_version_id", flat=True).distinct())


def _sums(queryset, keys: tuple[str, ...]) -> list[tuple]:
    """(*keys, sum of amount, count) per group. PostgreSQL sums NUMERIC exactly; SQLite's SUM is floating point,
    so there the rows are added up here, in Decimal."""
    if connection.vendor == "postgresql":
        return list(
            queryset.order_by().values(*keys).annotate(total=Sum("amount"), n=Count("pk"))
            .values_list(*keys, "total", "n")
        )  # fmt: skip
    groups: dict = {}
    for *group, amount in queryset.order_by().values_list(*keys, "amount").iterator(chunk_size=10000):
        total, n = groups.get(tuple(group), (ZERO, 0))
        groups[tuple(group)] = (total + Decimal(amount), n + 1)
    return [(*group, total, n) for group, (total, n) in groups.items()]


@dataclass
class Summary:
    """A statement's lines in short: the sum per entry currency, how many, and the deal versions they came from."""

    subtotals: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))
    count: int = 0
    versions: set | None = field(default_factory=set)  # None: not read (looked up only for a negative total)

    def add(self, currency: str, amount: Decimal, version_id: int | None, n: int = 1) -> None:
        self.subtotals[currency] += amount
        self.count += n
        if version_id and self.versions is not None:
            self.versions.add(version_id)


def _compute(
    statement: PayoutStatement,
    *,
    affiliate: Affiliate,
    summary: Summary | None = None,
    adjustments: Decimal | None = None,
    rate=None,
) -> None:
    """Totals of a statement from its live lines (or their `summary`), its carry in and its adjustments (or their
    sum). In memory; the caller saves. `rate` is fx_rate or a cached stand-in for it."""
    ccy = statement.currency
    rate = rate or fx_rate
    if summary is None:
        summary = Summary()
        for currency, amount, version_id in statement.lines.filter(live=True).values_list(
            "currency", "amount", "entry__deal_version_id"
        ):
            summary.add(currency, amount, version_id)
    subtotals, count, versions = summary.subtotals, summary.count, summary.versions
    fx_rows, entries_total = [], ZERO
    for currency in sorted(subtotals):
        factor, rate_date = rate(currency, ccy, statement.period_end)
        converted = quantize(subtotals[currency] * factor, ccy)
        entries_total += converted
        fx_rows.append({
            "currency": currency, "amount": str(subtotals[currency].quantize(MILLI)), "rate": str(factor),
            "rate_date": rate_date.isoformat(), "converted": str(converted),
        })  # fmt: skip
    if adjustments is None:
        adjustments = statement.adjustments.aggregate(total=Sum("amount"))["total"] or ZERO
    statement.fx_date = statement.period_end
    statement.fx_rates = fx_rows
    statement.entries_total = entries_total
    statement.adjustments_total = adjustments
    statement.total = quantize(entries_total + statement.carried_in + adjustments, ccy)
    statement.threshold = affiliate.payout_threshold
    total = statement.total
    statement.negative_carryover = total < 0 and _carries_negative(
        affiliate.pk, versions if versions is not None else _scope_versions(statement), statement.carried_in
    )
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


def _paid_problem(existing: PayoutStatement, key: str) -> Problem:
    return Problem(
        status_code=409,
        code="period_already_paid",
        title="This period is already paid; it is not generated again.",
        detail=f"Statement #{existing.pk} for {key} was paid on {existing.paid_on} "
        f"(reference {existing.payment_reference}). Later entries go into the next period's statement.",
    )


def _approved_problem(existing: PayoutStatement, key: str) -> Problem:
    return Problem(
        status_code=409,
        code="statement_already_approved",
        title="This period's statement is already approved; it is not generated again.",
        detail=f"Statement #{existing.pk} for {key} is approved. Cancel it (with a reason) to redo it.",
    )


def _carry_taken_problem(later_pk: int, doing: str) -> Problem:
    return Problem(
        status_code=409,
        code="carry_taken",
        title=f"This statement's balance is already carried into statement #{later_pk}.",
        detail=f"Cancel statement #{later_pk} first, then {doing} this one.",
    )


def _check_period(affiliate: Affiliate, period: periods.Period, brands, now: dt.datetime, brand: Brand | None):
    if affiliate.payout_frequency != period.frequency:
        return Problem(
            status_code=400,
            code="period_frequency_mismatch",
            title="The period does not match the affiliate's payout frequency.",
            detail=f"{affiliate} is paid {affiliate.payout_frequency}; {period.key} is a {period.frequency} period.",
        )
    if brand is not None and affiliate.payout_scope == PayoutScope.ALL_BRANDS:
        return Problem(
            status_code=400,
            code="scope_mismatch",
            title="The affiliate is paid across brands.",
            detail=f"{affiliate} gets one statement across all brands; generate without a brand.",
        )
    for b in brands:
        if not period.closed(b.timezone, now):
            return Problem(
                status_code=409,
                code="period_open",
                title="The period has not ended yet.",
                detail=f"{period.key} ends at {period.end_moment(b.timezone).isoformat()} ({b.timezone}); "
                "statements are drawn up once it is over.",
            )
    return None


class _Rates:
    """fx_rate, looked up once per (from, to, day) in a generation run; a missing rate stays a Problem."""

    def __init__(self):
        self._hits: dict = {}

    def __call__(self, source: str, target: str, on: dt.date):
        key = (source, target, on)
        if key not in self._hits:
            try:
                self._hits[key] = fx_rate(source, target, on)
            except Problem as problem:
                self._hits[key] = problem
        hit = self._hits[key]
        if isinstance(hit, Problem):
            raise hit
        return hit


def _audit_created(statements: list[PayoutStatement], by) -> None:
    """Audit-log rows for statements written in bulk (bulk inserts send no signals for auditlog to record)."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    if not statements:
        return
    content_type = ContentType.objects.get_for_model(PayoutStatement)
    now = timezone.now()
    names = ("affiliate_id", "brand_id", "period", "status", "currency", "total", "amount", "carry_out", "carried_in")
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                content_type=content_type, object_pk=str(s.pk), object_id=s.pk, object_repr=str(s)[:200],
                action=LogEntry.Action.CREATE, actor=by, timestamp=now,
                changes={name: ["None", str(getattr(s, name))] for name in names},
            )
            for s in statements
        ],
        batch_size=2000,
    )  # fmt: skip


def _audit_updated(pairs: list[tuple[PayoutStatement, dict]], by) -> None:
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    if not pairs:
        return
    content_type = ContentType.objects.get_for_model(PayoutStatement)
    now = timezone.now()
    LogEntry.objects.bulk_create(
        [
            LogEntry(content_type=content_type, object_pk=str(s.pk), object_id=s.pk, object_repr=str(s)[:200],
                     action=LogEntry.Action.UPDATE, actor=by, timestamp=now, changes=changes)
            for s, changes in pairs if changes
        ],
        batch_size=2000,
    )  # fmt: skip


TOTAL_FIELDS = (
    "entries_total", "carried_in", "carried_from_id", "adjustments_total", "total", "amount", "carry_out",
    "written_off", "threshold", "negative_carryover", "currency", "explanation", "fx_rates", "fx_date",
)  # fmt: skip


def _generate_batch(
    *, affiliate_ids: list[int], period: periods.Period, brand: Brand | None, by, now: dt.datetime,
    strict: bool = False,
) -> Generation:  # fmt: skip
    """Statements of one period for a batch of affiliates, set-based: a fixed number of queries for the whole batch
    (lock, statements, entries, old lines and adjustments of drafts, writes). Called inside a transaction.
    With strict=True (one affiliate asked for by name), a refusal is raised instead of listed as skipped."""
    out = Generation()
    affiliates = list(Affiliate.objects.select_for_update().filter(pk__in=affiliate_ids).order_by("pk"))
    brands = {b.pk: b for b in Brand.objects.all()}

    def skip(affiliate, problem):
        if strict:
            raise problem
        out.skipped.append({"affiliate": affiliate.pk, "code": problem.code, "message": str(problem.detail)})

    live = PayoutStatement.objects.select_for_update(of=("self",)).filter(
        affiliate_id__in=[a.pk for a in affiliates], status__in=LIVE_STATUSES, period_start__lte=period.start
    )
    if brand is not None:
        live = live.filter(scope=scope_key(brand))
    existing: dict = {}
    previous: dict = {}
    for s in live.order_by("affiliate_id", "scope", "-period_start", "-pk"):
        key = (s.affiliate_id, s.scope)
        if s.period == period.key:
            existing.setdefault(key, s)
        elif s.period_start < period.start:
            previous.setdefault(key, s)
    watched = [s.pk for s in [*existing.values(), *previous.values()]]
    taken = dict(
        PayoutStatement.objects.filter(carried_from_id__in=watched, status__in=LIVE_STATUSES).values_list(
            "carried_from_id", "pk"
        )
    )
    in_live = StatementLine.objects.filter(entry_id=OuterRef("pk"), live=True)
    eligible = CommissionEntry.objects.filter(
        affiliate_id__in=[a.pk for a in affiliates], status=EntryStatus.APPROVED
    ).exclude(Exists(in_live))
    if brand is not None:
        eligible = eligible.filter(brand_id=brand.pk)
    when = Q()
    for b in brands.values():
        when |= Q(brand_id=b.pk, occurred_at__lt=period.end_moment(b.timezone))
    # What each affiliate has to state, per brand and currency, summed by the database (the lines themselves are
    # copied from the ledger by one INSERT … SELECT below, never through Python).
    new_lines: dict = defaultdict(list)
    for row in _sums(eligible.filter(when), ("affiliate_id", "brand_id", "currency")):
        new_lines[row[0]].append(row)
    drafts = [s.pk for s in existing.values() if s.status == StatementStatus.DRAFT]
    old: dict = defaultdict(lambda: Summary(versions=None))
    for statement_id, currency, total, n in _sums(
        StatementLine.objects.filter(statement_id__in=drafts, live=True), ("statement_id", "currency")
    ):
        old[statement_id].add(currency, total, None, n)
    adjusted = dict(
        PayoutAdjustment.objects.filter(statement_id__in=drafts)
        .values("statement_id")
        .annotate(total=Sum("amount"))
        .values_list("statement_id", "total")
    )
    rates = _Rates()
    created: list[PayoutStatement] = []
    pending_lines: list[tuple[PayoutStatement, list]] = []
    changed: list[tuple[PayoutStatement, dict]] = []
    for affiliate in affiliates:
        if affiliate.status != AffiliateStatus.ACTIVE:
            try:
                _require_active(affiliate)
            except Problem as problem:
                skip(affiliate, problem)
            continue
        mine = new_lines.get(affiliate.pk, [])
        if affiliate.payout_scope == PayoutScope.ALL_BRANDS:
            scopes = [None]
        elif brand is not None:
            scopes = [brand]
        else:
            ids = {row[1] for row in mine}
            ids |= {s.brand_id for (a, _), s in existing.items() if a == affiliate.pk and s.brand_id}
            ids |= {s.brand_id for (a, _), s in previous.items() if a == affiliate.pk and s.brand_id and s.carry_out}
            scopes = [brands[i] for i in sorted(ids)]
        check = [b for b in scopes if b is not None] or [brands[i] for i in sorted({row[1] for row in mine})]
        problem = _check_period(affiliate, period, check, now, brand)
        if problem is not None:
            skip(affiliate, problem)
            continue
        problems: list[Problem] = []
        results: list = []
        for scope_brand in scopes:
            scope = scope_key(scope_brand)
            key = (affiliate.pk, scope)
            rows = [r for r in mine if scope_brand is None or r[1] == scope_brand.pk]
            current = existing.get(key)
            try:
                if current is not None and current.status == StatementStatus.PAID:
                    raise _paid_problem(current, period.key)
                if current is not None and current.status == StatementStatus.APPROVED:
                    raise _approved_problem(current, period.key)
                if current is not None and current.pk in taken:
                    raise _carry_taken_problem(taken[current.pk], "regenerate")
                statement = current or PayoutStatement(
                    affiliate=affiliate, brand=scope_brand, scope=scope, frequency=period.frequency,
                    period=period.key, period_start=period.start, period_end=period.end,
                    currency=affiliate.payout_currency, created_by=by,
                )  # fmt: skip
                before = {name: getattr(statement, name) for name in TOTAL_FIELDS} if current else {}
                statement.currency = affiliate.payout_currency
                prior = previous.get(key)
                statement.carried_from, statement.carried_in = None, ZERO
                if prior is not None and prior.carry_out and taken.get(prior.pk, statement.pk) == statement.pk:
                    factor, _ = rates(prior.currency, statement.currency, statement.period_end)
                    statement.carried_from = prior
                    statement.carried_in = quantize(prior.carry_out * factor, statement.currency)
                if current is None and not rows and not statement.carried_in:
                    continue
                summary = Summary(versions=None)
                if current is not None and current.pk in old:
                    summary.subtotals.update(old[current.pk].subtotals)
                    summary.count = old[current.pk].count
                for _, _, currency, total, n in rows:
                    summary.add(currency, total, None, n)
                _compute(statement, affiliate=affiliate, summary=summary,
                         adjustments=adjusted.get(statement.pk, ZERO) if current else ZERO, rate=rates)  # fmt: skip
            except Problem as problem:
                if strict and (brand is not None or len(scopes) == 1):
                    raise
                problems.append(problem)
                continue
            results.append((statement, current, before, rows, summary))
        if problems:
            if strict and not results:
                raise problems[0]
            for problem in problems:
                out.skipped.append({"affiliate": affiliate.pk, "code": problem.code, "message": str(problem.detail)})
        for statement, current, before, rows, summary in results:
            if current is None:
                created.append(statement)
            else:
                diff = {n: [str(before[n]), str(getattr(statement, n))] for n in TOTAL_FIELDS
                        if before[n] != getattr(statement, n)}  # fmt: skip
                if diff or rows:
                    changed.append((statement, diff))
            pending_lines.append((statement, summary))
            out.statements.append(statement)
            out.created += current is None
            out.refreshed += current is not None
    PayoutStatement.objects.bulk_create(created, batch_size=1000)
    try:
        _insert_lines([s.pk for s, _ in pending_lines], [a.pk for a in affiliates], period, list(brands.values()))
    except IntegrityError:
        raise Problem(
            status_code=409,
            code="conflict",
            title="Entries were taken by another statement meanwhile.",
            detail="Generate again: the entries already on a statement are left out.",
        ) from None
    if changed:
        for statement, _ in changed:
            statement.updated_at = timezone.now()
        PayoutStatement.objects.bulk_update(
            [s for s, _ in changed], [n.removesuffix("_id") for n in TOTAL_FIELDS] + ["updated_at"], batch_size=500
        )
    _verify(pending_lines, changed)
    _audit_created(created, by)
    _audit_updated(changed, by)
    return out


def _insert_lines(statement_ids: list[int], affiliate_ids: list[int], period: periods.Period, brands) -> None:
    """Copy the eligible entries into lines of the batch's statements, in the database: approved, on no live
    statement, before the period's end in their brand's time zone, matched to their affiliate's statement (the
    one of their brand, or the one across brands)."""
    if not statement_ids:
        return
    line, entry, statement = (m._meta.db_table for m in (StatementLine, CommissionEntry, PayoutStatement))
    adapt = connection.ops.adapt_datetimefield_value
    bounds = " OR ".join("(e.brand_id = %s AND e.occurred_at < %s)" for _ in brands) or "1 = 0"
    params: list = [True]
    params += statement_ids
    params.append(EntryStatus.APPROVED)
    params += affiliate_ids
    for b in brands:
        params += [b.pk, adapt(period.end_moment(b.timezone).astimezone(dt.UTC))]
    params.append(True)
    marks = ", ".join(["%s"] * len(statement_ids))
    who = ", ".join(["%s"] * len(affiliate_ids))
    sql = (
        f"INSERT INTO {line} (statement_id, entry_id, kind, amount, currency, live) "  # noqa: S608 (model tables)
        f"SELECT s.id, e.id, e.kind, e.amount, e.currency, %s FROM {entry} e "
        f"JOIN {statement} s ON s.affiliate_id = e.affiliate_id AND (s.brand_id IS NULL OR s.brand_id = e.brand_id) "
        f"WHERE s.id IN ({marks}) AND e.status = %s AND e.affiliate_id IN ({who}) AND ({bounds}) "
        f"AND NOT EXISTS (SELECT 1 FROM {line} l WHERE l.entry_id = e.id AND l.live = %s) ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _verify(pending: list[tuple[PayoutStatement, Summary]], changed: list) -> None:
    """The totals were computed from the sums read before the lines were copied; an entry approved in between
    would make them differ. Compare, and recompute from the lines any statement where they do."""
    if not pending:
        return
    actual: dict = defaultdict(dict)
    for statement_id, currency, total, n in _sums(
        StatementLine.objects.filter(statement_id__in=[s.pk for s, _ in pending], live=True),
        ("statement_id", "currency"),
    ):
        actual[statement_id][currency] = (total, n)
    touched = {s.pk for s, _ in changed}
    for statement, summary in pending:
        got = actual.get(statement.pk, {})
        same_sums = {c: t for c, (t, _) in got.items()} == dict(summary.subtotals)
        if same_sums and sum(n for _, n in got.values()) == summary.count:
            continue
        _compute(statement, affiliate=statement.affiliate)
        statement.save()
        if statement.pk not in touched:
            changed.append((statement, {}))


def statement_generate(
    *, affiliate: Affiliate, period: str, brand: Brand | None = None, by=None, now: dt.datetime | None = None
) -> Generation:
    """Draw up (or refresh, while draft) an affiliate's statements for a period: one per brand or one across
    brands, as the affiliate is configured. Idempotent: running it again with nothing new changes nothing.
    Raises Problem for a bad period, a suspended affiliate, a paid or approved period, or a missing FX rate
    (where the affiliate has several brands and only some are refused, those are listed in `skipped`)."""
    p = _parse(period)
    with transaction.atomic():
        return _generate_batch(affiliate_ids=[affiliate.pk], period=p, brand=brand, by=by, now=now or timezone.now(),
                               strict=True)  # fmt: skip


def _parse(period: str) -> periods.Period:
    try:
        return periods.parse(period)
    except periods.PeriodError as exc:
        raise Problem(status_code=400, code="invalid_period", title="Invalid period.", detail=str(exc)) from None


BATCH = 1000  # affiliates per transaction in statements_generate


def statements_generate(
    *, period: str, brand: Brand | None = None, affiliate_ids: list[int] | None = None, by=None,
    now: dt.datetime | None = None,
) -> Generation:  # fmt: skip
    """`statement_generate` for every active affiliate paid at the period's frequency (or those given), a batch of
    affiliates per transaction: an affiliate that cannot be stated is skipped with the reason, never the others."""
    p = _parse(period)
    now = now or timezone.now()
    if brand is not None and not p.closed(brand.timezone, now):
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
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    out = Generation()
    for start in range(0, len(ids), BATCH):
        try:
            with transaction.atomic():
                one = _generate_batch(affiliate_ids=ids[start : start + BATCH], period=p, brand=brand, by=by, now=now)
        except Problem as problem:  # a conflict with a concurrent run: that batch again, one by one
            one = Generation()
            for affiliate_id in ids[start : start + BATCH]:
                try:
                    with transaction.atomic():
                        part = _generate_batch(affiliate_ids=[affiliate_id], period=p, brand=brand, by=by, now=now)
                except Problem:
                    part = Generation(skipped=[{"affiliate": affiliate_id, "code": problem.code,
                                                "message": str(problem.detail)}])  # fmt: skip
                one.statements += part.statements
                one.created += part.created
                one.refreshed += part.refreshed
                one.skipped += part.skipped
        out.statements += one.statements
        out.created += one.created
        out.refreshed += one.refreshed
        out.skipped += one.skipped
    return out


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
