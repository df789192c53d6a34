"""Portal forms: they validate input and name every field for screen readers; the writes are services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.utils import timezone
from django_countries import countries

from affiliates.choices import PaymentMethod
from affiliates.models import Brand
from integrations.webhooks.choices import PostbackEvent
from tracking.services import landing_url_validate

from .selectors import GROUP_BY

MAX_RANGE_DAYS = 366


class LoginForm(forms.Form):
    username = forms.CharField(
        label="User name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app, or a recovery code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


class ConfirmDeviceForm(forms.Form):
    token = forms.CharField(
        label="The 6-digit code your app shows now",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class SignupForm(forms.Form):
    name = forms.CharField(label="Your name or brand name", max_length=120)
    email = forms.EmailField(label="E-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    company = forms.CharField(label="Company (optional)", max_length=120, required=False)
    website = forms.URLField(
        label="Website or traffic source (optional)", required=False, assume_scheme="https", max_length=200
    )
    country = forms.ChoiceField(label="Country", choices=[("", "Choose a country"), *list(countries)], required=False)
    username = forms.RegexField(
        label="User name",
        max_length=150,
        regex=r"^[\w.@+-]+$",
        error_messages={"invalid": "Letters, digits and @ . + - _ only."},
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    message = forms.CharField(
        label="How do you promote? (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    terms = forms.BooleanField(label="I accept the programme's terms and conditions")

    def clean(self):
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", "The two passwords differ.")
        elif one:
            from django.contrib.auth import get_user_model

            probe = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(one, probe)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class PortalPasswordResetForm(PasswordResetForm):
    """Resets only partner accounts: a staff account resets its password through the admin's own flow."""

    def get_users(self, email):
        return [user for user in super().get_users(email) if not user.is_staff and hasattr(user, "affiliate")]


class RangeForm(forms.Form):
    """A date range in UTC days, `to` inclusive; defaults to the last 30 days."""

    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        today = timezone.now().astimezone(dt.UTC).date()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=29)
        if start > end:
            raise forms.ValidationError("The start is after the end.")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_RANGE_DAYS} days.")
        data["start"], data["end"] = start, end
        return data

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as UTC moments."""
        start = dt.datetime.combine(self.cleaned_data["start"], dt.time(), tzinfo=dt.UTC)
        end = dt.datetime.combine(self.cleaned_data["end"] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        return start, end


REPORT_GROUPS = [
    ("day", "Day"),
    ("brand", "Brand"),
    ("country", "Country"),
    ("link", "Tracking link"),
    *[(f"sub{n}", f"Sub ID {n}") for n in range(1, 6)],
]
assert {g for g, _ in REPORT_GROUPS} - {"link"} == set(GROUP_BY)


class ReportForm(RangeForm):
    group_by = forms.ChoiceField(label="Group by", choices=REPORT_GROUPS, required=False)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_group_by(self):
        return self.cleaned_data.get("group_by") or "day"


class TrackingLinkForm(forms.Form):
    brand = forms.ModelChoiceField(
        label="Brand", queryset=Brand.objects.filter(is_active=True), empty_label="Choose a brand"
    )
    landing_url = forms.CharField(
        label="Landing page URL", max_length=2000, widget=forms.URLInput(attrs={"placeholder": "https://"})
    )
    name = forms.CharField(label="Name (optional, for your reports)", max_length=120, required=False)

    def clean_landing_url(self):
        return landing_url_validate(self.cleaned_data["landing_url"])


class PostbackForm(forms.Form):
    event = forms.ChoiceField(label="Event", choices=PostbackEvent.choices)
    url_template = forms.CharField(
        label="URL template",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "https://tracker.example.com/pb?cid={click_id}&payout={payout}"}),
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. my tracker"})
    )


# Which named details each payment method asks for.
PAYMENT_FIELDS: dict[str, list[tuple[str, str]]] = {
    PaymentMethod.BANK_TRANSFER: [
        ("holder", "Account holder"),
        ("iban", "IBAN"),
        ("swift", "SWIFT / BIC"),
        ("bank", "Bank name"),
    ],
    PaymentMethod.SKRILL: [("email", "Skrill e-mail")],
    PaymentMethod.NETELLER: [("email", "Neteller e-mail"), ("account_id", "Neteller account id")],
    PaymentMethod.PAYPAL: [("email", "PayPal e-mail")],
    PaymentMethod.CRYPTO: [("network", "Network (e.g. TRC20, ERC20, BTC)"), ("address", "Wallet address")],
    PaymentMethod.OTHER: [("instructions", "Payment instructions")],
}
DETAIL_LABELS = {name: label for fields in PAYMENT_FIELDS.values() for name, label in fields}


class PaymentDetailsForm(forms.Form):
    """One form for every method; only the chosen method's fields are kept."""

    payment_method = forms.ChoiceField(label="Payment method", choices=PaymentMethod.choices)
    holder = forms.CharField(label="Account holder", max_length=120, required=False)
    iban = forms.CharField(label="IBAN", max_length=34, required=False)
    swift = forms.CharField(label="SWIFT / BIC", max_length=11, required=False)
    bank = forms.CharField(label="Bank name", max_length=120, required=False)
    email = forms.EmailField(label="Wallet e-mail (Skrill, Neteller, PayPal)", required=False)
    account_id = forms.CharField(label="Neteller account id", max_length=40, required=False)
    network = forms.CharField(label="Crypto network (e.g. TRC20, ERC20, BTC)", max_length=20, required=False)
    address = forms.CharField(label="Wallet address", max_length=120, required=False)
    instructions = forms.CharField(
        label="Payment instructions", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    REQUIRED = {
        PaymentMethod.BANK_TRANSFER: ("holder", "iban"),
        PaymentMethod.SKRILL: ("email",),
        PaymentMethod.NETELLER: ("email",),
        PaymentMethod.PAYPAL: ("email",),
        PaymentMethod.CRYPTO: ("network", "address"),
        PaymentMethod.OTHER: ("instructions",),
    }

    def clean_iban(self):
        iban = self.cleaned_data["iban"].replace(" ", "").upper()
        if iban and not _iban_ok(iban):
            raise forms.ValidationError("This IBAN is not valid: check the country code and the digits.")
        return iban

    def clean_swift(self):
        swift = self.cleaned_data["swift"].replace(" ", "").upper()
        if swift and (len(swift) not in (8, 11) or not swift.isalnum() or not swift[:6].isalpha()):
            raise forms.ValidationError("A SWIFT / BIC code has 8 or 11 letters and digits.")
        return swift

    def clean(self):
        data = super().clean()
        method = data.get("payment_method")
        if not method:
            return data
        for name in self.REQUIRED[method]:
            if not data.get(name):
                self.add_error(name, "Required for this payment method.")
        return data

    def details(self) -> dict[str, str]:
        method = self.cleaned_data["payment_method"]
        return {name: self.cleaned_data[name] for name, _ in PAYMENT_FIELDS[method] if self.cleaned_data.get(name)}


def _iban_ok(iban: str) -> bool:
    """ISO 13616 check: two letters, two check digits, mod 97 of the rearranged number is 1."""
    if not (15 <= len(iban) <= 34) or not iban[:2].isalpha() or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1
