"""The shape and rules of deal terms, shared by the API, the admin and the services.

`validate_terms` is the one place that decides whether a set of terms is acceptable.
"""

from decimal import Decimal

from django_countries import countries as country_registry
from rest_framework import serializers

from core.money import is_currency
from core.serializers import StrictSerializer

from .choices import DealKind, LotRounding, RevenueBasis, TierApplication

MAX_MONEY = Decimal("100000000")  # no single commission term above 100M in any currency
AMOUNT = {"max_digits": 18, "decimal_places": 2, "min_value": Decimal("0"), "max_value": MAX_MONEY}
PERCENT = {"max_digits": 7, "decimal_places": 4, "min_value": Decimal("0"), "max_value": Decimal("100")}
LOTS = {"max_digits": 18, "decimal_places": 4, "min_value": Decimal("0"), "max_value": Decimal("1000000")}

# Terms a per-affiliate assignment may override.
OVERRIDABLE = (
    "cpa_amount", "country_amounts", "qualification", "revshare_percent", "negative_carryover", "tiers",
    "cpl_amount", "rebate_per_lot", "rebate_groups", "prop_percent", "prop_pass_amount", "prop_funded_amount",
    "subaffiliate_percent", "hold_days", "cpa_daily_cap", "cpa_monthly_cap",
)  # fmt: skip


def _country(code: str) -> str:
    code = str(code).upper()
    if code not in dict(country_registry):
        raise serializers.ValidationError(f"{code!r} is not an ISO 3166-1 alpha-2 country code.")
    return code


class QualificationSerializer(StrictSerializer):
    """The CPA baseline: all minimums must be met within `window_days` of registration."""

    # defaults carry the field's scale so stored JSON reads the same whether a value was sent or not
    min_ftd = serializers.DecimalField(required=False, default=Decimal("0.00"), **AMOUNT)
    min_deposits = serializers.DecimalField(required=False, default=Decimal("0.00"), **AMOUNT)
    min_wagering = serializers.DecimalField(required=False, default=Decimal("0.00"), **AMOUNT)
    min_lots = serializers.DecimalField(required=False, default=Decimal("0.0000"), **LOTS)
    min_bets = serializers.IntegerField(required=False, default=0, min_value=0, max_value=1_000_000)
    window_days = serializers.IntegerField(required=False, default=30, min_value=1, max_value=3650)


class TierSerializer(StrictSerializer):
    """A tier: reached by a monthly threshold (FTDs or revenue), it replaces some rates."""

    min_ftds = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)
    min_revenue = serializers.DecimalField(required=False, **AMOUNT)
    cpa_amount = serializers.DecimalField(required=False, **AMOUNT)
    revshare_percent = serializers.DecimalField(required=False, **PERCENT)
    rebate_per_lot = serializers.DecimalField(required=False, **AMOUNT)

    def validate(self, attrs):
        if ("min_ftds" in attrs) == ("min_revenue" in attrs):
            raise serializers.ValidationError("A tier has exactly one threshold: min_ftds or min_revenue.")
        if not {"cpa_amount", "revshare_percent", "rebate_per_lot"} & set(attrs):
            raise serializers.ValidationError(
                "A tier sets at least one rate: cpa_amount, revshare_percent or rebate_per_lot."
            )
        return attrs


class RebateGroupSerializer(StrictSerializer):
    """Rebate per lot for a group of instruments, with the lot normalisation of that group."""

    name = serializers.CharField(max_length=60)
    instruments = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=False, max_length=500)
    per_lot = serializers.DecimalField(**AMOUNT)
    lot_factor = serializers.DecimalField(
        required=False,
        default=Decimal("1.000000"),
        max_digits=12,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        max_value=Decimal("100000"),
        help_text="Multiplier that turns the platform's lots into standard lots for this group.",
    )


