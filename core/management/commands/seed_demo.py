"""`python manage.py seed_demo`: load the demo programme, then every app's demo data. Safe to run again."""

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand

from affiliates import demo
from core.keys import api_key_create, api_key_revoke
from core.models import ApiKey, ApiKeyScope

# Each of these modules, where it exists, has `seed(ctx) -> list[str]`; the lines are printed.
APP_DEMOS = (
    "tracking.demo",
    "integrations.demo",
    "commissions.demo",
    "commissions.payouts.demo",
    "integrations.webhooks.demo",
    "integrations.monitoring.demo",
)
DEMO_KEY_NAME = "demo management key"


def _module(name: str):
    """The app's demo module, or None where the app has none yet. Errors inside a module propagate."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name or name.startswith(f"{exc.name}."):
            return None
        raise


class Command(BaseCommand):
    help = "Load demo data (brands, affiliates, deals, and each app's demo); running it again changes nothing."

    def handle(self, *args, **options):
        ctx = demo.seed()
        lines = [
            f"{len(ctx['brands'])} brands, {len(ctx['affiliates'])} affiliates, {len(ctx['deals'])} deals",
        ]
        for name in APP_DEMOS:
            module = _module(name)
            if module is None or not hasattr(module, "seed"):
                continue
            lines += [str(line) for line in module.seed(ctx) or []]
        # A fresh management key each run; the previous demo keys are revoked, so one is ever active.
        for old in ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
            api_key_revoke(key=old)
        _, raw = api_key_create(name=DEMO_KEY_NAME, scope=ApiKeyScope.MANAGEMENT, created_by=ctx["admin"])

        base = settings.PUBLIC_BASE_URL
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data is ready."))
        for line in lines:
            out.write(f"  {line}")
        out.write("")
        out.write(f"Admin:     {base}/admin/")
        out.write(f"  superuser        {demo.ADMIN['username']} / {demo.ADMIN['password']}")
        out.write(f"  account manager  {demo.MANAGER['username']} / {demo.MANAGER['password']}")
        out.write(
            f"  partner login    {demo.PARTNER['username']} / {demo.PARTNER['password']}  ({demo.PARTNER_AFFILIATE})"
        )
        out.write(f"API docs:  {base}/api/docs/")
        out.write("Management API key (shown once; each run makes a new one and revokes the previous):")
        out.write(raw)
