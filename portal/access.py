"""Who may use the portal: a signed-in, non-staff user linked to an affiliate that is not rejected, who has
passed the second factor when they turned it on. Every portal view reads `request.affiliate` set here,
and every query it makes is filtered by that affiliate: another affiliate's ids are simply not found (404).
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate

from . import services

PENDING_USER_KEY = "portal_pending_user"
PENDING_AT_KEY = "portal_pending_at"
PENDING_NEXT_KEY = "portal_pending_next"
PENDING_SECONDS = 300


def partner_of(user) -> Affiliate | None:
    """The affiliate a user logs in for, or None (staff, users without an affiliate, rejected affiliates)."""
    if user is None or not user.is_authenticated or user.is_staff or user.is_superuser:
        return None
    affiliate = Affiliate.objects.filter(user=user).select_related("manager", "parent").first()
    if affiliate is None or affiliate.status == AffiliateStatus.REJECTED:
        return None
    return affiliate


def safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    if target and allowed and target.startswith("/portal/"):
        return target
    return default


def partner_required(view=None, *, active: bool = False):
    """Portal pages: a partner who has passed two-factor when it is on. `active=True`: only an active
    affiliate (a pending or suspended one sees its data, but cannot create links or keys)."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            login_url = reverse("portal:login")
            if not request.user.is_authenticated:
                return redirect(f"{login_url}?next={request.get_full_path()}")
            affiliate = partner_of(request.user)
            if affiliate is None:
                # A staff login (kept: it is the admin's session) or a rejected application: not a partner.
                messages.error(request, "Log in with a partner account to use the partner portal.")
                return redirect(login_url)
            if services.two_factor_enabled(request.user) and not request.user.is_verified():
                logout(request)
                return redirect(f"{login_url}?next={request.get_full_path()}")
            request.affiliate = affiliate
            if active and affiliate.status != AffiliateStatus.ACTIVE:
                messages.error(
                    request, f"Your account is {affiliate.get_status_display().lower()}: this is not possible."
                )
                return redirect("portal:dashboard")
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
