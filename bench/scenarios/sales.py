# ruff: noqa: E501
"""The marketing module at scale: the pipeline board and mass e-mail.

Set-up, in a scratch data folder and database: ``kehu migrate``, the demo users, then (bulk
inserts) N open opportunities (default 10,000) in the supervisor's department and M customers with
one e-mail contact each (default 100,000), all owned by the account manager ``manager``.

The measuring runs in a subprocess of its own (this file with ``--worker``), Django set up on the
scratch database, calling the real view through Django's test client (middleware, session):

* the board ``sales:board`` as the supervisor (10,000 open opportunities in scope): p50/p95 of the
  first render and its query count, with 10 and with N opportunities (the count must not grow);
  baseline: the board's two data queries (column totals, ranked cards) as raw SQL on a cursor;
* queuing a mailing to the M-address segment (``services.queue_mailing``: template check, one
  INSERT … SELECT of the recipients, the job row); baseline: the bare INSERT … SELECT in SQL;
* sending K recipients (default 5,000) through ``mailer.send_mailing`` to an aiosmtpd server on
  127.0.0.1, batches over one connection each; baseline: the same number of messages blasted at the
  same server with smtplib over one connection (the server's own acceptance rate).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import support  # noqa: E402
from support import log  # noqa: E402

NAME = "sales"
DESCRIPTION = "pipeline board with 10k open opportunities; mass e-mail queued to 100k and sent over SMTP"
BOARD_BUDGET_MS = 150.0
QUEUE_BUDGET_S = 10.0


def add_arguments(parser) -> None:
    g = parser.add_argument_group("sales scenario")
    g.add_argument("--opportunities", type=int, help="open opportunities (default 10,000; --quick 2,000)")
    g.add_argument(
        "--recipients", type=int, help="customers with an e-mail (default 100,000; --quick 10,000)"
    )
    g.add_argument("--send", type=int, help="recipients actually sent over SMTP (default 5,000; --quick 500)")
    g.add_argument("--board-requests", type=int, help="board renders timed (default 40; --quick 10)")


def run(args) -> dict:
    quick = args.quick
    config = {
        "opportunities": args.opportunities or (2_000 if quick else 10_000),
        "recipients": args.recipients or (10_000 if quick else 100_000),
        "send": args.send or (500 if quick else 5_000),
        "board_requests": args.board_requests or (10 if quick else 40),
    }
    with support.workdir(args.keep) as wd:
        db = support.open_database(args.database_url, wd)
        log(f"database: {db.describe()}")
        env = support.kehu_env(db, wd)
        config.update(engine=db.engine, out=str(wd / "result.json"))
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
            if db.fresh and not args.keep:
                support.drop_database(db)
    rows = result["rows"]
    return {
        "rows": rows,
        "tables": [
            {
                "title": "sales: board, queue, send",
                "columns": [
                    {"key": "what", "title": "measure", "format": "{}"},
                    {"key": "value", "title": "Kehu", "format": "{}"},
                    {"key": "baseline", "title": "baseline", "format": "{}"},
                    {"key": "ratio", "title": "ratio", "format": "{}"},
                    {"key": "budget", "title": "budget", "format": "{}"},
                ],
            }
        ],
        "notes": result.get("notes", []),
    }


# --- the measuring subprocess ----------------------------------------------------------------


def _p(values, pct):
    return support.percentile(sorted(values), pct)


def _seed(cfg):
    import random
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from kehu.accounts.demo import load as users
    from kehu.accounts.models import User
    from kehu.core.models import DictEntry
    from kehu.customers.models import Contact, Customer
    from kehu.sales.models import Opportunity, Stage
    from kehu.sales.seeds import seed_stages

    users()
    seed_stages()
    mgr, sup = User.objects.get(username="manager"), User.objects.get(username="supervisor")
    stages = list(Stage.objects.filter(is_won=False).order_by("order"))
    rng = random.Random(7)
    today = timezone.localdate()
    t = time.perf_counter()
    with transaction.atomic():
        Opportunity.objects.bulk_create(
            [
                Opportunity(
                    number=f"BENCH{i:08d}",
                    prospect_name=f"基准公司{i}",
                    summary=f"机会{i}",
                    probability=rng.choice([10, 25, 40, 60, 80]),
                    amount=Decimal(rng.randint(1, 500) * 1000),
                    expected_close=today + timezone.timedelta(days=rng.randint(-30, 180)),
                    stage=stages[i % len(stages)],
                    status="assigned" if i % 3 else "unassigned",
                    assignee=mgr if i % 3 else None,
                    created_by=mgr if i % 2 else sup,
                    department_id=mgr.department_id,
                )
                for i in range(cfg["opportunities"])
            ],
            batch_size=5000,
        )
    log(f"seeded {cfg['opportunities']} opportunities in {time.perf_counter() - t:.1f}s")
    vip = DictEntry.objects.get(type="customer_level", code="vip")
    normal = DictEntry.objects.get(type="customer_level", code="normal")
    t = time.perf_counter()
    n = cfg["recipients"]
    for start in range(0, n, 10_000):
        with transaction.atomic():
            made = Customer.objects.bulk_create(
                [
                    Customer(
                        number=f"BC{i:09d}",
                        name=f"基准客户{i}有限公司",
                        name_key=f"jzkh{i}",
                        pinyin=f"jzkh{i}",
                        owner=mgr,
                        created_by=mgr,
                        level=vip if i < cfg["send"] else normal,
                    )
                    for i in range(start, min(n, start + 10_000))
                ],
                batch_size=5000,
            )
            Contact.objects.bulk_create(
                [
                    Contact(
                        customer=c,
                        name=f"联系人{c.number}",
                        email=f"{c.number.lower()}@bench.example",
                        is_primary=True,
                    )
                    for c in made
                ],
                batch_size=5000,
            )
    log(f"seeded {n} customers with an e-mail contact in {time.perf_counter() - t:.1f}s")
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            for table in ("sal_chance", "cst_customer", "cst_linkman"):
                cur.execute(f"ANALYZE {table}")
    return mgr, sup, vip


def _board(cfg, sup, rows, notes):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    c = Client()
    c.force_login(sup)
    c.get("/sales/board/")
    times = []
    with CaptureQueriesContext(connection) as q:
        c.get("/sales/board/")
    queries = len(q.captured_queries)
    for _ in range(cfg["board_requests"]):
        t = time.perf_counter()
        r = c.get("/sales/board/")
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    from kehu.sales.selectors import board

    data = board(sup, per_column=20)
    cards = sum(len(col["cards"]) for col in data["columns"])
    total = sum(col["count"] for col in data["columns"])
    # baseline: the board's two data queries by hand
    from kehu.sales.models import Opportunity

    dept = sup.department_id
    sql_tot = (
        "SELECT stage_id, COUNT(*), SUM(amount), SUM(amount * probability) FROM sal_chance "
        "WHERE archived_at IS NULL AND status IN ('unassigned','assigned') AND (created_by_id = %s OR department_id = %s "
        "OR assignee_id = %s) GROUP BY stage_id"
    )
    sql_cards = (
        "SELECT * FROM (SELECT c.id, c.number, c.summary, c.amount, c.probability, c.expected_close, c.stage_id, "
        "ROW_NUMBER() OVER (PARTITION BY c.stage_id ORDER BY c.amount DESC, c.id DESC) AS rn FROM sal_chance c "
        "WHERE c.archived_at IS NULL AND c.status IN ('unassigned','assigned') AND (c.created_by_id = %s OR "
        "c.department_id = %s OR c.assignee_id = %s)) s WHERE rn <= 20 ORDER BY stage_id, amount DESC"
    )
    raw = []
    for _ in range(cfg["board_requests"]):
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql_tot, [sup.pk, dept, sup.pk])
            cur.fetchall()
            cur.execute(sql_cards, [sup.pk, dept, sup.pk])
            cur.fetchall()
        raw.append((time.perf_counter() - t) * 1000)
    p95, raw95 = _p(times, 95), _p(raw, 95)
    rows.append(
        {
            "what": f"board p50 ({total} open in scope)",
            "value": f"{_p(times, 50):.1f} ms",
            "baseline": f"{_p(raw, 50):.1f} ms",
            "ratio": f"{_p(times, 50) / max(_p(raw, 50), 0.001):.1f}×",
            "budget": "",
        }
    )
    rows.append(
        {
            "what": "board p95",
            "value": f"{p95:.1f} ms",
            "baseline": f"{raw95:.1f} ms",
            "ratio": f"{p95 / max(raw95, 0.001):.1f}×",
            "budget": f"≤ {BOARD_BUDGET_MS:.0f} ms: {'OK' if p95 <= BOARD_BUDGET_MS else 'MISSES'}",
        }
    )
    rows.append(
        {
            "what": "board queries per render",
            "value": str(queries),
            "baseline": "2 (data only)",
            "ratio": "",
            "budget": f"fixed ({cards} cards shown)",
        }
    )
    notes.append(
        f"board: {Opportunity.objects.count()} opportunities in the table, {total} open in the supervisor's scope"
    )


def _queue(cfg, sup, vip, rows, notes):
    from django.db import connection, transaction

    from kehu.sales import services
    from kehu.sales.models import Recipient

    camp = services.create_campaign(by=sup, name="基准活动", segment={})
    m = services.create_mailing(camp, subject="{{ customer.name }}", body="您好 {{ contact.name }}", by=sup)
    t = time.perf_counter()
    with transaction.atomic():
        services.queue_mailing(m, by=sup, base_url="http://crm.bench.example")
    queued = time.perf_counter() - t
    n = Recipient.objects.filter(mailing=m).count()
    # baseline: the bare INSERT … SELECT of the same rows into a scratch copy of the table
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_r AS SELECT * FROM sal_mailing_recipient WHERE false")
        t = time.perf_counter()
        cur.execute(
            "INSERT INTO bench_r (id, mailing_id, customer_id, contact_id, email, email_key, status, error, "
            "response_note) SELECT l.id, %s, l.customer_id, l.id, l.email, LOWER(l.email), 'queued', '', '' "
            "FROM cst_linkman l JOIN cst_customer c ON c.id = l.customer_id WHERE c.owner_id IS NOT NULL "
            "AND l.archived_at IS NULL AND l.email <> ''",
            [m.pk],
        )
        raw = time.perf_counter() - t
        cur.execute("DROP TABLE bench_r")
    rows.append(
        {
            "what": f"queue mailing to {n} recipients",
            "value": f"{queued:.2f} s",
            "baseline": f"{raw:.2f} s",
            "ratio": f"{queued / max(raw, 0.001):.1f}×",
            "budget": f"≤ {QUEUE_BUDGET_S:.0f} s: {'OK' if queued <= QUEUE_BUDGET_S else 'MISSES'}",
        }
    )
    return camp


def _send(cfg, sup, vip, rows, notes):
    import smtplib
    import socket
    from email.message import EmailMessage

    from aiosmtpd.controller import Controller
    from django.conf import settings

    from kehu.sales import services
    from kehu.sales.mailer import send_mailing
    from kehu.sales.models import Mailing, Recipient

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        camp = services.create_campaign(by=sup, name="发送基准", segment={"level": str(vip.pk)})
        m = services.create_mailing(
            camp, subject="{{ customer.name }}", body="您好 {{ contact.name }}，{{ unsubscribe_url }}", by=sup
        )
        services.queue_mailing(m, by=sup, base_url="http://crm.bench.example")
        n = Recipient.objects.filter(mailing=m).count()
        Mailing.objects.filter(pk=m.pk).update(status="queued")
        t = time.perf_counter()
        send_mailing(m.pk)
        ours = time.perf_counter() - t
        sent = Recipient.objects.filter(mailing=m, status="sent").count()
        # the server's own acceptance rate: the same number of similar messages over one connection
        Sink.count = 0
        msg = EmailMessage()
        msg["From"], msg["Subject"] = "kehu@localhost", "基准客户0有限公司"
        msg.set_content(
            "您好 联系人，http://crm.bench.example/sales/unsubscribe/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/"
        )
        t = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                del msg["To"]
                msg["To"] = f"bc{i:09d}@bench.example"
                smtp.send_message(msg)
        raw = time.perf_counter() - t
    finally:
        ctl.stop()
    rate, raw_rate = sent / ours, n / raw
    rows.append(
        {
            "what": f"send {sent} e-mails over SMTP (loopback)",
            "value": f"{rate:.0f} /s",
            "baseline": f"{raw_rate:.0f} /s (smtplib blast)",
            "ratio": f"{rate / raw_rate:.2f} of the server's rate",
            "budget": "limited by the server",
        }
    )


def worker(config_path: str) -> None:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    cfg = json.loads(Path(config_path).read_text())
    rows, notes = [], []
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    _mgr, sup, vip = _seed(cfg)
    _board(cfg, sup, rows, notes)
    _queue(cfg, sup, vip, rows, notes)
    _send(cfg, sup, vip, rows, notes)
    for r in rows:
        print(
            f"  {r['what']:<45} {r['value']:>12}  baseline {r['baseline']:<24} {r['ratio']:<26} {r['budget']}",
            flush=True,
        )
    Path(cfg["out"]).write_text(json.dumps({"rows": rows, "notes": notes}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        sys.exit("usage: run it through bench/run.py sales (this file runs itself with --worker)")
