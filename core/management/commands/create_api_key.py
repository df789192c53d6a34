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
        if scope == ApiKeyScope.MANAGEMENT and (affiliate or source):
            raise CommandError("a management key belongs to no affiliate or source")
        key, raw = api_key_create(name=name, scope=scope, affiliate=affiliate_obj, source=source_obj)
        self.stderr.write(
            f"Created {scope} key {key.name!r} (prefix {key.prefix}). Store it now; it is not shown again."
        )
        self.stdout.write(raw)
