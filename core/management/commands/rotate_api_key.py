from django.core.management.base import BaseCommand, CommandError

from core.keys import KeyRotationError, api_key_rotate
from core.models import ApiKey


class Command(BaseCommand):
    help = (
        "Rotate an API key: a new key of the same name, scope and subject, printed once alone on the last line. "
        "The old key keeps working for the grace period (API_KEY_ROTATION_GRACE_HOURS), then stops."
    )

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="the key's prefix (the 12 hex digits after the scope tag)")
        parser.add_argument(
            "--grace-hours", type=float, default=None, help="how long the old key keeps working (0: stop it now)"
        )

    def handle(self, *args, prefix, grace_hours=None, **options):
        key = ApiKey.objects.filter(prefix=prefix.strip()).first()
        if key is None:
            raise CommandError(f"no API key with prefix {prefix!r}")
        try:
            new, raw = api_key_rotate(key=key, grace_hours=grace_hours)
        except KeyRotationError as exc:
            raise CommandError(str(exc)) from None
        until = f"until {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "no longer (revoked)"
        self.stderr.write(
            f"Rotated {key.scope} key {key.name!r}: the old key {key.prefix} works {until}; "
            f"the new key {new.prefix} is below. Store it now; it is not shown again."
        )
        self.stdout.write(raw)
