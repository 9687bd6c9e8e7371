"""Inventory at scale (PostgreSQL): a receipt of 10,000 serial units, 16 clients racing for the last
100 units, and serial lookup / stock page / 收发存 report on a large ledger.

Set-up, in a scratch data folder and database: ``kehu migrate``, the demo users, then a generator
seeds W warehouses, P products (a tenth serial-tracked), M ledger rows spread over 24 months with
consistent balances (every running balance >= 0, balances = ledger sums) and S serial units
(delivered or scrapped, so they hold no stock), loaded with ``COPY``, followed by ``VACUUM ANALYZE``.
Defaults: M = 2,000,000 and S = 1,000,000 (``--inv-moves`` / ``--inv-serials``; the budget's 10,000,000 /
5,000,000 is ``--inv-moves 10000000 --inv-serials 5000000``); ``--quick``: 200,000 / 100,000.

The measuring runs in a subprocess (this file with ``--worker``) with Django set up on the scratch
database, in-process: services called directly, pages through Django's test client (the whole
middleware stack and a logged-in session, no HTTP), timed with ``time.perf_counter``.  Each figure
has a baseline measured in the same run:

* receive one note of 10,000 serial units (``create_note`` + ``post_note``: validation, ledger,
  balance, serial units and their history) vs a raw ``COPY`` of the same 10,000 serial rows into a
  temporary table with the same columns, defaults, constraints and indexes;
* 16 threads (own connections) issuing one unit at a time from the last 100 units of one product:
  exactly 100 must succeed, every other attempt must get ``insufficient_stock``; issues/second, and
  the same with serial units (each serial wanted by 4 clients);
* serial lookup (``selectors.find_serial``, the API's ``serials/lookup/`` query) p95 vs a raw
  indexed ``SELECT``;
* the stock page ``/inventory/stock/`` (first page, and filtered by product) p95 vs a raw
  ``SELECT`` of the same page of balances;
* the 收发存 summary of last month and of the same month a year earlier vs a raw ``count(*)`` of the
  month's ledger rows: first with no month closed (the month totals and the balances: backward from
  now), then after closing every ended month (月结, what the monthly job does; timed): a closed month
  reads its stored figures, the current month the stored opening and its own totals.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import support  # noqa: E402
from support import BenchError, log  # noqa: E402

NAME = "inventory"
DESCRIPTION = "receipt of 10k serials, 16 racing issuers, serial lookup / stock page / 收发存 on a big ledger"

RECEIPT_BUDGET_S = 3.0
LOOKUP_BUDGET_MS = 5.0
STOCK_PAGE_BUDGET_MS = 50.0
SUMMARY_BUDGET_S = 1.0
PREFIX = "BENCH-"


def add_arguments(parser) -> None:
    g = parser.add_argument_group("inventory scenario")
    g.add_argument("--inv-moves", type=int, help="ledger rows to seed (default 2,000,000; quick 200,000)")
    g.add_argument("--inv-serials", type=int, help="serial units to seed (default 1,000,000; quick 100,000)")
    g.add_argument("--inv-products", type=int, help="products (default 5,000; quick 1,000)")
    g.add_argument("--inv-warehouses", type=int, default=10, help="warehouses (default 10)")
    g.add_argument("--inv-receipt-serials", type=int, default=10_000, help="serial units in the big receipt")
    g.add_argument("--inv-clients", type=int, default=16, help="racing clients (default 16)")
    g.add_argument(
        "--inv-requests", type=int, help="requests per page / lookup measurement (default 300; quick 60)"
    )


def run(args) -> dict:
    started = time.perf_counter()
    with support.workdir(args.keep) as wd:
        db = support.open_database(args.database_url, wd)
        if db.engine != "postgresql":
            return {
                "rows": [],
                "notes": ["the inventory scenario needs PostgreSQL (--database-url postgres://…)"],
            }
        log(f"database: {db.describe()}")
        env = support.kehu_env(db, wd)
        quick = args.quick
        config = {
            "moves": args.inv_moves or (200_000 if quick else 2_000_000),
            "serials": args.inv_serials or (100_000 if quick else 1_000_000),
            "products": args.inv_products or (1_000 if quick else 5_000),
            "warehouses": args.inv_warehouses,
            "receipt_serials": args.inv_receipt_serials,
            "clients": args.inv_clients,
            "requests": args.inv_requests or (60 if quick else 300),
            "out": str(wd / "result.json"),
        }
        try:
            support.run_cmd([support.kehu_bin(), "migrate", "--noinput", "-v", "0"], env, timeout=600)
            (wd / "static").mkdir(exist_ok=True)
            (wd / "config.json").write_text(json.dumps(config))
            support.run_streaming(
                [support.python_bin(), str(Path(__file__).resolve()), "--worker", str(wd / "config.json")],
                env,
                timeout=4 * 3600,
            )
            result = json.loads((wd / "result.json").read_text())
        finally:
            if args.keep or not db.fresh:
                log(f"left the database in place: {db.label}")
            else:
                support.drop_database(db)
                log("dropped the scratch database")
    return _report(result, config, time.perf_counter() - started)


def _v(ok) -> str:
    return "OK" if ok else "MISSES"


def _report(r: dict, config: dict, wall: float) -> dict:
    rows = r["rows"]
    tables = [
        {
            "title": f"seeding (COPY): {config['moves']:,} ledger rows, {config['serials']:,} serial units",
            "columns": [
                {"key": "step", "title": "step"},
                {"key": "rows", "title": "rows", "format": "{:,}"},
                {"key": "seconds", "title": "seconds", "format": "{:.1f}"},
            ],
            "rows": r["seed"],
        },
        {
            "title": "measurements (each beside its baseline)",
            "columns": [
                {"key": "what", "title": "what"},
                {"key": "value", "title": "Kehu"},
                {"key": "baseline", "title": "baseline"},
                {"key": "ratio", "title": "ratio"},
                {"key": "budget", "title": "budget"},
                {"key": "verdict", "title": ""},
            ],
            "rows": rows,
        },
    ]
    notes = r.get("notes", []) + [f"wall time {wall:.0f} s"]
    return {"rows": rows, "tables": tables, "notes": notes, "raw": r}


# --- the measuring subprocess ---------------------------------------------------------------------


def _p(values, pct):
    return support.percentile(sorted(values), pct)


class Worker:
    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = random.Random(20261123)
        self.result = {"seed": [], "rows": [], "notes": []}

    # seeding ---------------------------------------------------------------------------------
    def seed(self):
        from decimal import Decimal

        from django.db import connection
        from django.utils import timezone

        from kehu.accounts.demo import load
        from kehu.accounts.models import User
        from kehu.catalog.models import Product
        from kehu.inventory.models import Warehouse

        load()
        self.keeper = User.objects.get(username="warehouse")
        cfg = self.cfg
        t0 = time.perf_counter()
        whs = Warehouse.objects.bulk_create(
            [Warehouse(code=f"{PREFIX}W{i:02d}", name=f"基准仓{i:02d}") for i in range(cfg["warehouses"])]
        )
        products = Product.objects.bulk_create(
            [
                Product(
                    code=f"{PREFIX}P{i:06d}",
                    name=f"基准商品{i}",
                    tracking="serial" if i % 10 == 0 else "none",
                    standard_cost=Decimal(10 + i % 90),
                    avg_cost=Decimal(10 + i % 90),
                )
                for i in range(cfg["products"])
            ],
            batch_size=2000,
        )
        self.whs, self.products = whs, products
        self.result["seed"].append(
            {
                "step": "warehouses + products",
                "rows": len(whs) + len(products),
                "seconds": time.perf_counter() - t0,
            }
        )

        # ledger: each row picks a (product, warehouse) pair; quantities keep the running balance >= 0
        now = timezone.now()
        start = now - timedelta(days=730)
        span = (now - start).total_seconds()
        n = cfg["moves"]
        pairs = [(p.pk, w.pk) for p in products if p.tracking == "none" for w in whs]
        balance = {}
        value = {}
        uid = self.keeper.pk
        t0 = time.perf_counter()
        times = sorted(self.rng.random() * span for _ in range(n))
        with connection.cursor() as cur:
            with cur.cursor.copy(
                "COPY inventory_stockmove (product_id, warehouse_id, batch, quantity, unit_cost, amount, "
                "balance_after, reason, is_reversal, doc_type, doc_id, doc_number, user_id, created_at) "
                "FROM STDIN"
            ) as cp:
                buf = []
                for i in range(n):
                    key = pairs[self.rng.randrange(len(pairs))]
                    b = balance.get(key, 0)
                    if b > 0 and self.rng.random() < 0.45:
                        q = -self.rng.randint(1, min(b, 20))
                        reason = "sales_issue"
                    else:
                        q = self.rng.randint(1, 40)
                        reason = "purchase_receipt"
                    cost = 10 + key[0] % 90
                    amount = q * cost
                    balance[key] = b + q
                    value[key] = value.get(key, 0) + amount
                    at = start + timedelta(seconds=times[i])
                    buf.append(
                        f"{key[0]}\t{key[1]}\t\t{q}\t{cost}\t{amount}\t{b + q}\t{reason}\tf\tbench\t\\N\t"
                        f"BENCH{i:08d}\t{uid}\t{at.isoformat()}\n"
                    )
                    if len(buf) >= 20000:
                        cp.write("".join(buf))
                        buf = []
                if buf:
                    cp.write("".join(buf))
            self.result["seed"].append(
                {"step": "ledger rows (COPY)", "rows": n, "seconds": time.perf_counter() - t0}
            )
            t0 = time.perf_counter()
            with cur.cursor.copy(
                "COPY inventory_stockbalance (product_id, warehouse_id, batch, quantity, reserved, value, "
                "updated_at) FROM STDIN"
            ) as cp:
                cp.write(
                    "".join(
                        f"{k[0]}\t{k[1]}\t\t{q}\t0\t{value[k]}\t{now.isoformat()}\n"
                        for k, q in balance.items()
                    )
                )
            self.result["seed"].append(
                {"step": "balances (COPY)", "rows": len(balance), "seconds": time.perf_counter() - t0}
            )
            # serial units: delivered or scrapped, so they hold no stock
            t0 = time.perf_counter()
            serial_products = [p.pk for p in products if p.tracking == "serial"]
            self.sample_serials = []
            with cur.cursor.copy(
                "COPY inventory_serialunit (product_id, serial, batch, production_date, production_line, "
                "supplier, status, delivered_on, warranty_start, warranty_end, updated_at) FROM STDIN"
            ) as cp:
                buf = []
                for i in range(cfg["serials"]):
                    pid = serial_products[i % len(serial_products)]
                    serial = f"SN{pid:06d}{i:09d}"
                    if self.rng.random() < 0.0005:
                        self.sample_serials.append(serial)
                    d = (now - timedelta(days=i % 700)).date()
                    status = "delivered" if i % 50 else "scrapped"
                    buf.append(
                        f"{pid}\t{serial}\tB{d:%y%m}\t{d}\tL{i % 4}\t\t{status}\t{d}\t{d}\t"
                        f"{d + timedelta(days=365)}\t{now.isoformat()}\n"
                    )
                    if len(buf) >= 20000:
                        cp.write("".join(buf))
                        buf = []
                if buf:
                    cp.write("".join(buf))
            self.result["seed"].append(
                {"step": "serial units (COPY)", "rows": cfg["serials"], "seconds": time.perf_counter() - t0}
            )
        # the month totals post_movements keeps, built from the ledger loaded around it
        from kehu.inventory.periods import rebuild_month_totals

        t0 = time.perf_counter()
        n = rebuild_month_totals()
        self.result["seed"].append(
            {"step": "month totals (from the ledger)", "rows": n, "seconds": time.perf_counter() - t0}
        )
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE inventory_stockmove")
            cur.execute("VACUUM ANALYZE inventory_stockbalance")
            cur.execute("VACUUM ANALYZE inventory_serialunit")
            cur.execute("VACUUM ANALYZE inventory_stockmonthtotal")
        self.result["seed"].append({"step": "VACUUM ANALYZE", "rows": 0, "seconds": time.perf_counter() - t0})

    def row(self, what, value, baseline, ratio, budget, ok):
        self.result["rows"].append(
            {
                "what": what,
                "value": value,
                "baseline": baseline,
                "ratio": f"{ratio:.1f}×" if ratio else "",
                "budget": budget,
                "verdict": "" if ok is None else _v(ok),
            }
        )
        log(f"{what}: {value} (baseline {baseline}) {budget} {'' if ok is None else _v(ok)}")

    # 1. the big receipt --------------------------------------------------------------------------
    def receipt(self):
        from decimal import Decimal

        from django.db import connection
        from django.utils import timezone

        from kehu.catalog.models import Product
        from kehu.inventory import services as s

        n = self.cfg["receipt_serials"]
        p = Product.objects.create(
            code=f"{PREFIX}RCPT", name="大批量收货", tracking="serial", warranty_months=12
        )
        serials = s.generate_serials("RC", timezone.localdate(), 1, n, width=6)
        t0 = time.perf_counter()
        note = s.create_note(
            kind="receipt",
            warehouse=self.whs[0],
            reason="purchase_receipt",
            partner="bench",
            lines=[
                {
                    "product": p,
                    "quantity": n,
                    "unit_cost": "99.5",
                    "batch": "B1",
                    "serials": "\n".join(serials),
                }
            ],
            by=self.keeper,
        )
        t_create = time.perf_counter() - t0
        t1 = time.perf_counter()
        s.post_note(note, by=self.keeper)
        t_post = time.perf_counter() - t1
        total = time.perf_counter() - t0
        assert s.StockBalance.objects.get(product=p, warehouse=self.whs[0], batch="B1").quantity == Decimal(n)
        # baseline: COPY of the same rows into a temporary copy of the serial table
        now = timezone.now().isoformat()
        with connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE bench_serial_copy (LIKE inventory_serialunit INCLUDING ALL)")
            t2 = time.perf_counter()
            with cur.cursor.copy(
                "COPY bench_serial_copy (product_id, serial, batch, status, warehouse_id, supplier, "
                "production_line, received_at, updated_at) FROM STDIN"
            ) as cp:
                cp.write(
                    "".join(
                        f"{p.pk}\t{sn}\tB1\tin_stock\t{self.whs[0].pk}\tbench\t\t{now}\t{now}\n"
                        for sn in serials
                    )
                )
            t_copy = time.perf_counter() - t2
            cur.execute("DROP TABLE bench_serial_copy")
        self.row(
            f"receive 1 note × {n:,} serial units (save draft + post)",
            f"{total:.2f} s ({t_create:.2f} + {t_post:.2f}); {n / total:,.0f} units/s",
            f"COPY {t_copy:.3f} s; {n / t_copy:,.0f} rows/s",
            total / t_copy,
            f"≤ {RECEIPT_BUDGET_S:.0f} s",
            total <= RECEIPT_BUDGET_S,
        )

    # 2. racing issuers ---------------------------------------------------------------------------
    def race(self):
        import threading
        from decimal import Decimal

        from django.db import connection

        from kehu.catalog.models import Product
        from kehu.core.errors import DomainError
        from kehu.inventory import services as s
        from kehu.inventory.models import StockBalance

        clients = self.cfg["clients"]
        wh = self.whs[1]
        for serial in (False, True):
            p = Product.objects.create(
                code=f"{PREFIX}RACE{'S' if serial else 'Q'}",
                name="最后一百件",
                tracking="serial" if serial else "none",
            )
            sns = [f"LAST{i:03d}" for i in range(100)]
            s.post_movements(
                [s.Line(p, wh, Decimal(100), unit_cost=1, serials=sns if serial else ())],
                reason="purchase_receipt",
                document=s.SourceDoc("bench", None, "IN"),
                by=self.keeper,
            )
            tallies = []
            lock = threading.Lock()
            barrier = threading.Barrier(clients)

            def work(i, p=p, sns=sns, serial=serial, tallies=tallies, lock=lock, barrier=barrier):
                ok = short = other = 0
                try:
                    barrier.wait()
                    attempts = range(25) if serial else range(10)
                    for k in attempts:
                        try:
                            line = s.Line(
                                p, wh, Decimal(-1), serials=[sns[(i * 25 + k) % 100]] if serial else ()
                            )
                            s.post_movements(
                                [line],
                                reason="sales_issue",
                                document=s.SourceDoc("bench", None, "OUT"),
                                by=self.keeper,
                            )
                            ok += 1
                        except DomainError as exc:
                            if exc.code == "insufficient_stock" or (serial and exc.code == "invalid_serials"):
                                short += 1
                            else:
                                other += 1
                finally:
                    connection.close()
                with lock:
                    tallies.append((ok, short, other))

            threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            ok = sum(t[0] for t in tallies)
            short = sum(t[1] for t in tallies)
            other = sum(t[2] for t in tallies)
            bal = StockBalance.objects.get(product=p, warehouse=wh)
            good = ok == 100 and other == 0 and bal.quantity == 0
            kind = "serial units (each wanted by 4 clients)" if serial else "untracked units"
            refusal = "invalid_serials (already delivered)" if serial else "insufficient_stock"
            self.row(
                f"{clients} clients race for the last 100 {kind}",
                f"{ok} succeeded, {short} refused ({refusal}), {other} other errors; "
                f"{ok / wall:,.0f} issues/s, {(ok + short) / wall:,.0f} attempts/s",
                f"balance {bal.quantity:.0f}",
                None,
                "exactly 100",
                good,
            )
        diffs = s.check_stock() + s.month_total_differences()
        self.row(
            "kehu check-stock after the races (whole ledger: balances and month totals)",
            f"{len(diffs)} differences",
            "",
            None,
            "0",
            not diffs,
        )

    # 3. reads ------------------------------------------------------------------------------------
    def reads(self):
        from django.db import connection, reset_queries
        from django.test import Client

        from kehu.accounts.models import User
        from kehu.inventory.models import SerialUnit
        from kehu.inventory.selectors import find_serial

        n = self.cfg["requests"]
        samples = self.sample_serials or list(SerialUnit.objects.values_list("serial", flat=True)[:100])
        t_orm, t_raw = [], []
        for i in range(n):
            sn = samples[i % len(samples)]
            t0 = time.perf_counter()
            list(find_serial(sn))
            t_orm.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with connection.cursor() as cur:
                cur.execute("SELECT id FROM inventory_serialunit WHERE serial = %s", [sn])
                cur.fetchall()
            t_raw.append(time.perf_counter() - t0)
        p95, r95 = _p(t_orm, 95) * 1000, _p(t_raw, 95) * 1000
        self.row(
            f"serial lookup p95 ({n} lookups, {SerialUnit.objects.count():,} units)",
            f"{p95:.2f} ms",
            f"raw SELECT {r95:.2f} ms",
            p95 / r95 if r95 else None,
            f"≤ {LOOKUP_BUDGET_MS:.0f} ms",
            p95 <= LOOKUP_BUDGET_MS,
        )

        client = self.client = Client()
        client.force_login(User.objects.get(username="warehouse"))
        reset_queries()
        for label, query, raw_sql, params in (
            (
                "stock page, first page",
                {},
                "SELECT b.id FROM inventory_stockbalance b JOIN catalog_product p ON p.id = b.product_id "
                "WHERE b.quantity > 0 OR b.reserved > 0 ORDER BY b.product_id, b.id DESC LIMIT 25",
                [],
            ),
            (
                "stock page, ?q=<product code>",
                {"q": f"{PREFIX}P0004"},
                "SELECT b.id FROM inventory_stockbalance b JOIN catalog_product p ON p.id = b.product_id "
                "WHERE p.code LIKE %s AND (b.quantity > 0 OR b.reserved > 0) ORDER BY p.code LIMIT 25",
                [f"%{PREFIX}P0004%"],
            ),
        ):
            times, raw = [], []
            client.get("/inventory/stock/", query)  # warm-up
            for _ in range(n):
                t0 = time.perf_counter()
                resp = client.get("/inventory/stock/", query)
                times.append(time.perf_counter() - t0)
                assert resp.status_code == 200
                t0 = time.perf_counter()
                with connection.cursor() as cur:
                    cur.execute(raw_sql, params)
                    cur.fetchall()
                raw.append(time.perf_counter() - t0)
            p95, r95 = _p(times, 95) * 1000, _p(raw, 95) * 1000
            self.row(
                f"{label} p95 ({n} requests)",
                f"{p95:.1f} ms",
                f"raw SELECT {r95:.2f} ms",
                p95 / r95 if r95 else None,
                f"≤ {STOCK_PAGE_BUDGET_MS:.0f} ms",
                p95 <= STOCK_PAGE_BUDGET_MS,
            )

        from django.utils import timezone

        from kehu.inventory.services import close_all_periods

        today = timezone.localdate()
        last = today.replace(day=1) - timedelta(days=1)
        months = (("last month", (last.year, last.month)), ("12 months ago", (last.year - 1, last.month)))
        self.summary(months, "no month closed")
        t0 = time.perf_counter()
        closed = close_all_periods()
        took = time.perf_counter() - t0
        self.row(
            f"月结: close all {closed} ended months (the monthly job closes one)",
            f"{took:.1f} s",
            f"{took / max(closed, 1):.2f} s a month",
            None,
            "",
            None,
        )
        self.summary(months, "month closed")
        self.summary((("this month so far", (today.year, today.month)),), "previous month closed")

    def summary(self, months, how):
        from django.db import connection

        from kehu.inventory.selectors import monthly_summary
        from kehu.inventory.services import month_bounds

        for label, (y, m) in months:
            runs, raw = [], []
            start, end = month_bounds(y, m)
            for _ in range(3):
                t0 = time.perf_counter()
                rows = monthly_summary(y, m)
                runs.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                with connection.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM inventory_stockmove WHERE created_at >= %s AND created_at < %s",
                        [start, end],
                    )
                    in_month = cur.fetchone()[0]
                raw.append(time.perf_counter() - t0)
            best, worst, rb = min(runs), max(runs), min(raw)
            self.row(
                f"收发存 {y}-{m:02d} ({label}, {how}): {len(rows):,} rows; "
                f"{in_month:,} ledger rows in the month",
                f"{worst:.3f} s (best {best:.3f})",
                f"count(*) of the month's rows {rb:.3f} s",
                best / rb if rb else None,
                f"≤ {SUMMARY_BUDGET_S:.0f} s",
                worst <= SUMMARY_BUDGET_S,
            )
            pages = []
            for _ in range(3):  # the page a user opens: first 100 rows, value totals of all
                t0 = time.perf_counter()
                resp = self.client.get("/inventory/summary/", {"month": f"{y}-{m:02d}"})
                pages.append(time.perf_counter() - t0)
                assert resp.status_code == 200 and resp.content.count(b"<tr>") >= min(100, len(rows))
            self.row(
                f"the 收发存 page of {y}-{m:02d} ({how})",
                f"{max(pages):.3f} s (best {min(pages):.3f})",
                f"count(*) of the month's rows {rb:.3f} s",
                min(pages) / rb if rb else None,
                f"≤ {SUMMARY_BUDGET_S:.0f} s",
                max(pages) <= SUMMARY_BUDGET_S,
            )

    def run(self):
        self.seed()
        self.receipt()
        self.race()
        self.reads()
        return self.result


def worker_main(config_path: str) -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    django.setup()
    cfg = json.loads(Path(config_path).read_text())
    result = Worker(cfg).run()
    Path(cfg["out"]).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --worker CONFIG (run it through bench/run.py)")


__all__ = ["BenchError"]
