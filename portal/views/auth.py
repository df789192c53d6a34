"""Log-in (password, then the second factor when it is on), log-out, password reset, sign-up and the
security page (two-factor set-up, recovery codes, password change)."""

from __future__ import annotations

import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import services
from ..access import (
    PENDING_AT_KEY,
    PENDING_NEXT_KEY,
    PENDING_SECONDS,
    PENDING_USER_KEY,
    partner_of,
    partner_required,
    safe_next,
)
from ..forms import ConfirmDeviceForm, LoginForm, PortalPasswordResetForm, SignupForm, TokenForm

User = get_user_model()
THROTTLE_SECONDS = 15 * 60


def _throttle_keys(request, username: str) -> list[str]:
    ip = request.META.get("REMOTE_ADDR", "")
    return [f"portal-login:u:{username.lower()}", f"portal-login:ip:{ip}"]


def _throttled(request, username: str) -> bool:
    limit = settings.PORTAL_LOGIN_MAX_FAILURES
    return any((cache.get(key) or 0) >= limit for key in _throttle_keys(request, username))


def _failed(request, username: str) -> None:
    for key in _throttle_keys(request, username):
        cache.add(key, 0, THROTTLE_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, THROTTLE_SECONDS)


@sensitive_post_parameters("password")
def login_view(request):
    """Step one: user name and password. A partner with two-factor on goes on to the code step before any
    session is opened for them."""
    if partner_of(request.user) is not None and (
        not services.two_factor_enabled(request.user) or request.user.is_verified()
    ):
        return redirect(safe_next(request, reverse("portal:dashboard")))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        if _throttled(request, username):
            form.add_error(None, "Too many failed log-ins. Wait 15 minutes, or reset your password.")
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None or partner_of(user) is None:
                _failed(request, username)
                form.add_error(None, "The user name or password is not right, or this is not a partner account.")
            elif services.two_factor_enabled(user):
                request.session[PENDING_USER_KEY] = user.pk
                request.session[PENDING_AT_KEY] = time.time()
                request.session[PENDING_NEXT_KEY] = safe_next(request, reverse("portal:dashboard"))
                return redirect("portal:login-verify")
            else:
                login(request, user)
                return redirect(safe_next(request, reverse("portal:dashboard")))
    return render(request, "portal/login.html", {"form": form, "next": request.GET.get("next", "")})


def login_verify(request):
    """Step two: a code from the authenticator app, or one of the recovery codes (each works once)."""
    user_id = request.session.get(PENDING_USER_KEY)
    started = request.session.get(PENDING_AT_KEY) or 0
    if not user_id or time.time() - started > PENDING_SECONDS:
        for key in (PENDING_USER_KEY, PENDING_AT_KEY, PENDING_NEXT_KEY):
            request.session.pop(key, None)
        messages.error(request, "Log in again: the code step timed out.")
        return redirect("portal:login")
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or partner_of(user) is None:
        return redirect("portal:login")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_verify(user=user, token=form.cleaned_data["token"])
        if device is None:
            _failed(request, user.username)
            form.add_error("token", "That code is not right. Enter the current code from your app.")
        else:
            target = request.session.get(PENDING_NEXT_KEY) or reverse("portal:dashboard")
            for key in (PENDING_USER_KEY, PENDING_AT_KEY, PENDING_NEXT_KEY):
                request.session.pop(key, None)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, device)
            if device.__class__.__name__ == "StaticDevice":
                left = device.token_set.count()
                messages.warning(request, f"You used a recovery code; {left} left. Make new ones under Security.")
            return redirect(target)
    return render(request, "portal/login_verify.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    messages.success(request, "You are logged out.")
    return redirect("portal:login")


@sensitive_post_parameters("password1", "password2")
def signup(request):
    """The application form. With `?ref=` (a sub-affiliate link) the applicant becomes a sub-affiliate of
    the affiliate that shared it."""
    ref = request.POST.get("ref") or request.GET.get("ref") or ""
    parent = services.subaffiliate_parent(ref)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.partner_signup(
                username=data["username"],
                password=data["password1"],
                name=data["name"],
                email=data["email"],
                company=data["company"],
                website=data["website"],
                country=data["country"],
                parent=parent,
                message=data["message"],
            )
        except services.PortalError as exc:
            form.add_error(None, str(exc))
        else:
            return render(request, "portal/signup_done.html", {"email": data["email"]})
    return render(request, "portal/signup.html", {"form": form, "parent": parent, "ref": ref if parent else ""})


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "portal/password_reset.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-sent")

    def form_valid(self, form):
        self.extra_email_context = {"base_url": settings.PUBLIC_BASE_URL}
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_reset_complete.html"


# --- Security -------------------------------------------------------------------------------------


def _qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG (no external image, no script)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#111827", light="#ffffff")


@partner_required
def security(request):
    user = request.user
    context = {
        "enabled": services.two_factor_enabled(user),
        "password_form": PasswordChangeForm(user),
        "recovery_left": sum(d.token_set.count() for d in user.staticdevice_set.all()),
        "confirm_form": ConfirmDeviceForm(),
        "codes": request.session.pop("portal_recovery_codes", None),
    }
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if pending is not None and not context["enabled"]:
        context["pending"] = pending
        context["qr_svg"] = _qr_svg(pending)
        context["secret"] = _b32(pending)
    return render(request, "portal/security.html", context)


def _b32(device: TOTPDevice) -> str:
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@require_POST
@partner_required
def two_factor_start(request):
    if services.two_factor_enabled(request.user):
        messages.info(request, "Two-factor authentication is already on.")
    else:
        services.totp_device_start(user=request.user)
    return redirect(reverse("portal:security") + "#two-factor")


@require_POST
@partner_required
def two_factor_confirm(request):
    form = ConfirmDeviceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the 6-digit code your app shows.")
        return redirect(reverse("portal:security") + "#two-factor")
    try:
        codes = services.totp_device_confirm(user=request.user, token=form.cleaned_data["token"])
    except services.PortalError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("portal:security") + "#two-factor")
    device = TOTPDevice.objects.get(user=request.user, confirmed=True)
    otp_login(request, device)  # this session has just proven the second factor
    request.session["portal_recovery_codes"] = codes
    messages.success(request, "Two-factor authentication is on. Keep your recovery codes somewhere safe.")
    return redirect(reverse("portal:security") + "#recovery")


@require_POST
@partner_required
def two_factor_disable(request):
    device = services.two_factor_verify(user=request.user, token=request.POST.get("token", ""))
    if device is None:
        messages.error(request, "Enter a current code (or a recovery code) to turn two-factor off.")
    else:
        services.two_factor_disable(user=request.user)
        messages.success(request, "Two-factor authentication is off.")
    return redirect(reverse("portal:security") + "#two-factor")


@require_POST
@partner_required
def recovery_codes(request):
    if not services.two_factor_enabled(request.user):
        messages.error(request, "Turn two-factor authentication on first.")
        return redirect("portal:security")
    request.session["portal_recovery_codes"] = services.recovery_codes_new(user=request.user)
    messages.success(request, "New recovery codes: the old ones no longer work.")
    return redirect(reverse("portal:security") + "#recovery")


@require_POST
@sensitive_post_parameters()
@partner_required
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        messages.success(request, "Your password was changed.")
        return redirect("portal:security")
    context = {
        "enabled": services.two_factor_enabled(request.user),
        "password_form": form,
        "recovery_left": sum(d.token_set.count() for d in request.user.staticdevice_set.all()),
        "confirm_form": ConfirmDeviceForm(),
    }
    return render(request, "portal/security.html", context, status=400)
