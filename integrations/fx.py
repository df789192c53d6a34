"""Currency normalisation: every money event keeps its amount and currency and gets the base-currency
amount with the rate and the rate's date that produced it. A missing rate is an error the manager
sees (reason `missing_fx_rate`), never a silent zero; once the rate exists the event is replayable."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.conf import settings

from core.currencies import MINOR_UNITS

from .models import FxRate

# ECB publishes on TARGET working days only: a rate up to this old still applies (weekends, holidays).
MAX_RATE_AGE = timedelta(days=7)
RATE_PLACES = Decimal("0.0000000001")
BASE_AMOUNT_PLACES = Decimal("0.00000001")


class MissingRate(LookupError):
    def __init__(self, currency: str, on: date):
        super().__init__(f"no {currency} rate to {settings.BASE_CURRENCY} on or up to 7 days before {on.isoformat()}")
        self.currency = currency
        self.on = on


@dataclass(frozen=True)
class Conversion:
    amount_base: Decimal
    rate: Decimal
    rate_date: date


def base_currency() -> str:
    return settings.BASE_CURRENCY


def rate_for(currency: str, on: date) -> tuple[Decimal, date]:
    """Units of the base currency per unit of `currency` in force on `on` (latest rate not after it)."""
    if currency == base_currency():
        return Decimal(1), on
    row = (
        FxRate.objects.filter(currency=currency, date__lte=on, date__gte=on - MAX_RATE_AGE)
        .order_by("-date")
        .values_list("rate", "date")
        .first()
    )
    if row is None:
        raise MissingRate(currency, on)
    return row[0], row[1]


class RateCache:
    """Rates looked up once per (currency, day) within a batch of events."""

    def __init__(self):
        self._rates: dict[tuple[str, date], tuple[Decimal, date] | None] = {}

    def convert(self, amount: Decimal, currency: str, at: datetime) -> Conversion:
        on = at.date()
        key = (currency, on)
        if key not in self._rates:
            try:
                self._rates[key] = rate_for(currency, on)
            except MissingRate:
                self._rates[key] = None
        hit = self._rates[key]
        if hit is None:
            raise MissingRate(currency, on)
        rate, rate_date = hit
        return Conversion(
            amount_base=(amount * rate).quantize(BASE_AMOUNT_PLACES, rounding=ROUND_HALF_EVEN),
            rate=rate,
            rate_date=rate_date,
        )


def convert(amount: Decimal, currency: str, at: datetime) -> Conversion:
    return RateCache().convert(amount, currency, at)


class FxImportError(ValueError):
    pass


def _parse_ecb_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FxImportError(f"{text!r} is not a date (YYYY-MM-DD or '27 November 2026')")


def parse_ecb_csv(text: str) -> list[tuple[str, date, Decimal]]:
    """Rates from an ECB reference-rate CSV (daily `eurofxref.csv` or `eurofxref-hist.csv`).

    The ECB quotes units of each currency per 1 EUR; stored rates are units of the base currency per
    1 unit of the currency, crossed through EUR when the base is not EUR. `N/A` cells are skipped.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise FxImportError("the file is empty") from None
    if not header or header[0].lower() != "date":
        raise FxImportError("the first column must be 'Date' (ECB reference rates CSV)")
    currencies = header[1:]
    base = base_currency()
    out: list[tuple[str, date, Decimal]] = []
    for line_no, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        day = _parse_ecb_date(row[0])
        per_eur: dict[str, Decimal] = {"EUR": Decimal(1)}
        for code, cell in zip(currencies, row[1:], strict=False):
            cell = cell.strip()
            if not code or not cell or cell.upper() == "N/A":
                continue
            try:
                value = Decimal(cell)
            except InvalidOperation:
                raise FxImportError(f"line {line_no}: {code} {cell!r} is not a number") from None
            if not value.is_finite() or value <= 0:
                raise FxImportError(f"line {line_no}: {code} {cell!r} is not a positive rate")
            per_eur[code] = value
        if base not in per_eur:
            raise FxImportError(f"line {line_no}: the file has no {base} rate to cross through")
        for code, value in per_eur.items():
            if code == base or code not in MINOR_UNITS:
                continue
            out.append((code, day, (per_eur[base] / value).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)))
    return out
