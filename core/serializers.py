from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .money import is_currency, quantize

# The largest primary key (a 64-bit bigint): a larger id can name no row, and the database refuses to compare it.
MAX_ID = 2**63 - 1


def ObjectIdField(**kwargs) -> serializers.IntegerField:
    """An object id in a request body: a positive integer no larger than a bigint."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class StrictFieldsMixin:
    """Reject fields the serializer does not know, instead of silently ignoring a typo."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - known)
            if unknown:
                read_only = {name for name, field in self.fields.items() if field.read_only}
                raise serializers.ValidationError(
                    {
                        name: ["This field is read-only."] if name in read_only else ["Unknown field."]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class CurrencyField(serializers.CharField):
    """An ISO 4217 code ("EUR"). A string in the schema rather than a 180-value enum repeated per field."""

    default_error_messages = {"invalid_currency": "{value!r} is not an ISO 4217 currency code."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_currency(value):
            self.fail("invalid_currency", value=value)
        return value


@extend_schema_field({"type": "string", "format": "decimal", "example": "200.00"})
class MoneyAmountField(serializers.Field):
    """A read-only amount as a decimal string in its currency's minor unit ("200.00"; "1500" for JPY). The
    amount is the attribute `amount_attr`, the currency the attribute `currency_attr` of the same object."""

    def __init__(self, *, amount_attr: str = "amount", currency_attr: str = "currency", **kwargs):
        self.amount_attr, self.currency_attr = amount_attr, currency_attr
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, obj) -> str:
        return str(quantize(getattr(obj, self.amount_attr), getattr(obj, self.currency_attr)))
