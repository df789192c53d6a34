from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from affiliates.models import Affiliate
from core.keys import api_key_create
from core.models import ApiKeyScope
from integrations.models import Source


class Command(BaseCommand):
    help = "Create an API key. The key is printed once, alone on the last line of output."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", required=True, choices=[s.value for s in ApiKeyScope])
        parser.add_argument("--affiliate", type=int, help="affiliate id (partner scope)")
        parser.add_argument("--source", help="source slug (source scope)")

    def handle(self, *args, name, scope, affiliate=None, source=None, **options):
        affiliate_obj = source_obj = None
        if scope == ApiKeyScope.PARTNER:
            if affiliate is None:
                raise CommandError("--affiliate is required for a partner key")
            affiliate_obj = Affiliate.objects.filter(pk=affiliate).first()
            if affiliate_obj is None:
                raise CommandError(f"no affiliate with id {affiliate}")
        if scope == ApiKeyScope.SOURCE:
            if not source:
                raise CommandError("--source is required for a source key")
            source_obj = Source.objects.filter(slug=source).first()
            if source_obj is None:
                raise CommandError(f"no source {source!r}")
        if scope != ApiKeyScope.PARTNER and affiliate is not None:
            raise CommandError(f"--affiliate is only for a partner key, not a {scope} key")
        if scope != ApiKeyScope.SOURCE and source:
            raise CommandError(f"--source is only for a source key, not a {scope} key")
        if not name.strip():
            raise CommandError("--name must not be blank")
        try:
            key, raw = api_key_create(name=name, scope=scope, affiliate=affiliate_obj, source=source_obj)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(
            f"Created {scope} key {key.name!r} (prefix {key.prefix}). Store it now; it is not shown again."
        )
        self.stdout.write(raw)
