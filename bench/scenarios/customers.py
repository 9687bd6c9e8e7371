"""The customer module at scale: list search, caller ID, import and the 360° page.

Set-up, in a scratch data folder and database: ``kehu migrate``, then a generator (not the demo)
seeds departments, about 200 users and N customers (default 1,000,000 on PostgreSQL, 20,000 on
SQLite; ``--quick`` on PostgreSQL: 50,000) with two contacts each on average and an activity for
every second customer, loaded with ``COPY`` (PostgreSQL) or ``executemany`` (SQLite), followed by
``VACUUM ANALYZE`` / ``ANALYZE``.

The measuring runs in a subprocess of its own (this file with ``--worker``), with Django set up on
the scratch database, calling the real views in-process through Django's test client (the whole
middleware stack, a logged-in session, no HTTP): one request at a time, timed with
``time.perf_counter``.  Every figure is printed beside a baseline measured in the same run:

* customer list, first page with ``?q=`` (name fragment, pinyin initials, phone): beside the same
  first page fetched with one hand-written SQL query (same WHERE, ORDER BY, LIMIT) through a cursor;
  ``EXPLAIN (ANALYZE)`` of the view's own queries once per filter kind and role;
* caller ID, ``GET /api/v1/caller-id/?number=``: beside a raw indexed SELECT on the phone keys;
* import of valid rows through ``kehu.customers.importing`` (upload, dry run, import, in-process and
  synchronous): beside a raw ``COPY`` of the same rows (then deleted);
* the 360° page ``customers:detail`` of customers with 1, 50 and 500 contacts and activities: its
  query count and time side by side.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # the measuring subprocess: bench/ on the path, as the runner has it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import support  # noqa: E402
from support import BenchError, log  # noqa: E402

NAME = "customers"
DESCRIPTION = (
    "customer list search, caller ID, import and 360° page on 1M customers / 2M contacts, vs raw SQL"
)

LIST_BUDGET_MS = 50.0
CALLER_BUDGET_MS = 10.0
IMPORT_BUDGET_ROWS_S = 20_000.0
USER_PREFIX = support.BENCH_USER_PREFIX + "cst-"
DEPT_PREFIX = "BENCH-CST-"
NUMBER_PREFIX = "BENCH-"
ROLES = ("account manager", "supervisor", "admin")
KINDS = ("name", "pinyin", "phone")


def add_arguments(parser) -> None:
    g = parser.add_argument_group("customers scenario")
    g.add_argument(
        "--customers",
        type=int,
        help="customers to seed (default 1,000,000 on PostgreSQL, 50,000 with --quick; 20,000 on SQLite)",
    )
    g.add_argument(
        "--list-requests", type=int, help="customer-list requests per role (default 210; quick 45)"
    )
    g.add_argument("--caller-requests", type=int, help="caller-ID requests per role (default 300; quick 60)")
    g.add_argument("--import-rows", type=int, help="rows of the import file (default 100,000; quick 10,000)")
    g.add_argument(
        "--detail-requests", type=int, help="requests per 360° page and role (default 30; quick 5)"
    )
    g.add_argument(
        "--list-seconds",
        type=float,
        default=200.0,
        help="stop a role's list measurement after this many seconds even below --list-requests "
        "(default 200; said in the output when it happens)",
    )
    g.add_argument(
        "--list-raw-every",
        type=int,
        help="run the raw-SQL baseline beside one list request in N (default 3; quick 1)",
    )
    g.add_argument(
        "--caller-seconds",
        type=float,
        default=75.0,
        help="stop a role's caller-ID measurement after this many seconds (default 75)",
    )


def _settings(args, engine: str) -> dict:
    pg = engine == "postgresql"
    quick = args.quick
    customers = args.customers or ((50_000 if quick else 1_000_000) if pg else 20_000)
    if customers < 1000:
        raise BenchError("--customers must be at least 1000")
    return {
        "customers": customers,
        "users": 200,
        "list_requests": args.list_requests or (45 if quick else 210),
        "list_seconds": args.list_seconds,
        "list_raw_every": args.list_raw_every or (1 if quick else 3),
        "caller_seconds": args.caller_seconds,
        "caller_requests": args.caller_requests or (60 if quick else 300),
        "import_rows": args.import_rows or (10_000 if quick else 100_000),
        "detail_requests": args.detail_requests or (5 if quick else 30),
        "detail_sizes": [1, 50, 500],
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
            "db_name": db.name,
            "fresh": db.fresh,
            "workdir": str(wd),
            "out": str(wd / "result.json"),
        }
        try:
            support.run_cmd([support.kehu_bin(), "migrate", "--noinput", "-v", "0"], env, timeout=600)
            (wd / "config.json").write_text(json.dumps(config))
            (wd / "static").mkdir(exist_ok=True)  # STATIC_ROOT: whitenoise warns when it is missing
            support.run_streaming(
                [support.python_bin(), str(Path(__file__).resolve()), "--worker", str(wd / "config.json")],
                env,
                timeout=3 * 3600,
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
                    timeout=3600,
                )
    return _report(result, config, db, time.perf_counter() - started)


# --- the report (runner side) -----------------------------------------------------------------


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("OK" if ok else "MISSES")


def _ratio(a, b):
    return a / b if a is not None and b and not math.isnan(a) and not math.isnan(b) else math.nan


def _report(r: dict, config: dict, db, wall: float) -> dict:
    tables, notes = [], []
    seed = r["seed"]
    tables.append(
        {
            "title": f"seeding ({seed['method']}) — {config['customers']:,} customers, {seed['users']} users",
            "columns": [
                {"key": "step", "title": "step"},
                {"key": "rows", "title": "rows", "format": "{:,}"},
                {"key": "seconds", "title": "seconds", "format": "{:.1f}"},
                {"key": "rows_per_s", "title": "rows/s", "format": "{:,.0f}"},
            ],
            "rows": seed["steps"],
        }
    )
    notes.extend(seed.get("notes", []))

    # the list
    list_rows = []
    for row in r["list"]:
        row = dict(row)
        row["ratio_p50"] = _ratio(row["p50_ms"], row["raw_p50_ms"])
        row["ratio_p95"] = _ratio(row["p95_ms"], row["raw_p95_ms"])
        row["verdict"] = _verdict(row["p95_ms"] <= LIST_BUDGET_MS) if row["kind"] == "all" else ""
        list_rows.append(row)
    tables.append(
        {
            "title": f"customer list, first page with ?q= (in-process, one request at a time); "
            f"budget p95 ≤ {LIST_BUDGET_MS:.0f} ms; baseline: the same page as one raw SQL query",
            "columns": [
                {"key": "role", "title": "role"},
                {"key": "kind", "title": "q"},
                {"key": "n", "title": "requests"},
                {"key": "queries", "title": "SQL/page"},
                {"key": "p50_ms", "title": "p50 ms", "format": "{:.1f}"},
                {"key": "p95_ms", "title": "p95 ms", "format": "{:.1f}"},
                {"key": "p99_ms", "title": "p99 ms", "format": "{:.1f}"},
                {"key": "raw_n", "title": "raw n"},
                {"key": "raw_p50_ms", "title": "raw p50", "format": "{:.2f}"},
                {"key": "raw_p95_ms", "title": "raw p95", "format": "{:.2f}"},
                {"key": "ratio_p95", "title": "p95 ÷ raw", "format": "{:.1f}"},
                {"key": "rewrite_p50_ms", "title": "rewrite p50", "format": "{:.2f}"},
                {"key": "rewrite_p95_ms", "title": "rewrite p95", "format": "{:.2f}"},
                {"key": "rows", "title": "rows/page", "format": "{:.1f}"},
                {"key": "other_cpu_cores", "title": "other cores", "format": "{:.2f}"},
                {"key": "verdict", "title": "budget"},
            ],
            "rows": list_rows,
        }
    )
    if r.get("explain"):
        tables.append(
            {
                "title": "EXPLAIN ANALYZE of the list view's own queries (first page; the paginator's COUNT)",
                "columns": [
                    {"key": "role", "title": "role"},
                    {"key": "kind", "title": "q"},
                    {"key": "term", "title": "term"},
                    {"key": "query", "title": "query"},
                    {"key": "ms", "title": "ms", "format": "{:.1f}"},
                    {"key": "trigram", "title": "trigram idx"},
                    {"key": "pattern", "title": "pinyin idx"},
                    {"key": "seq_scan", "title": "full scan cst_customer"},
                    {"key": "summary", "title": "plan (scans)"},
                ],
                "rows": r["explain"],
            }
        )
    notes.extend(r.get("list_notes", []))

    if r.get("broad"):
        tables.append(
            {
                "title": "broad terms (公司 is in nearly every name, 科技 in one in eight, 华 and b in one "
                "in twenty): the list's first page and the top bar's search, 3 requests each after a "
                "warm-up; not budgeted; 'SQL ms' is the page's own statements",
                "columns": [
                    {"key": "role", "title": "role"},
                    {"key": "page", "title": "page"},
                    {"key": "term", "title": "q"},
                    {"key": "queries", "title": "SQL/page"},
                    {"key": "p50_ms", "title": "p50 ms", "format": "{:.1f}"},
                    {"key": "max_ms", "title": "max ms", "format": "{:.1f}"},
                    {"key": "sql_ms", "title": "SQL ms", "format": "{:.1f}"},
                ],
                "rows": r["broad"],
            }
        )

    caller_rows = []
    for row in r["caller"]:
        row = dict(row)
        row["ratio_p50"] = _ratio(row["p50_ms"], row["raw_p50_ms"])
        row["ratio_p95"] = _ratio(row["p95_ms"], row["raw_p95_ms"])
        row["verdict"] = _verdict(row["p95_ms"] <= CALLER_BUDGET_MS)
        caller_rows.append(row)
    tables.append(
        {
            "title": f"caller ID, GET /api/v1/caller-id/?number= (mixed formats); budget p95 ≤ "
            f"{CALLER_BUDGET_MS:.0f} ms; baseline: one raw indexed SELECT on the phone keys",
            "columns": [
                {"key": "role", "title": "role"},
                {"key": "n", "title": "requests"},
                {"key": "hits", "title": "found"},
                {"key": "queries_hit", "title": "SQL (1 match)"},
                {"key": "queries_miss", "title": "SQL (none)"},
                {"key": "p50_ms", "title": "p50 ms", "format": "{:.2f}"},
                {"key": "p95_ms", "title": "p95 ms", "format": "{:.2f}"},
                {"key": "p99_ms", "title": "p99 ms", "format": "{:.2f}"},
                {"key": "raw_p50_ms", "title": "raw p50", "format": "{:.3f}"},
                {"key": "raw_p95_ms", "title": "raw p95", "format": "{:.3f}"},
                {"key": "ratio_p95", "title": "p95 ÷ raw", "format": "{:.0f}"},
                {"key": "other_cpu_cores", "title": "other cores", "format": "{:.2f}"},
                {"key": "verdict", "title": "budget"},
            ],
            "rows": caller_rows,
        }
    )
    notes.extend(r.get("caller_notes", []))

    imp = r.get("import") or {}
    if imp.get("steps"):
        raw_rate = imp.get("raw_rows_per_s")
        steps = []
        for s in imp["steps"]:
            s = dict(s)
            s["vs_raw"] = _ratio(s.get("rows_per_s"), raw_rate)
            if s.get("budget"):
                s["verdict"] = _verdict(s["rows_per_s"] >= IMPORT_BUDGET_ROWS_S)
            steps.append(s)
        tables.append(
            {
                "title": f"import of {imp['rows']:,} valid rows (customer + contact each; in-process, "
                f"synchronous); budget ≥ {IMPORT_BUDGET_ROWS_S:,.0f} rows/s; baseline: raw "
                f"{'COPY' if config['engine'] == 'postgresql' else 'executemany INSERT'} of the same rows",
                "columns": [
                    {"key": "step", "title": "step"},
                    {"key": "seconds", "title": "seconds", "format": "{:.2f}"},
                    {"key": "rows_per_s", "title": "rows/s", "format": "{:,.0f}"},
                    {"key": "vs_raw", "title": "÷ raw", "format": "{:.3f}"},
                    {"key": "verdict", "title": "budget"},
                ],
                "rows": steps,
            }
        )
    notes.extend(imp.get("notes", []))

    detail_rows = r.get("detail", [])
    tables.append(
        {
            "title": "customer 360° page (customers:detail) by number of contacts and activities",
            "columns": [
                {"key": "role", "title": "role"},
                {"key": "size", "title": "contacts = activities"},
                {"key": "queries", "title": "SQL queries"},
                {"key": "p50_ms", "title": "p50 ms", "format": "{:.1f}"},
                {"key": "p95_ms", "title": "p95 ms", "format": "{:.1f}"},
                {"key": "kib", "title": "KiB", "format": "{:.0f}"},
                {"key": "vs_smallest", "title": "p50 ÷ size 1", "format": "{:.1f}"},
            ],
            "rows": detail_rows,
        }
    )
    notes.extend(r.get("detail_notes", []))

    summary = r.get("summary", {})
    notes.append("budgets: " + "; ".join(f"{k}: {v}" for k, v in summary.items()))
    notes.append(
        f"the scenario took {wall:.0f} s in all (seeding {seed['total_seconds']:.0f} s); machine: "
        f"{os.cpu_count()} cores, other load before the measurements {r.get('background_cores', 0) or 0:.2f} "
        "cores; 'other cores': what processes other than this one and the database's backends took "
        "during the phase — PostgreSQL's parallel workers (Parallel Seq Scan) count there too, as they "
        "are short-lived processes that cannot be told apart, so phases with parallel scans show "
        "0.4–1 core on a quiet machine; compare with the load before the measurements"
    )
    return {
        "tables": tables,
        "notes": notes,
        "rows": list_rows,
        "summary": summary,
        "config": {k: v for k, v in config.items() if k not in ("out", "workdir")},
        "database": db.engine,
        "worker": r,
        "wall_seconds": wall,
    }


# =====================================================================================================
# The measuring subprocess (Django set up on the scratch database).
# =====================================================================================================


def _words(text: str) -> list[str]:
    return text.split()


CITIES = [
    ("北京", "010"), ("上海", "021"), ("天津", "022"), ("重庆", "023"), ("广州", "020"), ("深圳", "0755"),
    ("杭州", "0571"), ("南京", "025"), ("武汉", "027"), ("成都", "028"), ("西安", "029"), ("沈阳", "024"),
    ("苏州", "0512"), ("无锡", "0510"), ("宁波", "0574"), ("青岛", "0532"), ("济南", "0531"),
    ("郑州", "0371"), ("长沙", "0731"), ("合肥", "0551"), ("福州", "0591"), ("厦门", "0592"),
    ("南昌", "0791"), ("昆明", "0871"), ("贵阳", "0851"), ("南宁", "0771"), ("海口", "0898"),
    ("太原", "0351"), ("石家庄", "0311"), ("哈尔滨", "0451"), ("长春", "0431"), ("大连", "0411"),
    ("呼和浩特", "0471"), ("兰州", "0931"), ("银川", "0951"), ("西宁", "0971"), ("乌鲁木齐", "0991"),
    ("拉萨", "0891"), ("东莞", "0769"), ("佛山", "0757"), ("珠海", "0756"), ("中山", "0760"),
    ("惠州", "0752"), ("汕头", "0754"), ("温州", "0577"), ("绍兴", "0575"), ("嘉兴", "0573"),
    ("金华", "0579"), ("台州", "0576"), ("常州", "0519"), ("徐州", "0516"), ("南通", "0513"),
    ("扬州", "0514"), ("烟台", "0535"), ("潍坊", "0536"), ("临沂", "0539"), ("淄博", "0533"),
    ("洛阳", "0379"), ("宜昌", "0717"), ("襄阳", "0710"), ("株洲", "0733"), ("岳阳", "0730"),
    ("芜湖", "0553"), ("泉州", "0595"), ("漳州", "0596"), ("赣州", "0797"), ("柳州", "0772"),
    ("桂林", "0773"), ("绵阳", "0816"), ("宝鸡", "0917"), ("保定", "0312"), ("唐山", "0315"),
    ("廊坊", "0316"), ("邯郸", "0310"), ("大同", "0352"), ("包头", "0472"), ("鞍山", "0412"),
    ("吉林", "0432"), ("大庆", "0459"), ("镇江", "0511"), ("盐城", "0515"), ("湖州", "0572"),
    ("蚌埠", "0552"), ("九江", "0792"), ("济宁", "0537"), ("威海", "0631"), ("南阳", "0377"),
    ("新乡", "0373"), ("衡阳", "0734"), ("江门", "0750"), ("湛江", "0759"), ("遵义", "0852"),
    ("曲靖", "0874"), ("天水", "0938"),
]  # fmt: skip
# 字号: brand words.  Seeded customers use these; the import file uses IMPORT_* (other first
# characters), so its names never meet a seeded one.
EXTRA_WORDS = _words(
    "华夏 中科 东方 九州 神州 长城 大地 蓝天 银河 星光 天成 金桥 博远 鼎盛 新锐 永和 嘉禾 海纳 万通 远航 "
    "合众 晨光 同创 志诚 卓越 中天 国泰 安信 世纪 华润"
)
WORD_FIRST = "华恒宏鼎金瑞盛嘉天永新正德博海汇聚长佳远"
WORD_SECOND = "信达泰丰源昌兴和通业星润安诚元科"
WORDS = list(dict.fromkeys(EXTRA_WORDS + [a + b for a in WORD_FIRST for b in WORD_SECOND]))
IMPORT_WORDS = [a + b for a in "锦翔骏朗霖泓屹晟昊琪" for b in "辉越航域拓途驰腾锐能"]
TRADES = _words(
    "科技 电子 信息技术 软件 网络科技 机械 机电设备 自动化 电气 化工 新材料 生物科技 医药 医疗器械 建材 "
    "建筑工程 装饰工程 环保科技 能源 新能源 光电 通信 物流 供应链管理 贸易 进出口 商贸 食品 农业科技 纺织 "
    "服饰 家具 印刷 包装材料 汽车零部件 精密制造 模具 五金 塑胶 仪器仪表 检测技术 教育科技 文化传媒 广告 "
    "咨询 人力资源 酒店管理 餐饮管理 房地产开发 物业管理 投资 实业 工贸 钢铁 有色金属 石油化工 水务 "
    "电力工程 智能科技 数据科技"
)
SUFFIXES = ["有限公司"] * 12 + ["股份有限公司"] * 3 + ["有限责任公司"] * 3 + ["集团有限公司", "公司"]
DISTRICTS = _words("高新区 经开区 中心区 新城区 滨海新区 工业园区 开发区 城东区 城西区 科技园")
ROADS = _words("人民路 建设路 解放路 中山路 和平路 长江路 黄河路 科技路 创业大道 工业大道")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = _words(
    "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 "
    "秀兰 霞 平 刚 桂英 建华 志强 海燕 晓东 文博 子涵 浩然"
)
TITLES = _words("总经理 采购经理 财务主管 技术总监 销售经理 行政主管 工程师 董事长 项目经理 采购员")
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 153 155 156 158 159 180 185 186 187 188 189 177 199"
)
IMPORT_MOBILE_PREFIXES = _words("166 173 176 178 181 182 183 184 191 195 197 198")
UNKNOWN_MOBILE_PREFIX = "170"  # never seeded: a caller nobody knows
DEPARTMENTS = [
    ("N", "华北大区"),
    ("E", "华东大区"),
    ("S", "华南大区"),
    ("W", "西部大区"),
    ("C", "渠道销售部"),
    ("K", "大客户部"),
]
STATUSES = ["prospect"] * 10 + ["signed"] * 7 + ["dormant"] * 2 + ["lost"]
CONTACTS_PER_CUSTOMER = (1, 3, 2, 2, 1, 2, 3, 2)  # 2 on average
NULL = "\\N"  # COPY's NULL; turned into None for SQLite


def _hash(i: int, salt: int = 0) -> int:
    """A cheap, deterministic pseudo-random 32-bit number for row ``i``."""
    return ((i + salt * 0x9E3779B1) * 2654435761) & 0xFFFFFFFF


def _coprime_step(m: int, start: int = 1_000_003) -> int:
    p = start
    while math.gcd(p, m) != 1:
        p += 2
    return p


class Names:
    """Company names composed of city + brand word + trade + legal suffix; their normalised key and
    pinyin initials are composed from the parts' (computed once with the application's functions)."""

    def __init__(self, words: list[str]):
        from kehu.customers.normalize import pinyin_initials

        self.words = words
        self.ini_city = [pinyin_initials(c) for c, _a in CITIES]
        self.ini_word = [pinyin_initials(w) for w in words]
        self.ini_trade = [pinyin_initials(t) for t in TRADES]
        self.ini_suffix = {s: pinyin_initials(s) for s in set(SUFFIXES)}
        self.m = len(CITIES) * len(words) * len(TRADES)
        self.step = _coprime_step(self.m)

    def parts(self, i: int) -> tuple[int, int, int, str]:
        c = (i * self.step + 7) % self.m  # distinct for i < m: names unique up to m customers
        nc = len(CITIES)
        nw = len(self.words)
        return c % nc, (c // nc) % nw, c // (nc * nw), SUFFIXES[_hash(i, 1) % len(SUFFIXES)]

    def company(self, i: int, with_short: bool) -> tuple[str, str, str, str, str, int]:
        """(name, short name, name key, initials of the name, initials of the short name, city index)."""
        ci, wi, ti, suffix = self.parts(i)
        city, word, trade = CITIES[ci][0], self.words[wi], TRADES[ti]
        name = city + word + trade + suffix
        full = (self.ini_city[ci] + self.ini_word[wi] + self.ini_trade[ti] + self.ini_suffix[suffix])[:60]
        if with_short:
            return name, word + trade, city + word + trade, full, self.ini_word[wi] + self.ini_trade[ti], ci
        return name, "", city + word + trade, full, "", ci


def landline(area: str, local: int, style: int) -> tuple[str, str]:
    """(as typed, normalised key) of a landline."""
    s = str(local)
    key = area + s
    if style == 0:
        return f"{area}-{s}", key
    if style == 1:
        return f"({area}){s[:4]}-{s[4:]}", key
    return f"{area} {s[:4]} {s[4:]}", key


def mobile(prefix: str, rest: int, style: int) -> tuple[str, str]:
    s = f"{rest:08d}"
    key = prefix + s
    if style == 0:
        return key, key
    if style == 1:
        return f"{prefix}-{s[:4]}-{s[4:]}", key
    if style == 2:
        return f"{prefix} {s[:4]} {s[4:]}", key
    return f"+86 {key}", key


def caller_format(key: str, style: int) -> str:
    """A normalised number as a phone system or a person might send it."""
    if key.startswith("1"):  # mobile
        forms = (
            f"+86 {key[:3]}-{key[3:7]}-{key[7:]}",
            f"{key[:3]} {key[3:7]} {key[7:]}",
            f"0086{key}",
            key,
        )
    else:
        area_len = 3 if key[:2] in ("01", "02") else 4
        area, local = key[:area_len], key[area_len:]
        forms = (
            f"({area}) {local[:4]} {local[4:]} 转 {800 + style % 100}",
            f"{area}-{local}",
            f"+86 {area[1:]} {local[:4]} {local[4:]}",
            f"{area} {local} ext 12",
        )
    return forms[style % len(forms)]


class Worker:
    def __init__(self, cfg: dict):
        from django.db import connection

        self.cfg = cfg
        self.connection = connection
        self.pg = connection.vendor == "postgresql"
        self.n = cfg["customers"]
        self.db_name = cfg["db_name"]
        self.result: dict = {}

    # --- helpers ------------------------------------------------------------------------------

    def cursor(self):
        return self.connection.cursor()

    def meter(self):
        return support.CpuMeter(self.db_name if self.pg else "")

    def dt(self, epoch: float) -> str:
        t = time.gmtime(epoch)
        s = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        return s + "+00" if self.pg else s

    # --- users --------------------------------------------------------------------------------

    def make_users(self) -> None:
        from auditlog.context import disable_auditlog
        from django.contrib.auth.hashers import make_password
        from django.db import transaction

        from kehu.accounts.models import Department, Role, User

        roles = {r.code: r for r in Role.objects.all()}
        n_users = self.cfg["users"]
        unusable = make_password(None)
        with disable_auditlog(), transaction.atomic():
            root = Department.objects.create(code=DEPT_PREFIX + "HQ", name="销售中心（基准）")
            depts = [
                Department.objects.create(code=DEPT_PREFIX + code, name=name, parent=root)
                for code, name in DEPARTMENTS
            ]
            east = depts[1]
            specs = [  # username, full name, department, role
                (USER_PREFIX + "admin", "管理员（基准）", root, "administrator"),
                (USER_PREFIX + "supervisor", "主管（基准）", east, "supervisor"),
                (USER_PREFIX + "manager", "客户经理（基准）", east, "account_manager"),
            ]
            for k in range(n_users - len(specs)):
                dept = depts[k % len(depts)]
                # the first user of each department (but 华东, whose head is the measuring supervisor)
                # supervises it
                role = "supervisor" if k < len(depts) and dept is not east else "account_manager"
                name = SURNAMES[k % len(SURNAMES)] + GIVEN[(k * 7) % len(GIVEN)]
                specs.append((f"{USER_PREFIX}{k + 1:03d}", name, dept, role))
            User.objects.bulk_create(
                [
                    User(
                        username=u,
                        full_name=full,
                        email=f"{u}@kehu-bench.invalid",
                        department=dept,
                        password=unusable,
                    )
                    for u, full, dept, _role in specs
                ]
            )
            by_name = {u.username: u for u in User.objects.filter(username__startswith=USER_PREFIX)}
            through = User.roles.through
            through.objects.bulk_create(
                [through(user_id=by_name[u].pk, role_id=roles[role].pk) for u, _f, _d, role in specs]
            )
            for u, _f, dept, role in specs:
                if role == "supervisor" and dept.head_id is None:
                    dept.head = by_name[u]
                    dept.save(update_fields=["head"])
            sup = by_name[USER_PREFIX + "supervisor"]
            User.objects.filter(department=east, pk__in=[u.pk for u in by_name.values()]).exclude(
                pk=sup.pk
            ).update(manager=sup)
        self.admin = by_name[USER_PREFIX + "admin"]
        self.supervisor = by_name[USER_PREFIX + "supervisor"]
        self.manager = by_name[USER_PREFIX + "manager"]
        # every bench user but the administrator owns customers (the measuring manager among them)
        self.owners = [by_name[u].pk for u, _f, _d, _r in specs if u != self.admin.username]
        self.owners.sort()
        self.user_dept = {by_name[u].pk: dept.pk for u, _f, dept, _r in specs}
        self.role_users = {
            "account manager": self.manager,
            "supervisor": self.supervisor,
            "admin": self.admin,
        }
        self.usernames = [u for u, _f, _d, r in specs if r != "administrator"]
        log(
            f"{len(specs)} users in {len(depts) + 1} departments; measuring as {self.manager.username} "
            f"(account manager), {self.supervisor.username} (supervisor of 华东), {self.admin.username}"
        )

    # --- seeding ------------------------------------------------------------------------------

    CUSTOMER_COLUMNS = [
        "id", "number", "kind", "name", "short_name", "name_key", "pinyin", "level_id", "region_id",
        "industry_id", "source_id", "status", "stage", "credit_rating", "owner_id", "address", "phone",
        "phone_key", "fax", "website", "postcode", "legal_representative", "bank", "bank_account",
        "tax_number", "opening_receivable", "notes", "last_activity_at", "assigned_at", "created_by_id",
        "created_at", "updated_at",
    ]  # fmt: skip
    CONTACT_COLUMNS = [
        "id", "customer_id", "name", "gender", "title", "mobile", "mobile_key", "phone", "phone_key",
        "email", "wechat", "birthday", "birthday_md", "is_primary", "notes", "created_at",
    ]  # fmt: skip
    ACTIVITY_COLUMNS = [
        "id", "customer_id", "contact_id", "kind_id", "happened_at", "place", "subject", "summary",
        "next_follow_up", "author_id", "comment", "created_at",
    ]  # fmt: skip

    def check_columns(self) -> None:
        """The columns each table is loaded with: the generator's, then (the models change while the
        module is being written) any other NOT NULL column with a constant — its default, or "" for
        a text column; nullable ones stay NULL.  ``pinyin_short`` (the initials of the short name,
        beside those of the whole name in ``pinyin``) is filled when the model has it."""
        from kehu.customers.models import Activity, Contact, Customer

        self.split_pinyin = any(f.column == "pinyin_short" for f in Customer._meta.concrete_fields)
        self.layout = {}
        self.added_columns = []
        for model, cols in (
            (Customer, self.CUSTOMER_COLUMNS + (["pinyin_short"] if self.split_pinyin else [])),
            (Contact, self.CONTACT_COLUMNS),
            (Activity, self.ACTIVITY_COLUMNS),
        ):
            table = model._meta.db_table
            names = {f.column for f in model._meta.concrete_fields}
            unknown = set(cols) - names
            if unknown:
                raise BenchError(
                    f"{table}: no columns {sorted(unknown)}; update bench/scenarios/customers.py"
                )
            extra_cols, extra_vals = [], []
            for f in model._meta.concrete_fields:
                if f.column in cols or f.null or f.primary_key:
                    continue
                if f.has_default():
                    value = f.get_default()
                elif f.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
                    value = ""
                else:
                    raise BenchError(
                        f"{table}.{f.column} is NOT NULL without a default and the generator does not "
                        "fill it; update bench/scenarios/customers.py"
                    )
                extra_cols.append(f.column)
                extra_vals.append(("1" if value else "0") if isinstance(value, bool) else str(value))
                self.added_columns.append(f"{table}.{f.column}={value!r}")
            self.layout[table] = (list(cols) + extra_cols, tuple(extra_vals))

    def seed_plan(self) -> None:
        from kehu.core.models import DictEntry

        def ids(t):
            found = list(DictEntry.objects.filter(type=t, enabled=True).order_by("order", "pk"))
            if not found:
                raise BenchError(f"the dictionary has no {t} entries (data migrations not run?)")
            return [e.pk for e in found]

        self.levels, self.regions = ids("customer_level"), ids("region")
        self.industries, self.sources = ids("industry"), ids("customer_source")
        self.activity_kinds = ids("activity_type")
        with self.cursor() as cur:
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM cst_customer")
            self.cid0 = cur.fetchone()[0] + 1
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM cst_linkman")
            self.kid0 = cur.fetchone()[0] + 1
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM cst_activity")
            self.aid0 = cur.fetchone()[0] + 1
        self.names = Names(WORDS)
        self.now = time.time()
        self.t_first = self.now - 3 * 365 * 86400  # customers created over three years
        self.t_step = (self.now - 3600 - self.t_first) / self.n
        # contact ids: customer i's first contact is kid0 + first_contact[i]
        per = CONTACTS_PER_CUSTOMER
        self.per_cycle = sum(per)
        self.prefix_in_cycle = [sum(per[:k]) for k in range(len(per))]

    def owner_of(self, i: int) -> int | None:
        if i % 33 == 5:
            return None  # the public pool: 3 %
        return self.owners[i % len(self.owners)]

    def first_contact(self, i: int) -> int:
        q, r = divmod(i, len(CONTACTS_PER_CUSTOMER))
        return q * self.per_cycle + self.prefix_in_cycle[r]

    def activity_time(self, i: int) -> float:
        created = self.t_first + i * self.t_step
        return created + (self.now - created) * ((_hash(i, 5) % 1000) / 1000)

    def customer_rows(self, lo: int, hi: int):
        names, dt, n_ = self.names, self.dt, NULL
        admin = str(self.admin.pk)
        split = self.split_pinyin
        tail = self.layout["cst_customer"][1]
        levels, regions, inds, srcs = self.levels, self.regions, self.industries, self.sources
        for i in range(lo, hi):
            h = _hash(i)
            name, short, key, pinyin, pinyin_short, ci = names.company(i, with_short=h & 1 == 0)
            if not split:  # before pinyin_short: the initials of the short name, else of the name
                pinyin = pinyin_short or pinyin
            city, area = CITIES[ci]
            owner = self.owner_of(i)
            created = self.t_first + i * self.t_step
            if h % 100 < 85:
                phone, phone_key = landline(area, (i * 7919) % 40_000_000 + 60_000_000, (h >> 8) % 3)
            else:
                phone = phone_key = ""
            status = STATUSES[(h >> 4) % len(STATUSES)]
            created_s = dt(created)
            yield (
                str(self.cid0 + i),
                f"{NUMBER_PREFIX}{i:07d}",
                "company",
                name,
                short,
                key,
                pinyin,
                str(levels[(h >> 3) % len(levels)]),
                str(regions[ci % len(regions)]),
                str(inds[(h >> 6) % len(inds)]),
                str(srcs[(h >> 9) % len(srcs)]),
                status,
                str(1 + (h >> 12) % 5) if status == "prospect" else n_,
                str(1 + (h >> 15) % 5) if h % 3 else n_,
                str(owner) if owner else n_,
                f"{city}市{DISTRICTS[(h >> 18) % 10]}{ROADS[(h >> 21) % 10]}{1 + (h >> 24) % 300}号",
                phone,
                phone_key,
                "",
                "",
                "",
                SURNAMES[(h >> 10) % len(SURNAMES)] + GIVEN[(h >> 16) % len(GIVEN)],
                "",
                "",
                f"91{110000 + ci * 100:06d}MA{i:08X}" if h % 10 < 7 else "",
                "0",
                "",
                dt(self.activity_time(i)) if i % 2 == 0 else n_,
                created_s if owner else n_,
                str(owner) if owner else admin,
                created_s,
                created_s,
                *((pinyin_short,) if split else ()),
                *tail,
            )

    def contact_rows(self, lo: int, hi: int):
        dt, n_ = self.dt, NULL
        names = self.names
        tail = self.layout["cst_linkman"][1]
        for i in range(lo, hi):
            count = CONTACTS_PER_CUSTOMER[i % len(CONTACTS_PER_CUSTOMER)]
            first = self.first_contact(i)
            created_s = dt(self.t_first + i * self.t_step)
            area = CITIES[names.parts(i)[0]][1]
            for k in range(count):
                j = first + k
                h = _hash(j, 3)
                mob, mob_key = mobile(
                    MOBILE_PREFIXES[j % len(MOBILE_PREFIXES)], (j * 104729 + 12_345_678) % 100_000_000, h % 4
                )
                if h % 10 < 3:
                    ph, ph_key = landline(area, (j * 7907) % 40_000_000 + 20_000_000, (h >> 4) % 3)
                else:
                    ph = ph_key = ""
                bday = h % 5 == 0
                month, day = 1 + (h >> 8) % 12, 1 + (h >> 12) % 28
                yield (
                    str(self.kid0 + j),
                    str(self.cid0 + i),
                    SURNAMES[(h >> 16) % len(SURNAMES)] + GIVEN[(h >> 20) % len(GIVEN)],
                    "m" if h & 2 else "f",
                    TITLES[(h >> 24) % len(TITLES)],
                    mob,
                    mob_key,
                    ph,
                    ph_key,
                    f"c{j}@example.cn" if h % 4 == 0 else "",
                    "",
                    f"{1960 + (h >> 5) % 40}-{month:02d}-{day:02d}" if bday else n_,
                    str(month * 100 + day) if bday else n_,
                    "1" if k == 0 else "0",
                    "",
                    created_s,
                    *tail,
                )

    def activity_rows(self, lo: int, hi: int):
        dt = self.dt
        kinds = self.activity_kinds
        admin = self.admin.pk
        tail = self.layout["cst_activity"][1]
        for i in range(lo, hi):
            if i % 2:
                continue
            h = _hash(i, 7)
            at = dt(self.activity_time(i))
            yield (
                str(self.aid0 + i // 2),
                str(self.cid0 + i),
                str(self.kid0 + self.first_contact(i)),
                str(kinds[h % len(kinds)]),
                at,
                "",
                ("电话回访", "上门拜访", "产品演示", "报价跟进", "合同洽谈")[(h >> 4) % 5],
                "客户对新产品感兴趣，约定下周再联系。",
                NULL,
                str(self.owner_of(i) or admin),
                "",
                at,
                *tail,
            )

    def _copy(self, table: str, columns: list[str], rows_of, total: int, chunk: int = 20_000) -> int:
        """Stream the rows into ``table``: COPY on PostgreSQL, executemany on SQLite."""
        from django.db import transaction

        written = 0
        cols = ", ".join(columns)
        with self.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for lo in range(0, total, chunk):
                        lines = ["\t".join(r) + "\n" for r in rows_of(lo, min(total, lo + chunk))]
                        copy.write("".join(lines))
                        written += len(lines)
            else:
                sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
                with transaction.atomic():
                    for lo in range(0, total, chunk):
                        rows = [
                            tuple(None if v == NULL else v for v in r)
                            for r in rows_of(lo, min(total, lo + chunk))
                        ]
                        cur.executemany(sql, rows)
                        written += len(rows)
        return written

    def _pg_params(self) -> dict:
        s = self.connection.settings_dict
        params = {"dbname": s["NAME"], "user": s["USER"], "host": s["HOST"], "port": s["PORT"]}
        if s.get("PASSWORD"):
            params["password"] = s["PASSWORD"]
        return {k: v for k, v in params.items() if v not in (None, "")}

    def _pg_parallel(self, statements: list[str], workers: int = 2) -> None:
        """Run independent statements (index builds, VACUUM) on ``workers`` connections at once."""
        import queue
        import threading

        import psycopg

        todo: queue.Queue = queue.Queue()
        for s in statements:
            todo.put(s)
        errors: list[BaseException] = []

        def work():
            try:
                with psycopg.connect(**self._pg_params(), autocommit=True) as conn:
                    conn.execute("SET maintenance_work_mem = '256MB'")
                    while True:
                        try:
                            stmt = todo.get_nowait()
                        except queue.Empty:
                            return
                        conn.execute(stmt)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def seed(self) -> None:
        self.check_columns()
        self.seed_plan()
        n = self.n
        contacts_total = sum(CONTACTS_PER_CUSTOMER[i % len(CONTACTS_PER_CUSTOMER)] for i in range(n))
        activities_total = (n + 1) // 2
        steps, notes = [], []
        tables = ("cst_customer", "cst_linkman", "cst_activity")
        t_all = time.perf_counter()
        dropped: list[tuple[str, str]] = []
        replica = False
        if self.pg:
            with self.cursor() as cur:
                cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                superuser = bool(cur.fetchone()[0])
                # Bulk load as one would: secondary indexes dropped and built afterwards, foreign-key
                # triggers off for the load (the generator's references are right by construction).
                cur.execute(
                    "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
                    "JOIN pg_class c ON c.oid = x.indexrelid "
                    "WHERE x.indrelid = ANY(%s::regclass[]) AND NOT x.indisprimary "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
                    [list(tables)],
                )
                dropped = cur.fetchall()
                for name, _sql in dropped:
                    cur.execute(f'DROP INDEX "{name}"')
                if superuser:
                    cur.execute("SET session_replication_role = replica")
                    replica = True
                else:
                    notes.append("seeding: not a superuser, so the foreign-key checks ran during COPY")
        try:
            for table, gen in (
                ("cst_customer", self.customer_rows),
                ("cst_linkman", self.contact_rows),
                ("cst_activity", self.activity_rows),
            ):
                cols, total = self.layout[table][0], n
                t0 = time.perf_counter()
                rows = self._copy(table, cols, gen, total)
                secs = time.perf_counter() - t0
                expected = {
                    "cst_customer": n,
                    "cst_linkman": contacts_total,
                    "cst_activity": activities_total,
                }
                if rows != expected[table]:
                    raise BenchError(f"{table}: wrote {rows} rows, expected {expected[table]}")
                steps.append(
                    {"step": f"generate + {'COPY' if self.pg else 'INSERT'} {table}", "rows": rows,
                     "seconds": secs, "rows_per_s": rows / secs}
                )  # fmt: skip
                log(f"{table}: {rows:,} rows in {secs:.1f} s ({rows / secs:,.0f} rows/s)")
        finally:
            if replica:
                with self.cursor() as cur:
                    cur.execute("SET session_replication_role = DEFAULT")
        load_rows = sum(s["rows"] for s in steps)
        load_secs = sum(s["seconds"] for s in steps)
        if self.pg:
            t0 = time.perf_counter()
            # the costly (GIN trigram) builds first, two at a time on the two cores
            order = sorted(dropped, key=lambda d: ("gin" not in d[1].lower(), d[0]))
            self._pg_parallel([sql for _name, sql in order])
            secs = time.perf_counter() - t0
            steps.append(
                {"step": f"build the {len(dropped)} secondary indexes", "rows": None, "seconds": secs,
                 "rows_per_s": None}
            )  # fmt: skip
            log(f"{len(dropped)} indexes built in {secs:.1f} s")
            with self.cursor() as cur:
                for table in tables:
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
            t0 = time.perf_counter()
            self._pg_parallel([f"VACUUM (ANALYZE) {t}" for t in tables] + ["ANALYZE"])
            secs = time.perf_counter() - t0
            steps.append({"step": "VACUUM (ANALYZE)", "rows": None, "seconds": secs, "rows_per_s": None})
            log(f"VACUUM (ANALYZE) in {secs:.1f} s")
        else:
            t0 = time.perf_counter()
            with self.cursor() as cur:
                cur.execute("ANALYZE")
            secs = time.perf_counter() - t0
            steps.append({"step": "ANALYZE", "rows": None, "seconds": secs, "rows_per_s": None})
        total_secs = time.perf_counter() - t_all
        steps.append(
            {"step": "seeding in all", "rows": load_rows, "seconds": total_secs,
             "rows_per_s": load_rows / total_secs}
        )  # fmt: skip
        notes.append(
            f"seeding: {load_rows:,} rows loaded at {load_rows / load_secs:,.0f} rows/s (generation in "
            f"Python included), {total_secs:.0f} s with "
            + ("the index builds and VACUUM ANALYZE" if self.pg else "ANALYZE")
        )
        self.result["seed"] = {
            "method": "COPY, indexes built afterwards" if self.pg else "executemany",
            "users": self.cfg["users"],
            "customers": n,
            "contacts": contacts_total,
            "activities": activities_total,
            "steps": steps,
            "notes": notes,
            "total_seconds": total_secs,
            "indexes_rebuilt": [name for name, _ in dropped],
        }

    def share_and_check(self) -> None:
        """A few customers shared with the measuring manager; spot checks of the generated keys
        against the application's own normalisation."""
        from kehu.customers.models import Customer, CustomerShare
        from kehu.customers.normalize import normalize_company_name, normalize_phone, pinyin_initials

        others = Customer.objects.exclude(owner=self.manager).exclude(owner__isnull=True)
        picks = list(
            others.filter(number__startswith=NUMBER_PREFIX)
            .order_by("pk")
            .values_list("pk", flat=True)[:4000:100]
        )
        CustomerShare.objects.bulk_create(
            [CustomerShare(customer_id=pk, user=self.manager, shared_by=self.admin) for pk in picks]
        )
        ids = [self.cid0 + i for i in range(0, self.n, max(1, self.n // 500))]
        fields = ["name", "short_name", "name_key", "pinyin", "phone", "phone_key"]
        sample = list(
            Customer.objects.filter(pk__in=ids).values_list(
                *fields, *(["pinyin_short"] if self.split_pinyin else [])
            )
        )
        bad_key = sum(normalize_company_name(r[0]) != r[2] for r in sample)
        bad_phone = sum(normalize_phone(r[4]) != r[5] for r in sample)
        if self.split_pinyin:  # services: pinyin of the name, pinyin_short of the short name
            bad_pinyin = sum(
                pinyin_initials(r[0]) != r[3] or (pinyin_initials(r[1]) if r[1] else "") != r[6]
                for r in sample
            )
        else:
            bad_pinyin = sum(pinyin_initials(r[1] or r[0]) != r[3] for r in sample)
        if bad_key or bad_phone:
            raise BenchError(
                f"the generator's keys differ from the application's: {bad_key} name keys and {bad_phone} "
                f"phone keys of {len(sample)} sampled customers"
            )
        names = {r[2] for r in sample}
        note = (
            f"generated data checked on {len(sample)} customers: name_key and phone_key equal to "
            f"normalize.py's; pinyin initials (composed from the name parts) differ from what "
            f"services.py stores for {bad_pinyin} ({bad_pinyin / len(sample):.0%}: pypinyin segments "
            "some words differently); name keys unique in the sample: "
            f"{len(names)} of {len(sample)}; {len(picks)} customers shared with the account manager"
        )
        self.result["seed"]["notes"].append(note)
        log(note)

    # --- the 360° customers -------------------------------------------------------------------

    def make_detail_customers(self) -> None:
        from datetime import timedelta

        from auditlog.context import disable_auditlog
        from django.utils import timezone

        from kehu.customers.models import Activity, Contact, Customer
        from kehu.customers.normalize import normalize_company_name, pinyin_initials

        now = timezone.now()
        self.detail_customers = {}
        with disable_auditlog():
            for size in self.cfg["detail_sizes"]:
                name = f"上海三百六十度测试{size}号有限公司"
                c = Customer.objects.create(
                    number=f"{NUMBER_PREFIX}D{size:05d}",
                    name=name,
                    name_key=normalize_company_name(name),
                    pinyin=pinyin_initials(name),
                    owner=self.manager,
                    created_by=self.manager,
                    level_id=self.levels[0],
                    region_id=self.regions[1],
                    industry_id=self.industries[0],
                    phone="021-5555 0000",
                    phone_key="02155550000",
                    last_activity_at=now,
                )
                contacts = Contact.objects.bulk_create(
                    [
                        Contact(
                            customer=c,
                            name=SURNAMES[k % len(SURNAMES)] + GIVEN[k % len(GIVEN)],
                            title=TITLES[k % len(TITLES)],
                            mobile=f"175{size:03d}{k:05d}",
                            mobile_key=f"175{size:03d}{k:05d}",
                            is_primary=k == 0,
                        )
                        for k in range(size)
                    ]
                )
                Activity.objects.bulk_create(
                    [
                        Activity(
                            customer=c,
                            contact=contacts[k % len(contacts)],
                            kind_id=self.activity_kinds[k % len(self.activity_kinds)],
                            happened_at=now - (k + 1) * timedelta(hours=7),
                            subject=f"第{k + 1}次跟进",
                            summary="电话沟通了报价和交货期，客户要求下周提供样品。",
                            author=self.manager,
                        )
                        for k in range(size)
                    ]
                )
                self.detail_customers[size] = c.pk

    # --- the clients --------------------------------------------------------------------------

    def login(self) -> None:
        from django.test import Client

        self.clients = {}
        for role, user in self.role_users.items():
            c = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
            c.force_login(user)
            self.clients[role] = c

    def logout(self) -> None:
        for c in getattr(self, "clients", {}).values():
            c.logout()

    def count_queries(self, client, path, params=None):
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(self.connection) as ctx:
            r = client.get(path, params or {})
        if r.status_code != 200:
            raise BenchError(f"GET {path} {params or ''} answered {r.status_code}")
        return len(ctx.captured_queries), ctx.captured_queries, r

    # --- the customer list --------------------------------------------------------------------

    def visible_samples(self, role: str) -> tuple[list[str], list[str]]:
        """Phone keys of customers and contacts the role sees in the list (for the phone searches
        and the caller-ID numbers that should be found)."""
        from django.db.models.functions import Mod

        from kehu.customers.models import Contact, Customer

        qs = Customer.objects.filter(number__startswith=NUMBER_PREFIX, archived_at__isnull=True)
        if role == "account manager":
            qs = qs.filter(owner=self.manager)
        elif role == "supervisor":
            qs = qs.filter(owner__department=self.supervisor.department_id)
        else:
            qs = qs.filter(owner__isnull=False)
        step = max(1, qs.count() // 400)
        ids = list(qs.annotate(m=Mod("id", step)).filter(m=0).values_list("pk", flat=True)[:400])
        phones = list(
            Customer.objects.filter(pk__in=ids).exclude(phone_key="").values_list("phone_key", flat=True)
        )
        mobiles = list(Contact.objects.filter(customer_id__in=ids).values_list("mobile_key", flat=True)[:400])
        return phones, mobiles

    def list_terms(self, role: str, count: int) -> list[tuple[str, str]]:
        import random

        rnd = random.Random(f"list-{role}")
        names = self.names
        phones, mobiles = self.visible_samples(role)
        terms: list[tuple[str, str]] = []
        firsts = {"name": "华夏", "pinyin": "bjhx"}
        for k in range(count):
            kind = KINDS[k % 3]
            if kind == "name":
                w, t, ci = (
                    rnd.randrange(len(names.words)),
                    rnd.randrange(len(TRADES)),
                    rnd.randrange(len(CITIES)),
                )
                pick = rnd.random()
                if pick < 0.4:
                    term = names.words[w]  # 华夏
                elif pick < 0.7:
                    term = names.words[w] + TRADES[t]  # 华夏科技
                else:
                    term = CITIES[ci][0] + names.words[w]  # 北京华夏
            elif kind == "pinyin":
                w, t, ci = (
                    rnd.randrange(len(names.words)),
                    rnd.randrange(len(TRADES)),
                    rnd.randrange(len(CITIES)),
                )
                if rnd.random() < 0.5:
                    term = names.ini_city[ci] + names.ini_word[w]  # bjhx
                else:
                    term = names.ini_word[w] + names.ini_trade[t]  # hxkj
            else:
                pick = rnd.random()
                if pick < 0.5 and phones:
                    key = rnd.choice(phones)
                elif pick < 0.9 and mobiles:
                    key = rnd.choice(mobiles)
                else:
                    key = f"{UNKNOWN_MOBILE_PREFIX}{rnd.randrange(10**8):08d}"
                term = caller_format(key, rnd.randrange(8))
            if k < 3 and kind in firsts:
                term = firsts[kind]
            terms.append((kind, term))
        return terms

    def raw_list_query(self, role: str, term: str) -> tuple[str, list]:
        """The first page as one hand-written query with the view's own WHERE: the scope as lists of
        ids (the owners the user sees, the pool, the customers shared with them), name / short name
        contain (on PostgreSQL behind the two-character-pieces condition of migration 0005), number
        is, pinyin starts with, phone of the customer or of a contact (read first as ids); active
        customers with an owner, newest first.  The small id queries are timed with it."""
        with self.cursor() as cur:
            return self.rewrite_list_query(cur, role, term, app=True)

    def measure_list(self) -> None:
        from django.urls import reverse

        url = reverse("customers:list")
        rows, notes, explains = [], [], []
        per_role = self.cfg["list_requests"]
        cap = self.cfg["list_seconds"]
        every = self.cfg["list_raw_every"]
        mismatch: list = []
        for role in ROLES:
            client = self.clients[role]
            terms = self.list_terms(role, per_role)
            # SQL per page, once per kind (the first page of the first term of that kind), and
            # the view's own queries kept for EXPLAIN
            queries, captured = {}, {}
            for kind in KINDS:
                term = next(t for k, t in terms if k == kind)
                client.get(url, {"q": term})  # warm-up (per-process caches)
                nq, cq, _r = self.count_queries(client, url, {"q": term})
                queries[kind] = nq
                captured[kind] = (term, cq)
            for _kind, term in terms[:6]:  # more warm-up, unmeasured
                client.get(url, {"q": term})
                self._raw(role, term)
            times = {k: [] for k in KINDS}
            raw_times = {k: [] for k in KINDS}
            raw_rows = {k: [] for k in KINDS}
            re_times = {k: [] for k in KINDS}
            meter = self.meter()
            t_start = time.perf_counter()
            for idx, (kind, term) in enumerate(terms):
                if time.perf_counter() - t_start > cap:
                    notes.append(
                        f"list, {role}: stopped after {idx} requests (--list-seconds {cap:.0f} reached)"
                    )
                    break
                # the raw query for one request in ``every`` (each kind in turn), before or after it
                # (the kinds take turns: requests come as name, pinyin, phone, name, …)
                with_raw = (idx // 3 + idx % 3) % every == 0
                order = ((0, 1) if (idx // 3) % 2 == 0 else (1, 0)) if with_raw else (0,)
                for which in order:
                    if which == 0:
                        t0 = time.perf_counter()
                        r = client.get(url, {"q": term})
                        times[kind].append(time.perf_counter() - t0)
                        if r.status_code != 200:
                            raise BenchError(f"list {role} q={term!r}: status {r.status_code}")
                    else:
                        secs, n_rows = self._raw(role, term)
                        raw_times[kind].append(secs)
                        raw_rows[kind].append(n_rows)
                        secs, n_re = self._rewrite(role, term)
                        re_times[kind].append(secs)
                        if n_re != n_rows:
                            mismatch.append((role, term, n_rows, n_re))
            cpu = meter.stop()
            all_t = [x for k in KINDS for x in times[k]]
            all_raw = [x for k in KINDS for x in raw_times[k]]
            all_rows = [x for k in KINDS for x in raw_rows[k]]
            all_re = [x for k in KINDS for x in re_times[k]]
            for kind in (*KINDS, "all"):
                t = all_t if kind == "all" else times[kind]
                rt = all_raw if kind == "all" else raw_times[kind]
                rr = all_rows if kind == "all" else raw_rows[kind]
                s, rs = support.latency_summary(t), support.latency_summary(rt)
                res = support.latency_summary(all_re if kind == "all" else re_times[kind])
                rows.append(
                    {
                        "role": role,
                        "kind": kind,
                        **s,
                        "raw_n": rs["n"],
                        "raw_p50_ms": rs["p50_ms"],
                        "raw_p95_ms": rs["p95_ms"],
                        "raw_p99_ms": rs["p99_ms"],
                        "rewrite_p50_ms": res["p50_ms"],
                        "rewrite_p95_ms": res["p95_ms"],
                        "rows": sum(rr) / len(rr) if rr else math.nan,
                        "queries": queries.get(kind, "–") if kind != "all" else "",
                        **(cpu if kind == "all" else {}),
                    }
                )
            a = rows[-1]
            log(
                f"list as {role}: {a['n']} requests, p50 {a['p50_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms "
                f"(raw SQL p95 {a['raw_p95_ms']:.2f} ms), {cpu['seconds']:.0f} s"
            )
            explains += self.explain_list(role, captured)
        if mismatch:
            notes.append(
                f"WARNING: the index-friendly rewrite returned another number of rows than the raw "
                f"baseline {len(mismatch)} times, e.g. {mismatch[:3]}"
            )
        notes.append(
            "list baselines: 'raw' is the view's own WHERE (scope and the contacts' customers read "
            "first as lists of ids, name/short name contain behind the two-character-pieces index on "
            "PostgreSQL, number as stored, pinyin and pinyin_short start with, phone of the customer) "
            "as one hand-written query, the id queries timed with it; 'rewrite' is a what-if: the same "
            "rows without the pieces condition (LIKE alone)"
        )
        self.result["list"] = rows
        self.result["explain"] = explains
        self.result["list_notes"] = notes

    BROAD_TERMS = ("公司", "科技", "华", "b")

    def measure_broad(self) -> None:
        """Terms most customers match (公司 is in nearly every name): the list's first page and
        the top bar's search, a few requests each (not budgeted; they once took seconds)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.urls import reverse

        rows = []
        pages = (("list", reverse("customers:list")), ("top bar", reverse("core:search")))
        for role in ROLES:
            client = self.clients[role]
            for where, url in pages:
                for term in self.BROAD_TERMS:
                    client.get(url, {"q": term})  # warm-up
                    times, sql = [], []
                    for _ in range(3):
                        with CaptureQueriesContext(connection) as ctx:
                            t0 = time.perf_counter()
                            r = client.get(url, {"q": term})
                            times.append(time.perf_counter() - t0)
                        if r.status_code != 200:
                            raise BenchError(f"{where} {role} q={term!r}: status {r.status_code}")
                        sql.append(sum(float(q["time"]) for q in ctx.captured_queries))
                    times.sort()
                    sql.sort()
                    rows.append(
                        {
                            "role": role,
                            "page": where,
                            "term": term,
                            "p50_ms": times[1] * 1000,
                            "max_ms": times[-1] * 1000,
                            "sql_ms": sql[1] * 1000,
                            "queries": len(ctx.captured_queries),
                        }
                    )
            worst = max(r["max_ms"] for r in rows if r["role"] == role)
            log(f"broad terms as {role}: slowest request {worst:.0f} ms")
        self.result["broad"] = rows

    def _raw(self, role: str, term: str) -> tuple[float, int]:
        t0 = time.perf_counter()
        with self.cursor() as cur:
            sql, params = self.rewrite_list_query(cur, role, term, app=True)
            cur.execute(sql, params)
            n = len(cur.fetchall())
        return time.perf_counter() - t0, n

    def rewrite_list_query(self, cur, role: str, term: str, app: bool = False) -> tuple[str, list]:
        """With ``app``: the view's WHERE (see ``raw_list_query``).  Without: a what-if, the same
        rows without the two-character-pieces condition (trigram-less ``LIKE`` only) and without the
        pool in the scope, to show what the pieces index buys."""
        from kehu.customers.normalize import normalize_phone

        user = self.role_users[role]
        esc = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        if self.pg:
            search = ["UPPER(c.name::text) LIKE UPPER(%s)", "UPPER(c.short_name::text) LIKE UPPER(%s)"]
            pin = "c.pinyin::text LIKE %s"
        else:
            search = ["c.name LIKE %s ESCAPE '\\'", "c.short_name LIKE %s ESCAPE '\\'"]
            pin = "c.pinyin LIKE %s ESCAPE '\\'"
        params: list = [f"%{esc}%", f"%{esc}%"]
        if app and self.pg and len(term) >= 2:
            search = [
                "(kehu_name_grams(c.name, c.short_name) @> kehu_name_grams(%s, '') AND ("
                + " OR ".join(search)
                + "))"
            ]
            params.insert(0, term)
        if app:
            search.append("c.number IN (%s, %s)")
            params += [term, term.upper()]
        else:
            search.append("c.number = %s")
            params.append(term.upper())
        if term.isascii() and term.replace(" ", "").isalnum():
            initials = term.replace(" ", "").lower() + "%"
            search.append(pin)
            params.append(initials)
            if self.split_pinyin:
                search.append(pin.replace("c.pinyin", "c.pinyin_short"))
                params.append(initials)
        phone = normalize_phone(term)
        if phone:
            search.append("c.phone_key = %s")
            params.append(phone)
            cur.execute(
                "SELECT customer_id FROM cst_linkman WHERE mobile_key = %s OR phone_key = %s", [phone, phone]
            )
            ids = [r[0] for r in cur.fetchall()]
            if ids:
                search.append(f"c.id IN ({', '.join(['%s'] * len(ids))})")
                params += ids
        where = ["c.archived_at IS NULL", "c.owner_id IS NOT NULL"]
        scope_params: list = []
        if role != "admin":
            owners = [user.pk]
            if role == "supervisor":
                depts = sorted(user.scope_department_ids())
                cur.execute(
                    f"SELECT id FROM accounts_user WHERE department_id IN ({', '.join(['%s'] * len(depts))})",
                    depts,
                )
                owners += [r[0] for r in cur.fetchall()]
            cur.execute("SELECT customer_id FROM cst_share WHERE user_id = %s", [user.pk])
            shared = [r[0] for r in cur.fetchall()]
            scope = [f"c.owner_id IN ({', '.join(['%s'] * len(owners))})"]
            scope_params += owners
            if app:
                scope.append("c.owner_id IS NULL")
            if shared:
                scope.append(f"c.id IN ({', '.join(['%s'] * len(shared))})")
                scope_params += shared
            where.append("(" + " OR ".join(scope) + ")")
        where.append("(" + " OR ".join(search) + ")")
        sql = (
            "SELECT c.id, c.number, c.name, c.status, c.phone, c.owner_id, c.last_activity_at "
            f"FROM cst_customer c WHERE {' AND '.join(where)} ORDER BY c.created_at DESC, c.id DESC LIMIT 25"
        )
        return sql, scope_params + params

    def _rewrite(self, role: str, term: str) -> tuple[float, int]:
        t0 = time.perf_counter()
        with self.cursor() as cur:
            sql, params = self.rewrite_list_query(cur, role, term)
            cur.execute(sql, params)
            n = len(cur.fetchall())
        return time.perf_counter() - t0, n

    # --- EXPLAIN --------------------------------------------------------------------------------

    def explain_list(self, role: str, captured: dict) -> list[dict]:
        out = []
        for kind, (term, queries) in captured.items():
            picked = []
            for q in queries:
                sql = q["sql"]
                if 'FROM "cst_customer"' not in sql:
                    continue
                if "COUNT(*)" in sql:
                    picked.append(("COUNT (paginator)", sql))
                elif "LIMIT" in sql and "ORDER BY" in sql:
                    picked.append(("first page", sql))
            if not any(label == "first page" for label, _sql in picked):
                # nothing matched: the paginator's count was 0 and the page was never queried
                out.append({"role": role, "kind": kind, "term": term, "query": "first page",
                            "summary": "not run: the COUNT found no rows"})  # fmt: skip
            raw_sql, raw_params = self.raw_list_query(role, term)
            picked.append(("raw baseline", (raw_sql, raw_params)))
            with self.cursor() as cur:
                picked.append(("rewrite (what-if)", self.rewrite_list_query(cur, role, term)))
            for label, sql in picked:
                try:
                    row = self.explain(sql)
                except Exception as exc:  # an EXPLAIN that fails must not lose the measurements
                    row = {"ms": math.nan, "summary": f"EXPLAIN failed: {exc}"[:200]}
                out.append({"role": role, "kind": kind, "term": term, "query": label, **row})
        return out

    def explain(self, sql) -> dict:
        params = None
        if isinstance(sql, tuple):
            sql, params = sql
        with self.cursor() as cur:
            if self.pg:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
                raw = cur.fetchone()[0]
                plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
                nodes = []

                def walk(node, depth):
                    nodes.append((depth, node))
                    for child in node.get("Plans", []):
                        walk(child, depth + 1)

                walk(plan["Plan"], 0)
                scans = []
                for _d, nd in nodes:
                    t = nd["Node Type"]
                    if "Scan" in t and t not in ("Subquery Scan", "CTE Scan", "Function Scan", "Values Scan"):
                        what = nd.get("Index Name") or nd.get("Relation Name") or ""
                        scans.append(f"{t} {what}".strip())
                index_names = [nd.get("Index Name") or "" for _d, nd in nodes]
                text = "\n".join(
                    "  " * d
                    + f"-> {nd['Node Type']}"
                    + (f" on {nd['Relation Name']}" if nd.get("Relation Name") else "")
                    + (f" using {nd['Index Name']}" if nd.get("Index Name") else "")
                    + f" (rows={nd.get('Actual Rows')} loops={nd.get('Actual Loops')} "
                    f"time={nd.get('Actual Total Time')} ms)"
                    + (f" filter: {nd['Filter'][:160]}" if nd.get("Filter") else "")
                    + (
                        f" removed by filter: {nd['Rows Removed by Filter']}"
                        if nd.get("Rows Removed by Filter")
                        else ""
                    )
                    for d, nd in nodes
                )
                return {
                    "ms": plan.get("Execution Time", math.nan),
                    "trigram": "yes" if any("trgm" in n for n in index_names) else "no",
                    "pattern": "yes" if any("pinyin" in n for n in index_names) else "no",
                    "seq_scan": "yes"
                    if any(nd["Node Type"].endswith("Seq Scan") and nd.get("Relation Name") == "cst_customer"
                           for _d, nd in nodes)
                    else "no",
                    "summary": "; ".join(dict.fromkeys(scans))[:150],
                    "plan": text,
                    "sql": sql if params is None else f"{sql}  -- params {params}",
                }  # fmt: skip
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            details = [r[-1] for r in cur.fetchall()]
            t0 = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            ms = 1000 * (time.perf_counter() - t0)
            joined = "; ".join(details)
            return {
                "ms": ms,
                "trigram": "n/a",
                "pattern": "yes" if "pinyin" in joined else "no",
                "seq_scan": "yes" if any(d.startswith(("SCAN c ", "SCAN cst_customer")) or d == "SCAN c"
                                         for d in details) else "no",
                "summary": joined[:150],
                "plan": "\n".join(details),
                "sql": sql,
            }  # fmt: skip

    # --- caller ID --------------------------------------------------------------------------------

    def measure_caller(self) -> None:
        import random

        from django.urls import reverse

        from kehu.customers.models import Contact, Customer
        from kehu.customers.normalize import normalize_phone

        url = reverse("api:caller-id")
        rows, notes = [], []
        count = self.cfg["caller_requests"]
        all_ids = [self.cid0 + i for i in range(0, self.n, max(1, self.n // 300))]
        any_phones = list(
            Customer.objects.filter(pk__in=all_ids).exclude(phone_key="").values_list("phone_key", flat=True)
        )
        any_mobiles = list(
            Contact.objects.filter(customer_id__in=all_ids).values_list("mobile_key", flat=True)
        )
        sql = (
            "SELECT id FROM cst_customer WHERE phone_key = %s AND archived_at IS NULL UNION "
            "SELECT customer_id FROM cst_linkman WHERE (mobile_key = %s OR phone_key = %s) "
            "AND archived_at IS NULL"
        )
        for role in ROLES:
            client = self.clients[role]
            rnd = random.Random(f"caller-{role}")
            phones, mobiles = self.visible_samples(role)
            numbers = []
            for k in range(count):
                pick = rnd.random()
                if pick < 0.3 and phones:
                    key = rnd.choice(phones)
                elif pick < 0.6 and mobiles:
                    key = rnd.choice(mobiles)
                elif pick < 0.75 and any_phones:
                    key = rnd.choice(any_phones)
                elif pick < 0.9 and any_mobiles:
                    key = rnd.choice(any_mobiles)
                else:
                    key = f"{UNKNOWN_MOBILE_PREFIX}{rnd.randrange(10**8):08d}"
                raw = caller_format(key, k)
                if normalize_phone(raw) != key:
                    raise BenchError(f"caller-ID number {raw!r} does not normalise to {key}")
                numbers.append((raw, key))
            # query counts: a number found (one match) and one nobody has
            hit = next((n for n in numbers if n[1] in phones or n[1] in mobiles), numbers[0])
            q_hit, _c, r_hit = self.count_queries(client, url, {"number": hit[0]})
            q_miss, _c, r_miss = self.count_queries(
                client, url, {"number": f"{UNKNOWN_MOBILE_PREFIX}00000000"}
            )
            matches_hit = len(json.loads(r_hit.content)["matches"])
            for raw, _key in numbers[:10]:  # warm-up
                client.get(url, {"number": raw})
            times, raw_times, hits = [], [], 0
            meter = self.meter()
            t_start = time.perf_counter()
            for idx, (raw, key) in enumerate(numbers):
                if time.perf_counter() - t_start > self.cfg["caller_seconds"]:
                    notes.append(
                        f"caller ID, {role}: stopped after {idx} requests "
                        f"(--caller-seconds {self.cfg['caller_seconds']:.0f} reached)"
                    )
                    break
                for which in (0, 1) if idx % 2 == 0 else (1, 0):
                    if which == 0:
                        t0 = time.perf_counter()
                        r = client.get(url, {"number": raw})
                        times.append(time.perf_counter() - t0)
                        if r.status_code != 200:
                            raise BenchError(
                                f"caller ID {role} {raw!r}: status {r.status_code} {r.content[:200]}"
                            )
                        body = json.loads(r.content)
                        if body["number"] != key:
                            raise BenchError(
                                f"caller ID normalised {raw!r} to {body['number']}, expected {key}"
                            )
                        hits += bool(body["matches"])
                    else:
                        t0 = time.perf_counter()
                        k2 = normalize_phone(raw)
                        with self.cursor() as cur:
                            cur.execute(sql, [k2, k2, k2])
                            cur.fetchall()
                        raw_times.append(time.perf_counter() - t0)
            cpu = meter.stop()
            s, rs = support.latency_summary(times), support.latency_summary(raw_times)
            rows.append(
                {
                    "role": role,
                    **s,
                    "hits": hits,
                    "queries_hit": q_hit,
                    "queries_miss": q_miss,
                    "matches_in_hit": matches_hit,
                    "raw_p50_ms": rs["p50_ms"],
                    "raw_p95_ms": rs["p95_ms"],
                    "raw_p99_ms": rs["p99_ms"],
                    **cpu,
                }
            )
            log(
                f"caller ID as {role}: {s['n']} requests ({hits} found), p50 {s['p50_ms']:.2f} ms, "
                f"p95 {s['p95_ms']:.2f} ms (raw p95 {rs['p95_ms']:.3f} ms)"
            )
        notes.append(
            "caller ID numbers: 30 % customers' landlines and 30 % contacts' mobiles the role sees, 15 % + "
            "15 % of any customer (mostly outside an account manager's scope), 10 % unknown; formats such "
            "as '+86 138-0013-8000', '(010) 6552 1234 转 808', '0086…', '… ext 12'"
        )
        self.result["caller"] = rows
        self.result["caller_notes"] = notes

    # --- the 360° page ----------------------------------------------------------------------------

    def measure_detail(self) -> None:
        from django.urls import reverse

        rows, notes = [], []
        reps = self.cfg["detail_requests"]
        for role in ("account manager", "admin"):
            client = self.clients[role]
            base = None
            for size, pk in self.detail_customers.items():
                url = reverse("customers:detail", args=[pk])
                client.get(url)
                nq, _cq, r = self.count_queries(client, url)
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    r = client.get(url)
                    times.append(time.perf_counter() - t0)
                s = support.latency_summary(times)
                base = base or s["p50_ms"]
                rows.append(
                    {"role": role, "size": size, "queries": nq, **s, "kib": len(r.content) / 1024,
                     "vs_smallest": s["p50_ms"] / base}
                )  # fmt: skip
                log(
                    f"360° page as {role}, {size} contacts/activities: {nq} queries, p50 {s['p50_ms']:.1f} ms"
                )
        for role in ("account manager", "admin"):
            counts = [r["queries"] for r in rows if r["role"] == role]
            fixed = len(set(counts)) == 1
            notes.append(
                f"360° page as {role}: {' / '.join(map(str, counts))} queries for "
                f"{' / '.join(map(str, self.detail_customers))} contacts and activities — "
                + ("a fixed number of queries: OK" if fixed else "the number of queries grows: MISSES")
            )
        self.result["detail"] = rows
        self.result["detail_notes"] = notes
        self.result["detail_fixed"] = all(
            len({r["queries"] for r in rows if r["role"] == role}) == 1
            for role in ("account manager", "admin")
        )

    # --- import -------------------------------------------------------------------------------------

    def import_rows(self, count: int) -> list[list[str]]:
        names = self.import_names = Names(IMPORT_WORDS)
        if count > names.m:
            raise BenchError(f"--import-rows: at most {names.m} distinct names")
        levels = ["重点客户", "普通客户", "大客户", "战略客户"]
        regions = ["华北", "华东", "华南", "华中", "西南"]
        industries = ["制造业", "信息技术", "批发零售", "建筑工程", "交通物流"]
        sources = ["电话营销", "网站", "客户介绍", "展会"]
        four = [(c, a) for c, a in CITIES if len(a) == 4]
        out = []
        for i in range(count):
            h = _hash(i, 11)
            name, short, _key, _pinyin, _short_pinyin, ci = names.company(i, with_short=h & 1 == 0)
            city = CITIES[ci][0]
            _c, area = four[i % len(four)]
            # 7-digit local numbers after a 4-digit area code: never a seeded customer's number
            phone, _ = landline(area, 2_000_000 + (i * 7919) % 7_000_000, h % 3)
            if len(phone.replace("-", "").replace(" ", "").replace("(", "").replace(")", "")) < 11:
                raise BenchError("import phone generator")
            mob, _ = mobile(
                IMPORT_MOBILE_PREFIXES[i % len(IMPORT_MOBILE_PREFIXES)],
                (i * 104729 + 777) % 100_000_000,
                h % 4,
            )
            out.append(
                [
                    name,
                    short,
                    levels[h % 4],
                    regions[(h >> 3) % 5],
                    industries[(h >> 6) % 5],
                    sources[(h >> 9) % 4],
                    "潜在" if h % 3 else "签约",
                    phone,
                    f"{city}市{DISTRICTS[(h >> 12) % 10]}{ROADS[(h >> 15) % 10]}{1 + (h >> 18) % 300}号",
                    f"92{110000 + ci * 100:06d}MB{i:08X}",
                    self.usernames[i % len(self.usernames)],
                    SURNAMES[(h >> 20) % len(SURNAMES)] + GIVEN[(h >> 24) % len(GIVEN)],
                    "男" if h & 4 else "女",
                    TITLES[(h >> 26) % len(TITLES)],
                    mob,
                    f"i{i}@example.cn" if h % 2 else "",
                ]
            )
        return out

    IMPORT_HEADERS = [
        "客户名称", "简称", "等级", "地区", "行业", "来源", "状态", "电话", "地址", "税号", "客户经理",
        "联系人", "性别", "职务", "手机", "邮箱",
    ]  # fmt: skip

    def measure_import(self) -> None:
        import csv

        from django.core.files import File

        from kehu.customers import importing
        from kehu.customers.models import Customer

        count = self.cfg["import_rows"]
        notes: list[str] = []
        res: dict = {"rows": count, "notes": notes}
        self.result["import"] = res
        for attr in ("ImportSession", "Checker", "ALL_OR_NOTHING"):
            if not hasattr(importing, attr):
                notes.append(f"import NOT measured: kehu.customers.importing has no {attr} (API changed?)")
                return
        data = self.import_rows(count)
        path = Path(self.cfg["workdir"]) / "customers-import.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.IMPORT_HEADERS)
            w.writerows(data)
        size = path.stat().st_size
        by = self.admin
        before = Customer.objects.count()
        # time spent loading the database's duplicate keys (measured, not changed)
        load_times: list[float] = []
        original = importing.Checker._load_duplicate_keys

        def timed(checker, *args):
            t0 = time.perf_counter()
            try:
                return original(checker, *args)
            finally:
                load_times.append(time.perf_counter() - t0)

        importing.Checker._load_duplicate_keys = timed
        meter = self.meter()
        try:
            t0 = time.perf_counter()
            with open(path, "rb") as fh:
                session = importing.ImportSession.start(
                    user=by, files={"customers": File(fh, name=path.name)}
                )
            t_read = time.perf_counter() - t0
            mapping = session.files["customers"]["mapping"]
            unmapped = [h for h, m in zip(self.IMPORT_HEADERS, mapping, strict=False) if not m]
            if unmapped:
                notes.append(f"import: columns not recognised: {unmapped}")
            t0 = time.perf_counter()
            report = session.check(by=by)
            t_check = time.perf_counter() - t0
            mode = importing.ALL_OR_NOTHING
            if report["bad_rows"]:
                errs = session.errors()[:3]
                notes.append(
                    f"import: the dry run found {report['bad_rows']} bad rows, e.g. {errs}; "
                    "imported the valid ones"
                )
                mode = importing.VALID_ONLY
            t0 = time.perf_counter()
            result = session.execute(by=by, mode=mode)
            t_exec = time.perf_counter() - t0
        finally:
            importing.Checker._load_duplicate_keys = original
        cpu = meter.stop()
        created = Customer.objects.count() - before
        if created != result.get("customers"):
            notes.append(
                f"import: the job says {result.get('customers')} customers, the table grew by {created}"
            )
        n_ok = result.get("customers", 0)
        log(
            f"import of {count:,} rows: read {t_read:.1f} s, dry run {t_check:.1f} s, import {t_exec:.1f} s "
            f"({n_ok:,} customers, {result.get('contacts', 0):,} contacts)"
        )
        # the baseline: the same rows (customer + contact) by raw COPY / executemany, then deleted
        raw_secs = self.raw_import_baseline(data)
        keys_dry = load_times[0] if load_times else math.nan
        keys_job = load_times[1] if len(load_times) > 1 else math.nan
        res.update(
            file_bytes=size,
            customers=n_ok,
            contacts=result.get("contacts"),
            mode=mode,
            report=report,
            summary=result.get("summary"),
            raw_seconds=raw_secs,
            raw_rows_per_s=count / raw_secs,
            load_keys_seconds=load_times,
            cpu=cpu,
        )
        res["steps"] = [
            {"step": "1. read the CSV (ImportSession.start)", "seconds": t_read,
             "rows_per_s": count / t_read},
            {"step": "2. dry run (session.check)", "seconds": t_check, "rows_per_s": count / t_check},
            {"step": f"   of which loading the database's keys ({self.n:,} customers)", "seconds": keys_dry,
             "rows_per_s": None},
            {"step": "3. import (session.execute: validate again + write)", "seconds": t_exec,
             "rows_per_s": count / t_exec, "budget": True},
            {"step": "   of which loading the database's keys", "seconds": keys_job, "rows_per_s": None},
            {"step": "dry run + import", "seconds": t_check + t_exec,
             "rows_per_s": count / (t_check + t_exec)},
            {"step": "read + dry run + import", "seconds": t_read + t_check + t_exec,
             "rows_per_s": count / (t_read + t_check + t_exec)},
            {"step": f"baseline: raw {'COPY' if self.pg else 'executemany'} of the same rows",
             "seconds": raw_secs,
             "rows_per_s": count / raw_secs},
        ]  # fmt: skip
        notes.append(
            f"import file: {count:,} rows, {size / 1e6:.1f} MB CSV (UTF-8), 16 columns (customer, owner "
            "by user "
            f"name, dictionary labels, contact with mobile), imported by {by.username} ({mode}) into a "
            f"database of {self.n:,} customers; the budget applies to step 3, the import job itself"
        )

    def raw_import_baseline(self, data: list[list[str]]) -> float:
        """COPY (PostgreSQL) or executemany (SQLite) of the file's customers and contacts, with the keys
        computed beforehand (not timed), in one transaction; then deleted."""
        from django.db import transaction

        from kehu.customers.normalize import normalize_phone

        with self.cursor() as cur:
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM cst_customer")
            cid0 = cur.fetchone()[0] + 1_000_000
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM cst_linkman")
            kid0 = cur.fetchone()[0] + 1_000_000
        user_ids = self._user_ids()
        now = self.dt(time.time())
        cust_cols, cust_tail = self.layout["cst_customer"]
        cont_cols, cont_tail = self.layout["cst_linkman"]
        names = self.import_names
        cust, cont = [], []
        for i, r in enumerate(data):
            name, short, key, pinyin, pinyin_short, _ci = names.company(i, with_short=bool(r[1]))
            if not self.split_pinyin:
                pinyin = pinyin_short or pinyin
            cust.append(
                (str(cid0 + i), f"{NUMBER_PREFIX}RAW{i:07d}", "company", name, short, key, pinyin,
                 str(self.levels[0]), str(self.regions[0]), str(self.industries[0]), str(self.sources[0]),
                 "prospect", NULL, NULL, str(user_ids[r[10]]), r[8], r[7], normalize_phone(r[7]), "", "", "",
                 "", "", "", r[9], "0", "", NULL, now, str(self.admin.pk), now, now,
                 *((pinyin_short,) if self.split_pinyin else ()), *cust_tail)
            )  # fmt: skip
            cont.append(
                (str(kid0 + i), str(cid0 + i), r[11], "m" if r[12] == "男" else "f", r[13], r[14],
                 normalize_phone(r[14]), "", "", r[15], "", NULL, NULL, "1", "", now, *cont_tail)
            )  # fmt: skip
        t0 = time.perf_counter()
        if self.pg:
            with transaction.atomic(), self.cursor() as cur:
                for table, cols, rows in (
                    ("cst_customer", cust_cols, cust),
                    ("cst_linkman", cont_cols, cont),
                ):
                    with cur.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for lo in range(0, len(rows), 20_000):
                            copy.write("".join("\t".join(x) + "\n" for x in rows[lo : lo + 20_000]))
        else:
            with transaction.atomic(), self.cursor() as cur:
                for table, cols, rows in (
                    ("cst_customer", cust_cols, cust),
                    ("cst_linkman", cont_cols, cont),
                ):
                    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
                    cur.executemany(sql, [tuple(None if v == NULL else v for v in x) for x in rows])
        secs = time.perf_counter() - t0
        with transaction.atomic(), self.cursor() as cur:
            cur.execute("DELETE FROM cst_linkman WHERE id >= %s", [kid0])
            cur.execute("DELETE FROM cst_customer WHERE id >= %s", [cid0])
        log(f"raw {'COPY' if self.pg else 'executemany'} of the same {len(data):,} rows: {secs:.2f} s")
        return secs

    def _user_ids(self) -> dict[str, int]:
        from kehu.accounts.models import User

        return dict(User.objects.filter(username__startswith=USER_PREFIX).values_list("username", "pk"))

    # --- the whole run ----------------------------------------------------------------------------

    def run(self) -> dict:
        t0 = time.perf_counter()
        self.make_users()
        self.seed()
        self.share_and_check()
        self.make_detail_customers()
        self.login()
        try:
            bg = support.background_load(1.0)
            self.result["background_cores"] = bg
            log(f"other load on the machine before the measurements: {bg or 0:.2f} cores busy")
            self.measure_list()
            self.measure_broad()
            self.measure_caller()
            self.measure_detail()
            self.measure_import()
        finally:
            self.logout()
        self.result["summary"] = self.summary()
        self.result["worker_seconds"] = time.perf_counter() - t0
        return self.result

    def summary(self) -> dict:
        out = {}
        for row in self.result.get("list", []):
            if row["kind"] == "all":
                ok = row["p95_ms"] <= LIST_BUDGET_MS
                out[f"list p95 ({row['role']})"] = (
                    f"{row['p95_ms']:.1f} ms vs ≤ {LIST_BUDGET_MS:.0f}: {_verdict(ok)}"
                )
        for row in self.result.get("caller", []):
            ok = row["p95_ms"] <= CALLER_BUDGET_MS
            out[f"caller ID p95 ({row['role']})"] = (
                f"{row['p95_ms']:.2f} ms vs ≤ {CALLER_BUDGET_MS:.0f}: {_verdict(ok)}"
            )
        imp = self.result.get("import") or {}
        step = next((s for s in imp.get("steps", []) if s.get("budget")), None)
        if step:
            out["import"] = (
                f"{step['rows_per_s']:,.0f} rows/s vs ≥ {IMPORT_BUDGET_ROWS_S:,.0f}: "
                f"{_verdict(step['rows_per_s'] >= IMPORT_BUDGET_ROWS_S)}"
            )
        else:
            out["import"] = "not measured"
        if "detail_fixed" in self.result:
            out["360° page fixed queries"] = _verdict(self.result["detail_fixed"])
        return out


def cleanup(cfg: dict) -> dict:
    """An existing database: remove what the scenario added (its users, departments and customers,
    and what hangs off them)."""
    from auditlog.context import disable_auditlog
    from auditlog.models import LogEntry
    from django.db import connection, transaction
    from django.db.models import Q

    from kehu.accounts.models import Department, LoginLog, User
    from kehu.customers.models import Activity, Contact, Customer, CustomerShare

    users = list(User.objects.filter(username__startswith=USER_PREFIX).values_list("pk", flat=True))
    # The customers' ids first, in one scan: deleting through a sub-select per table let PostgreSQL
    # pick plans that ran for minutes on a million customers.
    mine = list(
        Customer.objects.filter(
            Q(number__startswith=NUMBER_PREFIX) | Q(owner__in=users) | Q(created_by__in=users)
        ).values_list("pk", flat=True)
    )
    counts = {"activities": 0, "contacts": 0, "shares": 0, "customers": 0}
    with disable_auditlog(), transaction.atomic():  # no "delete" entries for what the run added
        counts["activities"] += Activity.objects.filter(author__in=users).delete()[0]
        counts["shares"] += CustomerShare.objects.filter(user__in=users).delete()[0]
        for i in range(0, len(mine), 10_000):
            chunk = mine[i : i + 10_000]
            counts["activities"] += Activity.objects.filter(customer_id__in=chunk).delete()[0]
            counts["contacts"] += Contact.objects.filter(customer_id__in=chunk).delete()[0]
            counts["shares"] += CustomerShare.objects.filter(customer_id__in=chunk).delete()[0]
            Customer.tags.through.objects.filter(customer_id__in=chunk).delete()
            counts["customers"] += Customer.objects.filter(pk__in=chunk).delete()[0]
        counts["audit"] = LogEntry.objects.filter(actor__in=users).delete()[0]
        counts["login_log"] = LoginLog.objects.filter(user__in=users).delete()[0]
        Department.objects.filter(code__startswith=DEPT_PREFIX).update(head=None)
        User.roles.through.objects.filter(user__in=users).delete()
        counts["users"] = User.objects.filter(pk__in=users).delete()[0]
        mine_depts = Department.objects.filter(code__startswith=DEPT_PREFIX)
        # children first: Department.parent is PROTECT
        counts["departments"] = mine_depts.filter(parent__code__startswith=DEPT_PREFIX).delete()[0]
        counts["departments"] += mine_depts.delete()[0]
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) cst_customer")
    return counts


def worker_main(config_path: str) -> None:
    cfg = json.loads(Path(config_path).read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    if cfg.get("cleanup"):
        log(f"cleaned the existing database: {cleanup(cfg)}")
        return
    if not cfg.get("fresh"):
        # an existing database may hold what an interrupted earlier run left
        log(f"removed what an earlier run left, if anything: {cleanup(cfg)}")
    result = Worker(cfg).run()
    Path(cfg["out"]).write_text(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2])
    else:
        sys.exit("usage: run it through bench/run.py customers (this file runs itself with --worker)")
