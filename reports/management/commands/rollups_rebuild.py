"""`python manage.py rollups_rebuild [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--affiliate ID …]`"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from reports import upkeep


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a day (YYYY-MM-DD).") from error


class Command(BaseCommand):
    help = (
        "Rewrite the report rollups of a period (UTC days, inclusive) from the raw rows. Without --from and --to "
        "on a database whose rollups were never built: build everything and start reading reports from them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_day)
        parser.add_argument("--to", dest="end", type=_day)
        parser.add_argument("--affiliate", dest="affiliates", type=int, action="append", help="only these (repeat)")

    def handle(self, *args, start=None, end=None, affiliates=None, **options):
        if start is None and end is None:
            if upkeep.state().covered_from is None:
                rows = upkeep.rollups_build()
                self.stdout.write(f"Built the rollups: {rows} daily rows; reports read them from now on.")
                return
            raise CommandError("Give --from and --to (the rollups are built already).")
        if start is None or end is None:
            raise CommandError("Give both --from and --to.")
        if end < start:
            raise CommandError("--to is before --from.")
        rows = upkeep.rollups_rebuild(start=start, end=end, affiliate_ids=affiliates)
        self.stdout.write(f"Rewrote {start} … {end}: {rows} daily rows.")
