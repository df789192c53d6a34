from rest_framework import serializers


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
