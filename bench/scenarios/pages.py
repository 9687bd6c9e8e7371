"""Pages per second of the dashboard and a list page, served by the real WSGI server.

Set-up, in a scratch data folder and database: ``kehu migrate``, ``kehu collectstatic`` (as
``kehu run`` does), ``kehu demo``, extra users so the user list paginates, then ``kehu serve``
(gunicorn, gthread workers) on a free port of 127.0.0.1.
The clients log in as ``admin`` through the login form and request one target at a time, all
together, for a fixed duration.  The baseline is a static file (through whitenoise) served by the
same server to the same clients in the same run, measured before and after the pages.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time

import support
from support import BenchError, log

NAME = "pages"
DESCRIPTION = (
    "pages/s of the dashboard and the user list under concurrent logged-in clients, vs a static file"
)

STATIC = "/static/kehu/kehu.css"
DASHBOARD = "/"
USER_LIST = "/accounts/users/"
USERNAME, PASSWORD = "admin", "kehu-demo"

# (label, path, is the static baseline)
TARGETS = [
    ("static file", STATIC, True),
    ("dashboard", DASHBOARD, False),
    ("user list", USER_LIST, False),
    ("static file, again", STATIC, True),
]

SEED_SCRIPT = """
from auditlog.context import disable_auditlog
from django.contrib.auth.hashers import make_password
from django.db import transaction
from kehu.accounts.models import Department, Role, User

N, PREFIX = {count}, {prefix!r}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超".split()
# Bulk rows, one shared unusable password hash: hashing 500 real passwords would take minutes, and
# these users never log in.  The audit log is off for the seeding (it is not what is measured).
with disable_auditlog(), transaction.atomic():
    User.objects.filter(username__startswith=PREFIX).delete()
    depts = list(Department.objects.order_by("pk"))
    roles = list(Role.objects.exclude(code="administrator").order_by("pk"))
    managers = list(User.objects.filter(username__in=["executive", "supervisor", "manager"]).order_by("pk"))
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(
                username=f"{{PREFIX}}{{i:04d}}",
                full_name=SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)],
                email=f"{{PREFIX}}{{i:04d}}@kehu-bench.invalid",
                phone=f"139{{i:08d}}",
                department=depts[i % len(depts)] if depts else None,
                manager=managers[i % len(managers)] if managers else None,
                is_active=i % 10 != 0,
                password=unusable,
            )
            for i in range(1, N + 1)
        ],
        batch_size=250,
    )
    through = User.roles.through
    seeded = User.objects.filter(username__startswith=PREFIX).order_by("pk")
    seeded = list(seeded.values_list("pk", flat=True))
    if roles:
        through.objects.bulk_create(
            [through(user_id=pk, role_id=roles[i % len(roles)].pk) for i, pk in enumerate(seeded)],
            batch_size=500,
        )
print(json.dumps({{"seeded": len(seeded), "users": User.objects.count()}}))
"""

QUERY_COUNT_SCRIPT = """
from django.db import connection
from django.db.models import Max
from django.test import Client
from django.test.utils import CaptureQueriesContext
from kehu.accounts.models import LoginLog, User

last_log = LoginLog.objects.aggregate(m=Max("pk"))["m"] or 0
client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
client.force_login(User.objects.get(username={username!r}))
out = {{}}
for path in {paths!r}:
    client.get(path)  # the first request fills per-process caches; count the second
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path)
    out[path] = {{"status": r.status_code, "queries": len(ctx.captured_queries)}}
# leave no trace: the session, and the log-in the test client's force_login recorded
client.session.delete()
LoginLog.objects.filter(pk__gt=last_log, user_agent="", ip__isnull=True).delete()
print(json.dumps(out))
"""

CLEANUP_SCRIPT = """
from auditlog.context import disable_auditlog
from django.db import transaction
from kehu.accounts.models import LoginLog, User

