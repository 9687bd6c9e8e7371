"""Real concurrency on PostgreSQL: threads racing for the last units and for the same draft."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from kehu.core.errors import DomainError
from kehu.inventory import services as s
from kehu.inventory.models import SerialUnit, StockBalance, StockMove, StockNote

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run(n, work):
    results, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            barrier.wait()
            out = work(i)
            with lock:
                results.append(out)
        except Exception as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def _setup():
    from kehu.accounts.demo import load
    from kehu.accounts.models import User
    from kehu.catalog.models import Product
    from kehu.inventory.models import Warehouse

    load()
    keeper = User.objects.get(username="warehouse")
    wh = Warehouse.objects.create(code="RACE", name="并发仓")
    plain = Product.objects.create(code="R-PLAIN", name="网线")
    serial = Product.objects.create(code="R-SN", name="工控机", tracking="serial")
    return keeper, wh, plain, serial


def test_16_clients_issue_from_the_last_100_serial_units():
    keeper, wh, _plain, serial = _setup()
    serials = [f"R{i:04d}" for i in range(100)]
    s.post_movements(
        [s.Line(serial, wh, Decimal(100), unit_cost=10, serials=serials)],
        reason="purchase_receipt",
        document=s.SourceDoc("test", None, "IN"),
        by=keeper,
    )

    # 16 clients; each serial is wanted by 4 of them (client i tries serials i*25 … i*25+24, modulo 100)
    def work(i):
        ok, refused = 0, []
        for k in range(25):
            sn = serials[(i * 25 + k) % 100]
            try:
                s.post_movements(
                    [s.Line(serial, wh, Decimal(-1), serials=[sn])],
                    reason="sales_issue",
                    document=s.SourceDoc("test", None, f"OUT{i}"),
                    by=keeper,
                )
                ok += 1
            except DomainError as exc:
                refused.append((exc.code, exc.details.get("serials", {}).get(sn)))
        return ok, refused

    results, errors = _run(16, work)
    assert not errors, errors
    assert sum(ok for ok, _r in results) == 100
    refused = [x for _o, r in results for x in r]
    assert len(refused) == 300 and set(refused) == {("invalid_serials", "delivered to a customer")}
    bal = StockBalance.objects.get(product=serial, warehouse=wh)
    assert bal.quantity == 0
    assert SerialUnit.objects.filter(status="delivered").count() == 100
    assert StockMove.objects.filter(quantity__lt=0).count() == 100
    assert s.check_stock() == [] and s.serial_differences() == [] and s.month_total_differences() == []


def test_16_clients_issue_the_last_100_untracked_units():
    keeper, wh, plain, _serial = _setup()
    s.post_movements(
        [s.Line(plain, wh, Decimal(100), unit_cost=1)],
        reason="purchase_receipt",
        document=s.SourceDoc("test", None, "IN"),
        by=keeper,
    )

    def work(i):
        ok = short = 0
        for _ in range(10):
            try:
                s.post_movements(
                    [s.Line(plain, wh, Decimal(-1))],
                    reason="other_issue",
                    document=s.SourceDoc("test", None, f"OUT{i}"),
                    by=keeper,
                )
                ok += 1
            except s.InsufficientStock:
                short += 1
        return ok, short

    results, errors = _run(16, work)
    assert not errors, errors
    assert sum(o for o, _s in results) == 100 and sum(x for _o, x in results) == 60
    assert StockBalance.objects.get(product=plain, warehouse=wh).quantity == 0
    assert s.check_stock() == [] and s.month_total_differences() == []


def test_two_users_post_the_same_draft():
    keeper, wh, plain, _serial = _setup()
    from kehu.accounts.models import User

    admin = User.objects.get(username="admin")
    note = s.create_note(
        kind="receipt",
        warehouse=wh,
        reason="purchase_receipt",
        lines=[{"product": plain, "quantity": 5, "unit_cost": 2}],
        by=keeper,
    )
    users = [keeper, admin]

    def work(i):
        try:
            s.post_note(StockNote.objects.get(pk=note.pk), by=users[i])
            return "posted"
        except DomainError as exc:
            return exc.code

    results, errors = _run(2, work)
    assert not errors
    assert sorted(results) == ["not_draft", "posted"]
    assert StockBalance.objects.get(product=plain, warehouse=wh).quantity == 5
    assert StockMove.objects.count() == 1


def test_two_receipts_race_for_the_same_new_serial():
    keeper, wh, _plain, serial = _setup()

    def work(i):
        try:
            s.post_movements(
                [s.Line(serial, wh, Decimal(1), unit_cost=1, serials=["SAME"])],
                reason="purchase_receipt",
                document=s.SourceDoc("test", None, f"IN{i}"),
                by=keeper,
            )
            return "ok"
        except DomainError as exc:
            return exc.code

    results, errors = _run(4, work)
    assert not errors, errors
    assert results.count("ok") == 1 and results.count("invalid_serials") == 3
    assert StockBalance.objects.get(product=serial, warehouse=wh).quantity == 1
    assert s.serial_differences() == []
