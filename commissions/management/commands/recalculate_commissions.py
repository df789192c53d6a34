"""`manage.py recalculate_commissions --affiliate 12 [--brand lucky-casino] [--period 2026-11] [--apply]`"""

import json

from django.core.management.base import BaseCommand, CommandError

from affiliates.models import Affiliate, Brand
from commissions.services import commission_recalculate
from core.problems import Problem


class Command(BaseCommand):
    help = "Recompute commissions from the events: print the differences (what-if), or book them with --apply."

    def add_arguments(self, parser):
        parser.add_argument("--affiliate", type=int)
        parser.add_argument("--brand", help="Brand slug.")
        parser.add_argument("--period", help="YYYY-MM (brand time zone).")
        parser.add_argument("--apply", action="store_true", help="Book the differences as adjustment entries.")

    def handle(self, *args, affiliate=None, brand=None, period=None, apply=False, **options):
        try:
            aff = Affiliate.objects.get(pk=affiliate) if affiliate else None
            brand_obj = Brand.objects.get(slug=brand) if brand else None
        except (Affiliate.DoesNotExist, Brand.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        try:
            result = commission_recalculate(affiliate=aff, brand=brand_obj, period=period, apply=apply)
        except Problem as problem:
            raise CommandError(problem.title) from problem
        self.stdout.write(json.dumps(result.as_dict(), indent=2))
        verb = "Booked" if apply else "Would book"
        self.stdout.write(f"{verb} {len(result.diffs)} adjustment(s) (batch {result.batch}).")
