"""kehu close-stock-periods [YYYY-MM]: store the month-end stock (月结) of one month, or of every
ended month since the first movement, so the 收发存 summary reads only the month's own rows."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kehu.core.errors import DomainError
from kehu.inventory.services import close_all_periods, close_period


class Command(BaseCommand):
    help = "Close one month (YYYY-MM) or every ended month of the stock ledger."

    def add_arguments(self, parser):
        parser.add_argument("month", nargs="?", help="YYYY-MM; without it, every ended month")

    def handle(self, *args, **options):
        month = options.get("month")
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
