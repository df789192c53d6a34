from rest_framework import serializers

from .money import is_currency


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
