"""Login throttling with django-axes, for every login that goes through django.contrib.auth's
authenticate() with a request: the admin's login form and any other (the partner portal's) alike.

After settings.AXES_FAILURE_LIMIT failures for one username from one client address, that pair is locked
out for AXES_COOLOFF_TIME: the login answers 429 with the lockout page, whatever the password. The client
address is the one the tracking redirect uses (REMOTE_ADDR, or X-Forwarded-For behind TRUSTED_PROXY
proxies), so a proxy's address does not lock out everyone behind it."""

from axes.backends import AxesStandaloneBackend


def client_ip(request) -> str | None:
    from tracking.redirect import client_ip as from_meta

    return from_meta(request.META) or request.META.get("REMOTE_ADDR")


class LoginLockoutBackend(AxesStandaloneBackend):
    """axes' backend, except for authenticate() calls without a request (management commands, a test
    client's login()): there is no client to count against or lock out, so those are left to the next
    backend instead of failing."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
