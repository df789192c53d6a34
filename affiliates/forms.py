"""Admin forms for deals, assignments and status changes.

The forms only collect raw values. Whether terms, overrides or dates are acceptable is decided by
`affiliates.services` (and `affiliates.terms`): each form runs the service it will save with as a
dry run inside a rolled-back savepoint, so every rule the service enforces comes back as a form
error next to the field it names, and the admin never fails with a 500 on bad input.
"""

import json
from collections.abc import Callable
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework.exceptions import ValidationError as ApiValidationError
from unfold.widgets import (
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from core.currencies import CURRENCY_CHOICES

from . import services
from .choices import DealKind, LotRounding, RevenueBasis, TierApplication
from .models import Deal, DealAssignment
from .terms import OVERRIDABLE

QUALIFICATION_KEYS = ("min_ftd", "min_deposits", "min_wagering", "min_lots", "min_bets", "window_days")

TIERS_HELP = (
    "JSON list. Each tier has one threshold (min_ftds: FTDs in the month, or min_revenue) and at least one rate "
    '(cpa_amount, revshare_percent, rebate_per_lot). Example: [{"min_ftds": 10, "cpa_amount": "250.00"}, '
    '{"min_revenue": "10000", "revshare_percent": "35"}]'
)
COUNTRY_AMOUNTS_HELP = 'JSON object: CPA amount per country, replacing the CPA amount there. Example: {"DE": "250.00"}'
REBATE_GROUPS_HELP = (
    "JSON list of instrument groups, each with its own amount per lot and an optional lot_factor that turns the "
    'platform\'s lots into standard lots. Example: [{"name": "Majors", "instruments": ["EURUSD", "GBPUSD"], '
    '"per_lot": "8.00"}, {"name": "Indices", "instruments": ["US30"], "per_lot": "3.00", "lot_factor": "0.1"}]'
)
OVERRIDES_HELP = (
    'JSON object of terms that differ for this affiliate only, e.g. {"cpa_amount": "250.00"}. Allowed: '
    + ", ".join(OVERRIDABLE)
    + "."
)


class _DryRun(Exception):
    """Raised inside a savepoint to undo a service call made only to validate."""


def dry_run(call: Callable[[], object]) -> None:
    """Run a service call and undo everything it wrote. Its validation errors propagate."""
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        pass


def _flatten(detail, path: str = "") -> list[str]:
    """DRF error detail (dicts, lists, strings, nested) → readable lines, each prefixed with where it is."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            lines += _flatten(value, f"{path}.{name}" if path and name else (path or name))
        return lines
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [f"{path}: {item}" if path else str(item) for item in detail]
        lines = []
        for index, item in enumerate(detail):
            if item:
                lines += _flatten(item, f"{path}[{index + 1}]" if path else f"item {index + 1}")
        return lines
    return [f"{path}: {detail}" if path else str(detail)]


def add_service_errors(form: forms.Form, exc: ApiValidationError | DjangoValidationError, aliases=None) -> None:
    """Put a service's validation errors on the form fields they name; the rest on the form itself."""
    aliases = aliases or {}
    detail = exc.detail if isinstance(exc, ApiValidationError) else getattr(exc, "message_dict", None)
    if detail is None:
        form.add_error(None, list(exc.messages))
        return
    if not isinstance(detail, dict):
        form.add_error(None, _flatten(detail))
        return
    for key, value in detail.items():
        if key == "qualification" and isinstance(value, dict):
            for sub, sub_value in value.items():
                field = f"qual_{sub}"
                if field in form.fields:
                    form.add_error(field, _flatten(sub_value))
                else:
                    form.add_error(None, _flatten(sub_value, f"qualification.{sub}"))
            continue
        field = aliases.get(key, key)
        if field in form.fields and field not in form._errors:
            form.add_error(field, _flatten(value))
        else:
            form.add_error(None, _flatten(value, "" if key in ("non_field_errors", "__all__") else key))


class JSONTextField(forms.CharField):
    """JSON typed as text. Numbers parse as Decimal (never float); empty text means an empty list/dict."""

    def __init__(self, *, kind: type = dict, rows: int = 4, **kwargs):
        self.kind = kind
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", UnfoldAdminTextareaWidget(attrs={"rows": rows, "class": "font-mono"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | dict):
            return json.dumps(value, indent=2, ensure_ascii=False) if value else ""
        return value

    def to_python(self, value):
        text = super().to_python(value)
        if not text or not text.strip():
            return self.kind()
        try:
            parsed = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
        if not isinstance(parsed, self.kind):
            raise forms.ValidationError(f"Must be a JSON {'list' if self.kind is list else 'object'}.")
        return parsed


def _money(label: str, help_text: str = "", **kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=18,
        decimal_places=2,
        help_text=help_text,
        widget=UnfoldAdminDecimalFieldWidget(attrs={"placeholder": "0.00"}),
        **kwargs,
    )


def _percent(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=7,
        decimal_places=4,
        help_text=help_text,
        widget=UnfoldAdminDecimalFieldWidget(attrs={"placeholder": "0"}),
    )


def _integer(label: str, help_text: str = "", placeholder: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        widget=UnfoldAdminIntegerFieldWidget(attrs={"placeholder": placeholder}),
    )


def _choice(label: str, choices, help_text: str = "") -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=choices, help_text=help_text, widget=UnfoldAdminSelectWidget)


