"""Money helpers: Decimal with an ISO 4217 currency, quantized once, at the ledger."""

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from .currencies import MINOR_UNITS

# Largest amount the platform accepts anywhere (fits NUMERIC(20, 6) with room to spare).
MAX_AMOUNT = Decimal("1000000000000")  # 10^12


def is_currency(code: str) -> bool:
    return isinstance(code, str) and code in MINOR_UNITS


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half-even. The only rounding of money in the platform."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_EVEN)


def parse_amount(value, *, allow_negative: bool = True) -> Decimal:
    """Parse a decimal amount strictly: no floats, no NaN or Infinity, nothing absurd."""
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("amount must be a decimal string")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    if abs(amount) >= MAX_AMOUNT:
        raise ValueError("amount is out of range")
    if not allow_negative and amount < 0:
        raise ValueError("amount must not be negative")
    return amount


def validate_currency(value: str) -> None:
    if not is_currency(value):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code.", code="invalid_currency")


def validate_non_negative(value: Decimal) -> None:
    if value is not None and value < 0:
        raise ValidationError("Must not be negative.", code="negative")
