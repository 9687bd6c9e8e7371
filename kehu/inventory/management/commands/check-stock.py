"""kehu check-stock: recompute every balance and month total from the ledger and report any difference."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from kehu.catalog.models import Product
from kehu.inventory.models import Warehouse
from kehu.inventory.services import check_stock, month_total_differences, serial_differences


class Command(BaseCommand):
    help = (
        "Recompute stock balances and month totals from the ledger and report differences "
        "(exit code 1 if any)."
    )

    def handle(self, *args, **options):
        diffs = check_stock()
        serials = serial_differences()
        months = month_total_differences()
        codes = dict(Product.objects.values_list("pk", "code"))
        whs = dict(Warehouse.objects.values_list("pk", "code"))
        for d in diffs:
            self.stdout.write(
                f"{codes.get(d['product'], d['product'])} @ {whs.get(d['warehouse'], d['warehouse'])}"
                f" batch={d['batch'] or '-'}: balance {d['balance']} (value {d['value']}), "
                f"ledger {d['ledger']} (value {d['ledger_value']})"
            )
        for d in serials:
            self.stdout.write(
                f"{codes.get(d['product'], d['product'])} @ {whs.get(d['warehouse'], d['warehouse'])}"
                f" batch={d['batch'] or '-'}: balance {d['balance']}, serial units in stock {d['units']}"
            )
        for d in months:
            self.stdout.write(
                f"{d['period']} {codes.get(d['product'], d['product'])} @ "
                f"{whs.get(d['warehouse'], d['warehouse'])}: month totals {_figures(d['totals'])}, "
                f"ledger {_figures(d['ledger'])}"
            )
        n = len(diffs) + len(serials) + len(months)
        self.stdout.write(f"{n} difference{'s' if n != 1 else ''} between the ledger and the balances.")
        if n:
            sys.exit(1)


def _figures(f) -> str:
    if f is None:
        return "none"
    return f"in {f[0]} (value {f[1]}), out {f[2]} (value {f[3]})"
