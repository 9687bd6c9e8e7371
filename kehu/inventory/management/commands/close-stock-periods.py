"""kehu close-stock-periods [YYYY-MM] [--rebuild-totals]: store the month-end stock (月结) of one month,
or of every ended month since the first movement; ``--rebuild-totals`` first recomputes the month
totals from the ledger (after ledger rows were loaded around Kehu)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kehu.core.errors import DomainError
from kehu.inventory.services import close_all_periods, close_period, rebuild_month_totals


class Command(BaseCommand):
    help = "Close one month (YYYY-MM) or every ended month of the stock ledger."

    def add_arguments(self, parser):
        parser.add_argument("month", nargs="?", help="YYYY-MM; without it, every ended month")
        parser.add_argument(
            "--rebuild-totals", action="store_true", help="recompute the month totals from the ledger first"
        )

    def handle(self, *args, **options):
        month = options.get("month")
        if options.get("rebuild_totals"):
            rows = rebuild_month_totals()
            self.stdout.write(f"Month totals rebuilt from the ledger: {rows} rows.")
        if not month:
            n = close_all_periods()
            self.stdout.write(f"{n} months closed.")
            return
        try:
            year, mon = (int(x) for x in month.split("-"))
            rows = close_period(year, mon)
        except (ValueError, DomainError) as exc:
            raise CommandError(str(exc) or "give the month as YYYY-MM") from exc
        self.stdout.write(f"{month} closed: {rows} product × warehouse rows.")