def _flag(label: str, help_text: str = "", initial: bool = False) -> forms.BooleanField:
    return forms.BooleanField(
        label=label, required=False, initial=initial, help_text=help_text, widget=UnfoldBooleanSwitchWidget
    )


def _date(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=False, help_text=help_text, widget=UnfoldAdminSingleDateWidget)


class DealForm(forms.ModelForm):
    """Every term of `affiliates.terms.DealTermsSerializer`, plus when the terms start and why they changed.

    Saving creates the deal (version 1) or a new version through `services.deal_create` / `deal_update`."""

    name = forms.CharField(max_length=120, widget=UnfoldAdminTextInputWidget)
    kind = _choice("Kind", DealKind.choices)
    currency = forms.ChoiceField(
        choices=[("", "The brand's currency"), *CURRENCY_CHOICES],
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text="Currency of every amount in these terms.",
    )
    hold_days = _integer("Hold days", "Days an earned commission stays on hold before it can be approved.", "0")
    countries = forms.CharField(
        required=False,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "DE, AT, CH"}),
        help_text="ISO 3166-1 alpha-2 codes separated by commas. Empty: all countries.",
    )
    valid_from = _date("Valid from", "Optional: the deal applies to activity from this day.")
    valid_to = _date("Valid to", "Optional: the last day the deal applies to activity.")
    # CPA
    cpa_amount = _money("CPA amount", "Paid once per qualified customer.")
    country_amounts = JSONTextField(kind=dict, label="CPA per country", help_text=COUNTRY_AMOUNTS_HELP)
    qual_min_ftd = _money("Minimum FTD", "The first deposit must be at least this much.")
    qual_min_deposits = _money("Minimum deposits total", "Sum of deposits within the window.")
    qual_min_wagering = _money("Minimum wagering", "Sum wagered within the window.")
    qual_min_lots = forms.DecimalField(
        label="Minimum lots",
        required=False,
        max_digits=18,
        decimal_places=4,
        help_text="Lots traded within the window (Forex).",
        widget=UnfoldAdminDecimalFieldWidget(attrs={"placeholder": "0"}),
    )
    qual_min_bets = _integer("Minimum bets", "Number of bets within the window.", "0")
    qual_window_days = _integer("Qualification window (days)", "Days from registration to meet the baseline.", "30")
    cpa_daily_cap = _integer("Daily CPA cap", "Most CPAs paid per day; empty: no cap.")
    cpa_monthly_cap = _integer("Monthly CPA cap", "Most CPAs paid per month; empty: no cap.")
    # RevShare
    revshare_percent = _percent("RevShare %", "Percent of the revenue basis.")
    revenue_basis = _choice("Revenue basis", RevenueBasis.choices)
    negative_carryover = _flag(
        "Negative carryover", "A negative month is carried into the next months instead of being reset to zero."
    )
    tiers = JSONTextField(kind=list, label="Tiers", help_text=TIERS_HELP, rows=5)
    tier_application = _choice("Tier application", TierApplication.choices)
    # CPL
    cpl_amount = _money("CPL amount", "Paid per qualified registration.")
    # Forex rebate
    rebate_per_lot = _money("Rebate per lot", "Paid per standard lot on instruments in no group.")
    rebate_groups = JSONTextField(kind=list, label="Rebate instrument groups", help_text=REBATE_GROUPS_HELP, rows=5)
    lot_step = forms.DecimalField(
        label="Lot step",
        required=False,
        max_digits=10,
        decimal_places=4,
        help_text="Lots are counted in steps of this size.",
        widget=UnfoldAdminDecimalFieldWidget(attrs={"placeholder": "0.01"}),
    )
    lot_rounding = _choice("Lot rounding", LotRounding.choices)
    # Prop
    prop_percent = _percent("Challenge fee %", "Percent of challenge purchase fees.")
    prop_pass_amount = _money("Per pass", "Fixed amount per passed challenge.")
    prop_funded_amount = _money("Per funded activation", "Fixed amount per funded account activation.")
    prop_include_resets = _flag("Include reset fees", "Reset fees count as challenge fees.", initial=True)
    # Sub-affiliates
    subaffiliate_percent = _percent("Sub-affiliate %", "The parent affiliate earns this percent of the commission.")
    # The version itself
    effective_from = _date(
        "Effective from",
        "First day (brand time zone) these terms apply. Default: valid from, or today. A change never starts "
        "before the current version.",
    )
    change_note = forms.CharField(
        max_length=500,
        required=False,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "Why the terms change"}),
        help_text="Kept with the version.",
    )

    class Meta:
        model = Deal
        fields = ["brand"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.current if self.instance.pk else None
        if current is not None:
            terms = services.deal_version_terms(current)
            for name, value in terms.items():
                if name == "qualification":
                    for key in QUALIFICATION_KEYS:
                        if key in value:
                            self.initial[f"qual_{key}"] = value[key]
                elif name == "countries":
                    self.initial[name] = ", ".join(value)
                elif name in self.fields:
                    self.initial[name] = value
        else:
            self.initial.setdefault("prop_include_resets", True)
            self.initial.setdefault("qual_window_days", 30)
        self.new_version = None

    def terms(self) -> dict:
        """The submitted terms in the service's shape; blank optional values fall back to the defaults."""
        data = self.cleaned_data
        terms: dict = {}
        for name in services.TERM_FIELDS:
            if name == "qualification":
                qualification = {
                    key: data[f"qual_{key}"] for key in QUALIFICATION_KEYS if data.get(f"qual_{key}") is not None
                }
                terms["qualification"] = qualification
            elif name == "countries":
                raw = data.get("countries") or ""
                terms["countries"] = [c.strip().upper() for c in raw.replace(";", ",").split(",") if c.strip()]
            elif name in ("cpa_daily_cap", "cpa_monthly_cap", "valid_from", "valid_to"):
                terms[name] = data.get(name)
            elif data.get(name) not in (None, ""):
                terms[name] = data[name]
        if not terms.get("currency"):
            brand = self.instance.brand if self.instance.pk else data.get("brand")
            if brand is not None:
                terms["currency"] = brand.currency
        for flag in ("negative_carryover", "prop_include_resets"):
            terms[flag] = bool(data.get(flag))
        return terms

    def save_with_service(self, *, by) -> Deal:
        """Create the deal or its next version. Returns the deal; `new_version` is None if nothing changed."""
        data = self.cleaned_data
        if self.instance.pk:
            before = self.instance.current_version
            version = services.deal_update(
                deal=self.instance,
                terms=self.terms(),
                by=by,
                effective_from=data.get("effective_from"),
                note=data.get("change_note", ""),
            )
            self.new_version = version if version.version != before else None
            return Deal.objects.get(pk=self.instance.pk)
        deal = services.deal_create(
            brand=data["brand"],
            terms=self.terms(),
            by=by,
            effective_from=data.get("effective_from"),
            note=data.get("change_note", ""),
        )
        self.new_version = deal.current
        return deal

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if not self.instance.pk and cleaned.get("brand") is None:
            return cleaned
        try:
            dry_run(lambda: self.save_with_service(by=None))
        except (ApiValidationError, DjangoValidationError) as exc:
            add_service_errors(self, exc)
        self.new_version = None
        return cleaned


class DealAssignmentForm(forms.ModelForm):
    """An assignment of a deal to one affiliate (or the brand default), checked by the service."""

    overrides = JSONTextField(kind=dict, label="Overrides", help_text=OVERRIDES_HELP)

    class Meta:
        model = DealAssignment
        fields = ["deal", "affiliate", "valid_from", "valid_to", "overrides", "note"]

    def _call(self, *, by):
        data = self.cleaned_data
        return services.deal_assignment_create(
            deal=data["deal"],
            affiliate=data.get("affiliate"),
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            overrides=data.get("overrides") or {},
            note=data.get("note", ""),
            by=by,
        )

    def save_with_service(self, *, by) -> DealAssignment:
        return self._call(by=by)

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("deal") or not cleaned.get("valid_from"):
            return cleaned
        try:
            dry_run(lambda: self._call(by=None))
        except (ApiValidationError, DjangoValidationError) as exc:
            add_service_errors(self, exc)
        return cleaned


class StatusReasonForm(forms.Form):
    """The reason a manager gives for suspending or rejecting affiliates; it is kept in their history."""

    reason = forms.CharField(
        max_length=500,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3, "placeholder": "Shown in the status history"}),
        help_text="Required. Kept in the affiliate's status history.",
    )
