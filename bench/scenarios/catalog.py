"""The product centre at scale: list search, the product page, the API list, import and labels.

Set-up, in a scratch data folder and database: ``kehu migrate``, the demo users (``accounts.demo``),
then a generator seeds about 300 categories in three levels and N products (default 200,000 on
PostgreSQL, 20,000 on SQLite; ``--quick``: 20,000 / 5,000) with ``COPY`` (PostgreSQL) or
``executemany`` (SQLite), followed by ``ANALYZE``.

The measuring runs in a subprocess (this file with ``--worker``), with Django set up on the scratch
database, calling the real views in-process through Django's test client (whole middleware stack,
a logged-in session, no HTTP), one request at a time.  Every figure is printed beside a baseline
measured in the same run:

* product list, first page with ``?q=`` (name fragment, pinyin initials, code prefix) and with
  ``?category=`` (a top category: its subtree): beside the same first page fetched with one
  hand-written SQL query (same WHERE, ORDER BY, LIMIT);
* ``GET /api/v1/products/?q=``: beside the same raw SQL;
* the product page: time and query count, beside one primary-key SELECT;
* import (``kehu.catalog.importing``: read, dry run, write; in-process, synchronous) of new rows:
  beside a raw ``COPY``/``executemany`` of the same rows (then deleted);
* labels: a PDF of 1,000 labels (A4, 3 × 8, barcode + QR) beside the same pages with the text only.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import support  # noqa: E402
from support import BenchError, log  # noqa: E402

NAME = "catalog"
DESCRIPTION = "product list search, product page, API list, import and label PDFs, vs raw SQL / plain PDF"
CODE_PREFIX = "BENCH-P"
CATEGORY_PREFIX = "BENCH "


def add_arguments(parser) -> None:
    g = parser.add_argument_group("catalog scenario")
    g.add_argument(
        "--catalog-products", type=int, help="products to seed (default 200,000 on PostgreSQL; 20,000 SQLite)"
    )
    g.add_argument("--catalog-requests", type=int, help="requests per list query kind (default 40; quick 10)")
    g.add_argument("--catalog-import-rows", type=int, help="import file rows (default 10,000; quick 2,000)")
    g.add_argument("--catalog-labels", type=int, help="labels in the PDF (default 1,000; quick 240)")


def _settings(args, engine: str) -> dict:
    pg = engine == "postgresql"
    quick = args.quick
    default = (20_000 if quick else 200_000) if pg else (5_000 if quick else 20_000)
    products = args.catalog_products or default
    return {
        "products": products,
        "requests": args.catalog_requests or (10 if quick else 40),
        "import_rows": args.catalog_import_rows or (2_000 if quick else 10_000),
        "labels": args.catalog_labels or (240 if quick else 1_000),
        "quick": quick,
    }


def run(args) -> dict:
    started = time.perf_counter()
    with support.workdir(args.keep) as wd:
        db = support.open_database(args.database_url, wd)
        log(f"database: {db.describe()}")
        env = support.kehu_env(db, wd)
        config = {
            **_settings(args, db.engine),
            "engine": db.engine,
            "fresh": db.fresh,
            "workdir": str(wd),
            "out": str(wd / "result.json"),
        }
        try:
            support.run_cmd([support.kehu_bin(), "migrate", "--noinput", "-v", "0"], env, timeout=600)
            (wd / "config.json").write_text(json.dumps(config))
            (wd / "static").mkdir(exist_ok=True)
            support.run_streaming(
                [support.python_bin(), str(Path(__file__).resolve()), "--worker", str(wd / "config.json")],
                env,
                timeout=3600,
            )
            result = json.loads((wd / "result.json").read_text())
        finally:
            if args.keep:
                log(f"kept the database: {db.label}")
            elif db.fresh:
                support.drop_database(db)
                log("dropped the scratch database")
            else:
                (wd / "config.json").write_text(json.dumps({**config, "cleanup": True}))
                support.run_streaming(
                    [
                        support.python_bin(),
                        str(Path(__file__).resolve()),
                        "--worker",
                        str(wd / "config.json"),
                    ],
                    env,
                    timeout=1800,
                )
    return _report(result, config, db, time.perf_counter() - started)


def _report(r: dict, config: dict, db, wall: float) -> dict:
    rows = r["rows"]
    tables = [
        {
            "title": f"{NAME}: {config['products']:,} products on {db.engine} (ms, one request at a time)",
            "columns": [
                {"key": "what", "title": "what"},
                {"key": "n", "title": "n", "format": "{:,}"},
                {"key": "p50_ms", "title": "p50 ms", "format": "{:.1f}"},
                {"key": "p95_ms", "title": "p95 ms", "format": "{:.1f}"},
                {"key": "queries", "title": "SQL / rate"},
                {"key": "baseline", "title": "baseline"},
                {"key": "base_p50_ms", "title": "base p50 ms", "format": "{:.2f}"},
                {"key": "ratio", "title": "× baseline", "format": "{:.1f}"},
            ],
        }
    ]
    return {
        "rows": rows,
        "tables": tables,
        "notes": [*r.get("notes", []), f"wall time {wall:.0f} s"],
        "config": config,
    }


# --- the worker (Django set up on the scratch database) -------------------------------------------

BRANDS = [
    "研华",
    "研祥",
    "联想",
    "惠普",
    "戴尔",
    "斑马",
    "霍尼韦尔",
    "新大陆",
    "爱普生",
    "兄弟",
    "佳博",
    "TSC",
    "优博讯",
    "得力",
    "绿联",
    "明纬",
    "西门子",
    "施耐德",
    "欧姆龙",
    "台达",
]
NOUNS = [
    "工控机",
    "台式机",
    "显示器",
    "标签打印机",
    "激光打印机",
    "针式打印机",
    "扫码枪",
    "数据采集器",
    "硒鼓",
    "墨粉盒",
    "色带",
    "标签纸",
    "碳带",
    "网线",
    "串口线",
    "电源适配器",
    "交换机",
    "路由器",
    "触摸屏",
    "键盘",
]
TOPS = [
    "电脑设备",
    "打印设备",
    "扫描设备",
    "耗材",
    "配件",
    "网络设备",
    "工控设备",
    "办公设备",
    "软件服务",
    "电气元件",
]


def _p(values: list[float]) -> tuple[float, float]:
    s = sorted(values)
    return support.percentile(s, 50) * 1000, support.percentile(s, 95) * 1000


class Worker:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.rows: list[dict] = []
        self.notes: list[str] = []

    def run(self) -> dict:
        from kehu.accounts.demo import load

        load()
        self.seed()
        self.measure_lists()
        self.measure_detail()
        self.measure_import()
        self.measure_labels()
        return {"rows": self.rows, "notes": self.notes}

    # --- seeding

    def seed(self) -> None:
        from django.db import connection

        from kehu.catalog.models import Category, Product
        from kehu.catalog.normalize import pinyin_initials, product_key
        from kehu.core.models import DictEntry

        t0 = time.perf_counter()
        n = self.cfg["products"]
        tops = [Category.objects.create(name=CATEGORY_PREFIX + t, order=i) for i, t in enumerate(TOPS)]
        leaves = []
        for t in tops:
            for j in range(5):
                mid = Category.objects.create(name=f"{t.name}-{j}", parent=t)
                for k in range(5):
                    leaves.append(Category.objects.create(name=f"{mid.name}-{k}", parent=mid).pk)
        units = list(DictEntry.objects.filter(type="unit").values_list("pk", flat=True))
        pinyin = {}
        table = Product._meta.db_table
        cols = [
            "code",
            "name",
            "spec",
            "name_key",
            "pinyin",
            "category_id",
            "brand",
            "unit_id",
            "quantity_decimals",
            "list_price",
            "standard_cost",
            "tax_rate",
            "barcode",
            "tracking",
            "serial_prefix",
            "warranty_months",
            "is_active",
            "avg_cost",
            "notes",
            "created_at",
            "updated_at",
        ]
        now = "2026-11-23 00:00:00+00"

        def row(i):
            brand = BRANDS[i % len(BRANDS)]
            noun = NOUNS[(i // len(BRANDS)) % len(NOUNS)]
            name = f"{brand}{noun}"
            if name not in pinyin:
                pinyin[name] = pinyin_initials(name)
            spec = f"M{i % 997}-{i}"
            tracking = ("serial", "batch", "none")[i % 3]
            return (
                f"{CODE_PREFIX}{i:07d}",
                name,
                spec,
                product_key(name, spec),
                pinyin[name],
                leaves[i % len(leaves)],
                brand,
                units[i % len(units)],
                0,
                f"{100 + i % 9000}.00",
                f"{60 + i % 5000}.00",
                "13.00",
                f"69{i:011d}",
                tracking,
                "SN" if tracking == "serial" else "",
                12,
                True,
                "0",
                "",
                now,
                now,
            )

        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for i in range(n):
                        copy.write_row(row(i))
                cur.execute(f"ANALYZE {table}")
        else:
            with connection.cursor() as cur:
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
                for start in range(0, n, 5000):
                    cur.executemany(sql, [row(i) for i in range(start, min(n, start + 5000))])
                cur.execute("ANALYZE")
        self.tops = tops
        self.notes.append(
            f"seeded {n:,} products and {Category.objects.count()} categories in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        log(self.notes[-1])

    # --- lists

    def _client(self, username="warehouse"):
        from django.test import Client

        from kehu.accounts.models import User

        c = Client()
        c.force_login(User.objects.get(username=username))
        return c

    def _raw(self, where: str, params: list) -> float:
        from django.db import connection

        from kehu.catalog.models import Product

        t = Product._meta.db_table
        sql = (
            f"SELECT p.*, c.name, u.label_zh FROM {t} p LEFT JOIN catalog_category c ON c.id = p.category_id "
            f"LEFT JOIN core_dictentry u ON u.id = p.unit_id WHERE p.archived_at IS NULL AND ({where}) "
            "ORDER BY p.code, p.id DESC LIMIT 25"
        )
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql, params)
            cur.fetchall()
            cur.execute(f"SELECT COUNT(*) FROM {t} p WHERE p.archived_at IS NULL AND ({where})", params)
            cur.fetchone()
        return time.perf_counter() - t0

    def measure_lists(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from kehu.catalog.selectors import descendant_ids

        like = "LIKE" if connection.vendor == "sqlite" else "LIKE"
        upper = "UPPER"
        n = self.cfg["requests"]
        kinds = [
            (
                "list ?q= name fragment",
                {"q": "标签打印"},
                f"{upper}(p.name) {like} {upper}(%s)",
                ["%标签打印%"],
            ),
            ("list ?q= pinyin initials", {"q": "bqdyj"}, "p.pinyin LIKE %s", ["%bqdyj%"]),
            (
                "list ?q= code",
                {"q": f"{CODE_PREFIX}00123"},
                f"{upper}(p.code) LIKE {upper}(%s)",
                [f"%{CODE_PREFIX}00123%"],
            ),
        ]
        top = self.tops[3]
        ids = descendant_ids(top.pk)
        kinds.append(
            (
                "list ?category= (subtree)",
                {"category": top.pk},
                f"p.category_id IN ({', '.join(['%s'] * len(ids))})",
                ids,
            )
        )
        c = self._client()
        for label, params, where, raw_params in kinds:
            c.get("/products/", params)  # warm
            times, base = [], []
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as q:
                c.get("/products/", params)
            for _ in range(n):
                t0 = time.perf_counter()
                r = c.get("/products/", params)
                times.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise BenchError(f"{label}: HTTP {r.status_code}")
                base.append(self._raw(where, raw_params))
            self._row(label, times, len(q.captured_queries), "raw SQL page + count", base)
        api = self._client()
        times, base = [], []
        where, raw_params = kinds[0][2], kinds[0][3]
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as q:
            api.get("/api/v1/products/", {"q": "标签打印"})
        for _ in range(n):
            t0 = time.perf_counter()
            api.get("/api/v1/products/", {"q": "标签打印"})
            times.append(time.perf_counter() - t0)
            base.append(self._raw(where, raw_params))
        self._row("API products/?q= name", times, len(q.captured_queries), "raw SQL page + count", base)

    def _row(self, what, times, queries, baseline, base):
        p50, p95 = _p(times)
        b50 = _p(base)[0] if base else None
        self.rows.append(
            {
                "what": what,
                "n": len(times),
                "p50_ms": p50,
                "p95_ms": p95,
                "queries": str(queries),
                "baseline": baseline,
                "base_p50_ms": b50,
                "ratio": (p50 / b50) if b50 else None,
            }
        )
        log(f"{what}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} SQL; baseline {b50 or 0:.2f} ms")

    # --- the product page

    def measure_detail(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from kehu.catalog.models import Product

        p = Product.objects.filter(code=f"{CODE_PREFIX}0000042").first()
        c = self._client()
        url = f"/products/{p.pk}/"
        c.get(url)
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as q:
            c.get(url)
        times, base = [], []
        for _ in range(self.cfg["requests"]):
            t0 = time.perf_counter()
            c.get(url)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with connection.cursor() as cur:
                cur.execute(f"SELECT * FROM {Product._meta.db_table} WHERE id = %s", [p.pk])
                cur.fetchone()
            base.append(time.perf_counter() - t0)
        self._row("product page", times, len(q.captured_queries), "SELECT by id", base)

    # --- import

    def measure_import(self) -> None:
        import io

        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.db import connection
        from openpyxl import Workbook

        from kehu.accounts.models import User
        from kehu.catalog import importing
        from kehu.catalog.models import Product

        n = self.cfg["import_rows"]
        user = User.objects.get(username="warehouse")
        head = ["商品编码", "商品名称", "规格型号", "分类", "品牌", "单位", "标准售价", "税率", "跟踪方式"]
        rows = []
        for i in range(n):
            rows.append(
                [
                    f"IMP-{i:07d}",
                    f"{BRANDS[i % 20]}{NOUNS[i % 20]}",
                    f"X{i}",
                    "电脑设备/工控机",
                    BRANDS[i % 20],
                    "台",
                    f"{100 + i % 900}.50",
                    "13",
                    ("序列号", "批次", "无")[i % 3],
                ]
            )
        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(head)
        for r in rows:
            ws.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        t0 = time.perf_counter()
        session = importing.ProductImport.start(
            user=user, upload=SimpleUploadedFile("p.xlsx", buf.getvalue())
        )
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = session.check(by=user)
        t_check = time.perf_counter() - t0
        if report["bad_rows"]:
            raise BenchError(f"the import file has {report['bad_rows']} bad rows")
        t0 = time.perf_counter()
        result = session.execute(by=user, mode=importing.ALL_OR_NOTHING)
        t_write = time.perf_counter() - t0
        total = t_read + t_check + t_write
        if result["created"] != n:
            raise BenchError(f"import created {result['created']} of {n}")
        Product.objects.filter(code__startswith="IMP-").delete()
        # baseline: the same rows with one raw bulk statement
        cols = [
            "code",
            "name",
            "spec",
            "name_key",
            "pinyin",
            "brand",
            "quantity_decimals",
            "list_price",
            "standard_cost",
            "tax_rate",
            "barcode",
            "tracking",
            "serial_prefix",
            "warranty_months",
            "is_active",
            "avg_cost",
            "notes",
            "created_at",
            "updated_at",
        ]
        data = [
            (
                r[0],
                r[1],
                r[2],
                "",
                "",
                r[4],
                0,
                r[6],
                "0",
                "13",
                "",
                "none",
                "",
                0,
                True,
                "0",
                "",
                "2026-11-23 00:00:00+00",
                "2026-11-23 00:00:00+00",
            )
            for r in rows
        ]
        t = Product._meta.db_table
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                with cur.copy(f"COPY {t} ({', '.join(cols)}) FROM STDIN") as copy:
                    for d in data:
                        copy.write_row(d)
            else:
                cur.executemany(
                    f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", data
                )
        t_raw = time.perf_counter() - t0
        Product.objects.filter(code__startswith="IMP-").delete()
        self.rows.append(
            {
                "what": f"import {n:,} rows (read {t_read:.1f}, check {t_check:.1f}, write {t_write:.1f} s)",
                "n": n,
                "p50_ms": total * 1000,
                "p95_ms": None,
                "queries": f"{n / total:,.0f} rows/s",
                "baseline": "raw COPY / executemany",
                "base_p50_ms": t_raw * 1000,
                "ratio": total / t_raw,
            }
        )
        log(f"import: {n / total:,.0f} rows/s (raw {n / t_raw:,.0f} rows/s)")

    # --- labels

    def measure_labels(self) -> None:
        import io

        from reportlab.lib.units import mm
        from reportlab.pdfgen import canvas

        from kehu.catalog import labels

        n = self.cfg["labels"]
        items = [(f"{BRANDS[i % 20]}{NOUNS[i % 20]}", f"X{i} 规格", f"SN2026{i:08d}") for i in range(n)]
        times, base = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            pdf = labels.labels_pdf(items, layout="a4_3x8", copies=1, symbology="both")
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            buf = io.BytesIO()
            c = canvas.Canvas(buf, pagesize=(210 * mm, 297 * mm))
            labels._register_fonts()
            for i, (title, sub, code) in enumerate(items):
                if i and i % 24 == 0:
                    c.showPage()
                row, col = divmod(i % 24, 3)
                c.setFont(labels.FONT, 9)
                c.drawString(col * 70 * mm + 5, 297 * mm - (row + 1) * 37 * mm + 60, title)
                c.drawString(col * 70 * mm + 5, 297 * mm - (row + 1) * 37 * mm + 40, sub)
                c.drawString(col * 70 * mm + 5, 297 * mm - (row + 1) * 37 * mm + 20, code)
            c.showPage()
            c.save()
            base.append(time.perf_counter() - t0)
        p50 = statistics.median(times)
        b50 = statistics.median(base)
        self.rows.append(
            {
                "what": f"labels PDF, {n:,} labels A4 3×8 ({len(pdf) // 1024} KB)",
                "n": 3,
                "p50_ms": p50 * 1000,
                "p95_ms": max(times) * 1000,
                "queries": f"{n / p50:,.0f} labels/s",
                "baseline": "text-only PDF",
                "base_p50_ms": b50 * 1000,
                "ratio": p50 / b50,
            }
        )
        log(f"labels: {n / p50:,.0f} labels/s (text only {n / b50:,.0f})")


def cleanup(cfg: dict) -> dict:
    from kehu.catalog.models import Category, Product

    n = Product.objects.filter(code__startswith=CODE_PREFIX).delete()[0]
    n += Product.objects.filter(code__startswith="IMP-").delete()[0]
    for _ in range(4):
        Category.objects.filter(name__startswith=CATEGORY_PREFIX.strip(), children__isnull=True).delete()
        Category.objects.filter(name__startswith=CATEGORY_PREFIX, children__isnull=True).delete()
    return {"deleted": n}


def worker_main(config_path: str) -> None:
    cfg = json.loads(Path(config_path).read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    if cfg.get("cleanup"):
        log(f"cleaned the existing database: {cleanup(cfg)}")
        return
    if not cfg.get("fresh"):
        log(f"removed what an earlier run left, if anything: {cleanup(cfg)}")
    result = Worker(cfg).run()
    Path(cfg["out"]).write_text(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2])
    else:
        sys.exit("usage: run it through bench/run.py catalog (this file runs itself with --worker)")