class DealTermsSerializer(StrictSerializer):
    """The terms of a deal (CONTRACT.md "Deal terms"). Used by the API, the admin and the services."""

    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=DealKind.choices)
    currency = serializers.CharField(max_length=3)
    hold_days = serializers.IntegerField(required=False, default=0, min_value=0, max_value=365)
    countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, default=list, max_length=300
    )
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)
    cpa_amount = serializers.DecimalField(required=False, default=Decimal("0"), **AMOUNT)
    country_amounts = serializers.DictField(child=serializers.DecimalField(**AMOUNT), required=False, default=dict)
    qualification = QualificationSerializer(required=False)
    cpa_daily_cap = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=1_000_000
    )
    cpa_monthly_cap = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=1_000_000
    )
    revshare_percent = serializers.DecimalField(required=False, default=Decimal("0"), **PERCENT)
    revenue_basis = serializers.ChoiceField(choices=RevenueBasis.choices, required=False, default=RevenueBasis.NGR)
    negative_carryover = serializers.BooleanField(required=False, default=False)
    tiers = TierSerializer(many=True, required=False, default=list)
    tier_application = serializers.ChoiceField(
        choices=TierApplication.choices, required=False, default=TierApplication.FROM_REACHED
    )
    cpl_amount = serializers.DecimalField(required=False, default=Decimal("0"), **AMOUNT)
    rebate_per_lot = serializers.DecimalField(required=False, default=Decimal("0"), **AMOUNT)
    rebate_groups = RebateGroupSerializer(many=True, required=False, default=list)
    lot_step = serializers.DecimalField(
        required=False,
        default=Decimal("0.01"),
        max_digits=10,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        max_value=Decimal("100"),
    )
    lot_rounding = serializers.ChoiceField(choices=LotRounding.choices, required=False, default=LotRounding.DOWN)
    prop_percent = serializers.DecimalField(required=False, default=Decimal("0"), **PERCENT)
    prop_pass_amount = serializers.DecimalField(required=False, default=Decimal("0"), **AMOUNT)
    prop_funded_amount = serializers.DecimalField(required=False, default=Decimal("0"), **AMOUNT)
    prop_include_resets = serializers.BooleanField(required=False, default=True)
    subaffiliate_percent = serializers.DecimalField(required=False, default=Decimal("0"), **PERCENT)

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        if not is_currency(value):
            raise serializers.ValidationError(f"{value!r} is not an ISO 4217 currency code.")
        return value

    def validate_countries(self, value):
        return sorted({_country(code) for code in value})

    def validate_country_amounts(self, value):
        return {_country(code): amount for code, amount in value.items()}

    def validate(self, attrs):
        errors: dict[str, str] = {}
        kind = attrs["kind"]
        attrs.setdefault("qualification", QualificationSerializer(data={}).run_validation({}))
        if attrs.get("valid_from") and attrs.get("valid_to") and attrs["valid_to"] < attrs["valid_from"]:
            errors["valid_to"] = "Must be on or after valid_from."
        has_cpa = attrs["cpa_amount"] > 0 or bool(attrs["country_amounts"])
        needs = {
            DealKind.CPA: [("cpa_amount", has_cpa, "A CPA deal needs cpa_amount or country_amounts above zero.")],
            DealKind.HYBRID: [
                ("cpa_amount", has_cpa, "A hybrid deal needs a CPA amount."),
                ("revshare_percent", attrs["revshare_percent"] > 0, "A hybrid deal needs revshare_percent."),
            ],
            DealKind.REVSHARE: [
                ("revshare_percent", attrs["revshare_percent"] > 0, "A RevShare deal needs revshare_percent."),
            ],
            DealKind.CPL: [("cpl_amount", attrs["cpl_amount"] > 0, "A CPL deal needs cpl_amount above zero.")],
            DealKind.REBATE: [
                ("rebate_per_lot", attrs["rebate_per_lot"] > 0 or bool(attrs["rebate_groups"]),
                 "A rebate deal needs rebate_per_lot or rebate_groups."),
            ],
            DealKind.PROP: [
                ("prop_percent",
                 attrs["prop_percent"] > 0 or attrs["prop_pass_amount"] > 0 or attrs["prop_funded_amount"] > 0,
                 "A prop deal needs prop_percent, prop_pass_amount or prop_funded_amount."),
            ],
        }  # fmt: skip
        for field, ok, message in needs[kind]:
            if not ok:
                errors[field] = message
        names = [group["name"] for group in attrs["rebate_groups"]]
        if len(names) != len(set(names)):
            errors["rebate_groups"] = "Group names must be unique."
        instruments = [i for group in attrs["rebate_groups"] for i in group["instruments"]]
        if len(instruments) != len(set(instruments)):
            errors["rebate_groups"] = "An instrument belongs to one group only."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def validate_terms(data: dict) -> dict:
    """Validate raw terms; return clean values (Decimals, dates). Raises serializers.ValidationError."""
    serializer = DealTermsSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def validate_overrides(data: dict, *, kind: str, base: dict) -> dict:
    """Validate per-affiliate overrides against the deal's current terms; return them cleaned."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"overrides": "Must be an object of term names to values."})
    unknown = sorted(set(data) - set(OVERRIDABLE))
    if unknown:
        raise serializers.ValidationError({"overrides": f"Not overridable: {', '.join(unknown)}."})
    try:
        merged = validate_terms({**base, **data, "kind": kind})
    except serializers.ValidationError as exc:
        # name the override that is wrong ("overrides.cpa_amount"), not a term of the deal itself
        detail = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        raise serializers.ValidationError(
            {"overrides": {key: value for key, value in detail.items() if key in data or key == ""} or detail}
        ) from None
    return {key: merged[key] for key in data}


def terms_to_json(terms: dict) -> dict:
    """Terms as JSON-safe values (Decimals as strings), for JSON fields and answers."""

    def convert(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    return convert(dict(terms))
