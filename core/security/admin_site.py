"""The admin site: django-unfold's, with the second factor at login and a page to enrol a TOTP device.

See two_factor.py for who must give a token. The login form asks for the authenticator code next to the
password; a user without a device leaves it empty. Login failures (password or code) count towards the
django-axes lockout only for the password: codes are throttled by django-otp per device.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import devices_for_user, match_token, user_has_device
from unfold.forms import AuthenticationForm
from unfold.sites import UnfoldAdminSite
from unfold.widgets import BASE_INPUT_CLASSES

from . import two_factor


class TwoFactorLoginForm(AuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=12,
        help_text="The code your authenticator app shows, if you enrolled one.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "class": " ".join(BASE_INPUT_CLASSES)}
        ),
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user):
            token = "".join((cleaned.get("otp_token") or "").split())
            if not token:
                raise ValidationError("Enter the code from your authenticator app.", code="token_required")
            device = match_token(user, token)
            if device is None:
                raise ValidationError("That authenticator code is wrong or has expired.", code="invalid_token")
            user.otp_device = device  # django_otp marks the session verified when the login completes
        return cleaned


class TwoFactorForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": "",
                "class": " ".join(BASE_INPUT_CLASSES),
            }
        ),
    )


class PlatformAdminSite(UnfoldAdminSite):
    login_form = TwoFactorLoginForm
    login_template = "security/admin_login.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self.login_form = TwoFactorLoginForm

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and two_factor.two_factor_satisfied(request)

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        if request.method == "GET" and two_factor.needs_enrolment(request):
            return HttpResponseRedirect(reverse("admin:two_factor", current_app=self.name))
        return super().login(request, extra_context)

    def get_urls(self):
        return [path("two-factor/", self.two_factor_view, name="two_factor"), *super().get_urls()]

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def two_factor_view(self, request):
        """Enrol an authenticator app: scan the QR code (or type the secret), confirm with a code."""
        if not two_factor.may_enrol(request):
            login = reverse("admin:login", current_app=self.name)
            return HttpResponseRedirect(f"{login}?next={request.path}")
        form = TwoFactorForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            device = two_factor.totp_device_confirm(request=request, token=form.cleaned_data["token"])
            if device is not None:
                messages.success(request, "Two-factor authentication is on: the admin asks for a code at login.")
                return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
            form.add_error("token", "That code does not match; check the time on your phone and try again.")
        device = two_factor.totp_device_pending(request=request)
        secret = _base32(device.bin_key)
        context = {
            **self.each_context(request),
            "title": "Two-factor authentication",
            "form": form,
            "qr_code": two_factor.qr_code_data_uri(device),
            "secret": secret,
            "devices": list(devices_for_user(request.user, confirmed=True)),
            "required": two_factor.needs_enrolment(request),
        }
        request.current_app = self.name
        return TemplateResponse(request, "security/two_factor.html", context)


def _base32(key: bytes) -> str:
    from base64 import b32encode

    text = b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