with disable_auditlog(), transaction.atomic():
    users = User.objects.filter(username__startswith={prefix!r}).delete()[0]
    logs = LoginLog.objects.filter(user_agent={agent!r}).delete()[0]
print(json.dumps({{"deleted_rows": users, "login_log_rows": logs}}))
"""


def add_arguments(parser) -> None:
    g = parser.add_argument_group("pages scenario")
    g.add_argument("--clients", type=int, default=8, help="concurrent logged-in clients (default 8)")
    g.add_argument(
        "--duration", type=float, help="seconds of measurement per target (default 15; with --quick 3)"
    )
    g.add_argument(
        "--warmup", type=float, help="unmeasured seconds before each target (default 2; quick 0.5)"
    )
    g.add_argument("--seed-users", type=int, default=500, help="extra users for the list (default 500)")
    g.add_argument("--web-workers", type=int, help="gunicorn worker processes (default: kehu serve's, 3)")
    g.add_argument("--web-threads", type=int, help="threads per worker (default: kehu serve's, 4)")


def run(args) -> dict:
    support.check_assets()
    duration = args.duration or (3.0 if args.quick else 15.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    if args.clients < 1 or duration <= 0:
        raise BenchError("--clients must be at least 1 and --duration positive")
    planned = len(TARGETS) * (duration + warmup)
    if planned > 100:
        log(f"warning: {planned:.0f} s of load planned; the scenario will take more than 2 minutes")

    with support.workdir(args.keep) as wd:
        db = support.open_database(args.database_url, wd)
        log(f"database: {db.describe()}")
        env = support.kehu_env(db, wd)
        try:
            return _measure(args, env, db, wd, duration=duration, warmup=warmup)
        finally:
            if args.keep:
                log(f"kept the database: {db.label}")
            elif db.fresh:
                support.drop_database(db)
            else:
                done = support.django_script(
                    CLEANUP_SCRIPT.format(prefix=support.BENCH_USER_PREFIX, agent=support.USER_AGENT), env
                )
                log(f"cleaned the existing database: {done}")


def _prepare(args, env) -> tuple[dict, dict]:
    kehu = support.kehu_bin()
    support.run_cmd([kehu, "migrate", "--noinput", "-v", "0"], env, timeout=180)
    # as `kehu run` does: static files into the (scratch) data folder, compressed by whitenoise
    support.run_cmd([kehu, "collectstatic", "--noinput", "-v", "0"], env, timeout=180)
    support.run_cmd([kehu, "demo"], env, timeout=120)
    seeded = support.django_script(
        SEED_SCRIPT.format(count=args.seed_users, prefix=support.BENCH_USER_PREFIX), env, timeout=120
    )
    log(f"seeded {seeded['seeded']} users ({seeded['users']} in all)")
    paths = sorted({path for _label, path, _static in TARGETS})
    queries = support.django_script(QUERY_COUNT_SCRIPT.format(username=USERNAME, paths=paths), env)
    return seeded, queries


def _login_all(port: int, n: int) -> list[support.Client]:
    clients = [support.Client(port) for _ in range(n)]
    failures: list[BaseException] = []

    def login(c: support.Client) -> None:
        try:
            c.login(USERNAME, PASSWORD)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=login, args=(c,)) for c in clients]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if failures:
        raise BenchError(f"{len(failures)} of {n} log-ins failed: {failures[0]}")
    log(f"{n} clients logged in as {USERNAME} through the form in {time.perf_counter() - t0:.1f} s")
    return clients


def _check_pages(client: support.Client) -> list[str]:
    notes = []
    for path, must in ((DASHBOARD, b"<html"), (USER_LIST, b'class="pagination')):
        r = client.get(path)
        if r.status != 200:
            raise BenchError(f"GET {path} answered {r.status} {r.location} before the measurement")
        if must not in r.body:
            notes.append(f"warning: {path} has no {must.decode()!r} in its HTML")
    return notes


def _measure(args, env, db, wd, *, duration: float, warmup: float) -> dict:
    seeded, queries = _prepare(args, env)
    server = support.Server(env, wd / "server.log", workers=args.web_workers, threads=args.web_threads)
    clients: list[support.Client] = []
    try:
        server.start()
        workers = len(support.process_tree_cpu(server.pid)) - 1
        log(f"kehu serve on 127.0.0.1:{server.port}, pid {server.pid}, {workers} worker processes")
        clients = _login_all(server.port, args.clients)
        notes = _check_pages(clients[0])
        background = support.background_load(1.0)
        if background is not None:
            log(f"other load on the machine before the measurement: {background:.2f} cores busy")
        rows = []
        for label, path, is_static in TARGETS:
            if warmup:
                support.run_phase(clients, path, warmup)
            m = support.run_phase(clients, path, duration, server_pid=server.pid, db_name=db.name)
            m.update(target=label, static=is_static, queries=queries.get(path, {}).get("queries"))
            rows.append(m)
            log(
                f"{label:<20} {m['pages_per_s']:8.1f} pages/s  p50 {m['p50_ms']:.1f} ms  "
                f"p99 {m['p99_ms']:.1f} ms  errors {m['errors']}"
            )
        for c in clients:
            with contextlib.suppress(OSError, BenchError):
                c.logout()
    finally:
        for c in clients:
            c.close()
        server.stop()
    server_log_tail = server.log_tail(2000)
    full_log = server.log_tail(10**7).splitlines()
    problems = [line for line in full_log if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line]
    if problems:
        notes.append(f"the server logged {len(problems)} error line(s), e.g. {problems[0][:200]}")
    return _report(
        args,
        db,
        rows,
        notes,
        seeded=seeded,
        workers=workers,
        background=background,
        duration=duration,
        warmup=warmup,
        reconnects=sum(c.reconnects for c in clients),
        connects=sum(c.connects for c in clients),
        server_log_tail=server_log_tail,
    )


def _report(
    args,
    db,
    rows,
    notes,
    *,
    seeded,
    workers,
    background,
    duration,
    warmup,
    reconnects,
    connects,
    server_log_tail,
):
    static_rates = [r["pages_per_s"] for r in rows if r["static"]]
    baseline = sum(static_rates) / len(static_rates)
    for r in rows:
        r["vs_static"] = r["pages_per_s"] / baseline if baseline else math.nan
        for part in ("server", "db"):
            cores = r.get(f"{part}_cpu_cores")
            r[f"{part}_cpu_ms_per_page"] = (
                1000 * cores / r["pages_per_s"] if cores is not None and r["pages_per_s"] else None
            )

    threads = args.web_threads or 4
    summary = {}
    for r in rows:
        if not r["static"]:
            summary[r["target"]] = {
                "pages_per_s": r["pages_per_s"],
                "static_per_s": baseline,
                "ratio": r["vs_static"],
            }
            notes.append(
                f"{r['target']} ({r['path']}): {r['pages_per_s']:.1f} pages/s beside the static file's "
                f"{baseline:.1f}/s: ratio {r['vs_static']:.3f} (the static file is "
                f"{1 / r['vs_static'] if r['vs_static'] else math.inf:.1f}× faster)"
            )
    if len(static_rates) == 2 and baseline:
        drift = (static_rates[1] - static_rates[0]) / baseline
        notes.append(
            f"static baseline = mean of {static_rates[0]:.1f}/s (before the pages) and "
            f"{static_rates[1]:.1f}/s (after): drift {drift:+.1%}"
        )
    errors = sum(r["errors"] for r in rows)
    if errors:
        for r in rows:
            if r["errors"]:
                notes.append(
                    f"ERRORS on {r['target']}: {r['errors']} of {r['requests']} — statuses {r['statuses']}; "
                    f"first: {r['first_error'][:200]}"
                )
    else:
        notes.append("errors: none (every response of every target was 200)")
    if reconnects:
        notes.append(f"{reconnects} idle keep-alive connection(s) closed by the server were reopened")
    cpu = [r for r in rows if r.get("client_cpu_cores") is not None]
    if cpu:
        cli = max(r["client_cpu_cores"] for r in cpu)
        srv = [r["server_cpu_cores"] for r in cpu if r.get("server_cpu_cores") is not None]
        dbc = [r["db_cpu_cores"] for r in cpu if r.get("db_cpu_cores") is not None]
        notes.append(
            f"this machine has {os.cpu_count()} CPU cores and the load generator runs on them too: the "
            f"clients (threads of this Python process) used up to {cli:.2f} cores"
            + (f", the server {min(srv):.2f}–{max(srv):.2f}" if srv else "")
            + (f", PostgreSQL {min(dbc):.2f}–{max(dbc):.2f}" if dbc else "")
            + ". Absolute rates are what the server gets on a shared machine; the ratio to the static "
            "file is the figure to compare between machines and runs"
        )
        other = max((r.get("other_cpu_cores") or 0) for r in cpu)
        if other > 0.25 or (background or 0) > 0.25:
            notes.append(
                f"WARNING: other processes kept the machine busy (up to {other:.2f} cores during the "
                f"measurement, {background or 0:.2f} just before it): these figures are low and noisy; "
                "run again on a quiet machine (--wait-quiet helps)"
            )
            for r in cpu:
                if (r.get("other_cpu_cores") or 0) > 0.25:
                    who = ", ".join(f"{n} {c:.2f}" for n, c in (r.get("other_processes") or {}).items())
                    notes.append(
                        f"  during {r['target']}: {r['other_cpu_cores']:.2f} cores elsewhere ({who or '?'})"
                    )
    return {
        "tables": [
            {
                "title": "throughput and latency (as the clients saw it)",
                "columns": [
                    {"key": "target", "title": "target"},
                    {"key": "path", "title": "path"},
                    {"key": "requests", "title": "requests"},
                    {"key": "errors", "title": "errors"},
                    {"key": "pages_per_s", "title": "pages/s", "format": "{:.1f}"},
                    {"key": "p50_ms", "title": "p50 ms", "format": "{:.1f}"},
                    {"key": "p95_ms", "title": "p95 ms", "format": "{:.1f}"},
                    {"key": "p99_ms", "title": "p99 ms", "format": "{:.1f}"},
                    {"key": "kib_per_page", "title": "KiB", "format": "{:.1f}"},
                    {"key": "vs_static", "title": "vs static", "format": "{:.3f}"},
                ],
            },
            {
                "title": "where the CPU went (cores busy on average during the target; CPU ms per page)",
                "columns": [
                    {"key": "target", "title": "target"},
                    {"key": "queries", "title": "SQL/page"},
                    {"key": "server_cpu_cores", "title": "server", "format": "{:.2f}"},
                    {"key": "db_cpu_cores", "title": "postgres", "format": "{:.2f}"},
                    {"key": "client_cpu_cores", "title": "clients", "format": "{:.2f}"},
                    {"key": "other_cpu_cores", "title": "other", "format": "{:.2f}"},
                    {"key": "server_cpu_ms_per_page", "title": "server ms/page", "format": "{:.2f}"},
                    {"key": "db_cpu_ms_per_page", "title": "postgres ms/page", "format": "{:.2f}"},
                ],
            },
        ],
        "rows": rows,
        "notes": notes,
        "summary": summary,
        "config": {
            "database": db.engine,
            "database_label": db.label,
            "database_fresh": db.fresh,
            "clients": args.clients,
            "duration_s": duration,
            "warmup_s": warmup,
            "server": f"kehu serve (gunicorn gthread), {workers} workers × {threads} threads",
            "web_workers": workers,
            "web_threads": threads,
            "seeded_users": seeded["seeded"],
            "users_total": seeded["users"],
            "background_cpu_cores_before": background,
            "connections_opened": connects,
            "reconnects": reconnects,
        },
        "server_log_tail": server_log_tail,
    }
