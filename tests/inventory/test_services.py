"""The one door for stock and the documents built on it: every bad input changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from kehu.core.errors import IllegalTransition, ValidationFailed
from kehu.inventory import services as s
from kehu.inventory.models import (
    DocStatus,
    SerialEvent,
    SerialUnit,
    StockBalance,
    StockMove,
    StockNote,
    Stocktake,
)

from .conftest import issue, qty, receive

pytestmark = pytest.mark.django_db
D = Decimal


def sn(n, prefix="SN"):
    return [f"{prefix}{i:05d}" for i in range(1, n + 1)]


def assert_ledger_equals_balances():
    assert s.check_stock() == []
    assert s.serial_differences() == []
    assert s.month_total_differences() == []


# --- post_movements ------------------------------------------------------------------------------


def test_receive_and_issue_write_ledger_and_balance(wh, products, keeper):
    p = products["plain"]
    receive(p, wh["a"], 10, by=keeper, cost="2.50")
    issue(p, wh["a"], 4, by=keeper)
    assert qty(p, wh["a"]) == 6
    moves = list(StockMove.objects.order_by("pk"))
    assert [m.quantity for m in moves] == [10, -4]
    assert [m.balance_after for m in moves] == [10, 6]
    assert moves[1].unit_cost == D("2.5") and moves[1].amount == D("-10.00")
    bal = StockBalance.objects.get(product=p, warehouse=wh["a"])
    assert bal.value == D("15.00")
    assert_ledger_equals_balances()


def test_issuing_more_than_available_is_refused_and_changes_nothing(wh, products, keeper):
    p = products["plain"]
    receive(p, wh["a"], 3, by=keeper, cost=1)
    with pytest.raises(s.InsufficientStock) as err:
        issue(p, wh["a"], 4, by=keeper)
    assert err.value.code == "insufficient_stock"
    assert "P-PLAIN" in str(err.value) and "上海总仓" in str(err.value)
    assert err.value.details["available"] == "3"
    assert qty(p, wh["a"]) == 3 and StockMove.objects.count() == 1
    # nothing in the other warehouse either
    with pytest.raises(s.InsufficientStock):
        issue(p, wh["b"], 1, by=keeper)


def test_reserved_stock_is_not_available(wh, products, keeper):
    p = products["plain"]
    receive(p, wh["a"], 5, by=keeper, cost=1)
    s.reserve(p, wh["a"], 3, by=keeper)
    with pytest.raises(s.InsufficientStock):
        issue(p, wh["a"], 3, by=keeper)
    s.post_movements(
        [s.Line(p, wh["a"], D(-3), from_reserved=True)],
        reason="sales_issue",
        document=s.SourceDoc("test", 1, "X"),
        by=keeper,
    )
    bal = StockBalance.objects.get(product=p, warehouse=wh["a"])
    assert bal.quantity == 2 and bal.reserved == 0


@pytest.mark.parametrize("bad", ["0", "1.5", "abc", "NaN"])
def test_bad_quantities(wh, products, keeper, bad):
    with pytest.raises(ValidationFailed):
        receive(products["plain"], wh["a"], bad, by=keeper, cost=1)
    with pytest.raises(ValidationFailed):
        s.create_note(
            kind="receipt",
            warehouse=wh["a"],
            reason="purchase_receipt",
            lines=[{"product": products["plain"], "quantity": bad}],
            by=keeper,
        )
    assert StockMove.objects.count() == 0


def test_quantity_decimals_follow_the_unit(wh, products, keeper):
    kg = products["kg"]
    receive(kg, wh["a"], "1.25", by=keeper, cost=10)
    with pytest.raises(ValidationFailed) as err:
        receive(kg, wh["a"], "1.255", by=keeper, cost=10)
    assert "2 decimal" in str(err.value)
    assert qty(kg, wh["a"]) == D("1.25")


def test_the_database_forbids_a_negative_balance(wh, products):
    bal = StockBalance.objects.create(product=products["plain"], warehouse=wh["a"])
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(pk=bal.pk).update(quantity=D("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(pk=bal.pk).update(reserved=D("1"))


def test_ledger_rows_are_immutable(wh, products, keeper):
    move = receive(products["plain"], wh["a"], 1, by=keeper, cost=1)[0]
    move.quantity = D("5")
    with pytest.raises(Exception, match="immutable"):
        move.save()
    with pytest.raises(Exception, match="immutable"):
        move.delete()


def test_moving_average_cost(wh, products, keeper):
    p = products["plain"]
    receive(p, wh["a"], 10, by=keeper, cost="10")
    receive(p, wh["b"], 10, by=keeper, cost="20")
    p.refresh_from_db()
    assert p.avg_cost == D("15")
    issue(p, wh["a"], 5, by=keeper)  # at the average: the average stays
    p.refresh_from_db()
    assert p.avg_cost == D("15")
    receive(p, wh["a"], 5, by=keeper, cost="7")  # 15 × 15 + 5 × 7 = 260 / 20 = 13
    p.refresh_from_db()
    assert p.avg_cost == D("13")
    assert StockMove.objects.filter(quantity__lt=0).first().amount == D("-75.00")


def test_batch_products_need_a_batch(wh, products, keeper):
    with pytest.raises(ValidationFailed):
        receive(products["batch"], wh["a"], 5, by=keeper, cost=1)
    receive(products["batch"], wh["a"], 5, by=keeper, cost=1, batch="B1")
    receive(products["batch"], wh["a"], 2, by=keeper, cost=1, batch="B2")
    with pytest.raises(s.InsufficientStock):
        issue(products["batch"], wh["a"], 3, by=keeper, batch="B2")
    assert qty(products["batch"], wh["a"], "B1") == 5


# --- serial units ---------------------------------------------------------------------------------


def test_serial_receipt_creates_units_and_history(wh, products, keeper):
    p = products["serial"]
    receive(p, wh["a"], 3, by=keeper, cost=100, serials=sn(3))
    units = SerialUnit.objects.filter(product=p)
    assert units.count() == 3 and set(units.values_list("status", flat=True)) == {"in_stock"}
    assert SerialEvent.objects.count() == 3
    assert_ledger_equals_balances()


def test_serial_count_must_match_quantity(wh, products, keeper):
    with pytest.raises(s.SerialError) as err:
        receive(products["serial"], wh["a"], 3, by=keeper, cost=1, serials=sn(2))
    assert err.value.details["expected"] == 3 and err.value.details["given"] == 2
    assert SerialUnit.objects.count() == 0 and StockMove.objects.count() == 0


def test_serial_duplicated_in_the_note(wh, products, keeper):
    with pytest.raises(s.SerialError) as err:
        receive(products["serial"], wh["a"], 2, by=keeper, cost=1, serials=["A1", "A1"])
    assert err.value.details["serials"]["A1"] == "listed twice"
    assert SerialUnit.objects.count() == 0


def test_serial_already_in_stock(wh, products, keeper):
    receive(products["serial"], wh["a"], 2, by=keeper, cost=1, serials=["A1", "A2"])
    with pytest.raises(s.SerialError) as err:
        receive(products["serial"], wh["b"], 2, by=keeper, cost=1, serials=["A2", "A3"])
    assert err.value.details["serials"] == {"A2": "already in stock"}
    assert not SerialUnit.objects.filter(serial="A3").exists()
    assert qty(products["serial"], wh["b"]) == 0


def test_serial_of_another_product(wh, products, keeper):
    receive(products["serial2"], wh["a"], 1, by=keeper, cost=1, serials=["X1"])
    with pytest.raises(s.SerialError) as err:
        issue(products["serial"], wh["a"], 1, by=keeper, serials=["X1"])
    assert "another product" in err.value.details["serials"]["X1"]
    # unique per product by default: the same serial may be received for another product …
    receive(products["serial"], wh["a"], 1, by=keeper, cost=1, serials=["X1"])
    assert SerialUnit.objects.filter(serial="X1").count() == 2


def test_globally_unique_serials(wh, products, keeper, demo):
    from kehu.core.settings_store import set_setting

    set_setting("inventory.serials_globally_unique", 1, by=demo["admin"])
    receive(products["serial2"], wh["a"], 1, by=keeper, cost=1, serials=["G1"])
    with pytest.raises(s.SerialError) as err:
        receive(products["serial"], wh["a"], 1, by=keeper, cost=1, serials=["G1"])
    assert "another product" in err.value.details["serials"]["G1"]
    assert SerialUnit.objects.get(serial="G1").global_key == "G1"


def test_delivered_serial_cannot_be_issued_or_received_again(wh, products, keeper, customer):
    p = products["serial"]
    receive(p, wh["a"], 2, by=keeper, cost=1, serials=["D1", "D2"])
    issue(p, wh["a"], 1, by=keeper, serials=["D1"], customer=customer)
    unit = SerialUnit.objects.get(serial="D1")
    assert unit.status == "delivered" and unit.customer == customer and unit.warehouse is None
    assert unit.warranty_start is not None
    assert unit.warranty_end.year * 12 + unit.warranty_end.month == (
        unit.warranty_start.year * 12 + unit.warranty_start.month + 12
    )
    with pytest.raises(s.SerialError) as err:
        issue(p, wh["a"], 1, by=keeper, serials=["D1"])
    assert err.value.details["serials"]["D1"] == "delivered to a customer"
    with pytest.raises(s.SerialError) as err:
        receive(p, wh["a"], 1, by=keeper, cost=1, serials=["D1"])
    assert err.value.details["serials"]["D1"] == "delivered to a customer"
    with pytest.raises(s.SerialError):
        issue(p, wh["b"], 1, by=keeper, serials=["D2"])  # D2 is in warehouse A
    assert_ledger_equals_balances()


def test_customer_return_and_loan(wh, products, keeper, customer):
    p = products["serial"]
    receive(p, wh["a"], 2, by=keeper, cost=1, serials=["R1", "R2"])
    issue(p, wh["a"], 1, by=keeper, serials=["R1"], customer=customer)
    receive(p, wh["b"], 1, by=keeper, serials=["R1"], reason="customer_return")
    unit = SerialUnit.objects.get(serial="R1")
    assert unit.status == "returned" and unit.warehouse == wh["b"] and unit.warranty_start is not None
    issue(p, wh["a"], 1, by=keeper, serials=["R2"], reason="loan_out", customer=customer)
    assert SerialUnit.objects.get(serial="R2").status == "loaned"
    receive(p, wh["a"], 1, by=keeper, serials=["R2"], reason="loan_return")
    assert SerialUnit.objects.get(serial="R2").status == "in_stock"
    with pytest.raises(s.SerialError):
        receive(p, wh["a"], 1, by=keeper, serials=["R2"], reason="customer_return")
    assert_ledger_equals_balances()


def test_a_bad_serial_rolls_back_the_whole_posting(wh, products, keeper):
    p, q = products["serial"], products["plain"]
    receive(p, wh["a"], 1, by=keeper, cost=1, serials=["B1"])
    with pytest.raises(s.SerialError):
        s.post_movements(
            [
                s.Line(q, wh["a"], D(5), unit_cost=1),
                s.Line(p, wh["a"], D(2), unit_cost=1, serials=["B1", "B2"]),
            ],
            reason="purchase_receipt",
            document=s.SourceDoc("test", None, "T"),
            by=keeper,
        )
    assert qty(q, wh["a"]) == 0 and not SerialUnit.objects.filter(serial="B2").exists()


def test_generate_serials():
    assert s.generate_serials("IPC", date(2026, 11, 23), 9, 3) == [
        "IPC202611230009",
        "IPC202611230010",
        "IPC202611230011",
    ]
    with pytest.raises(ValidationFailed):
        s.generate_serials("IPC", date(2026, 11, 23), 1, 0)


def test_parse_serials():
    assert s.parse_serials("a1\r\n a2 ,a3;\n\n\ta4") == ["a1", "a2", "a3", "a4"]


# --- stock notes ------------------------------------------------------------------------------------


def _receipt(wh, product, quantity, keeper, serials="", cost="10"):
    return s.create_note(
        kind="receipt",
        warehouse=wh,
        reason="purchase_receipt",
        partner="深圳供应商",
        lines=[{"product": product, "quantity": quantity, "unit_cost": cost, "serials": serials}],
        by=keeper,
    )


def test_note_draft_post_and_read_only(wh, products, keeper):
    note = _receipt(wh["a"], products["serial"], 3, keeper, serials="\n".join(sn(3)))
    assert note.number.startswith("RK") and note.status == DocStatus.DRAFT
    s.post_note(note, by=keeper)
    note.refresh_from_db()
    assert note.status == DocStatus.POSTED and note.posted_by == keeper
    assert SerialUnit.objects.get(serial="SN00001").supplier == "深圳供应商"
    with pytest.raises(IllegalTransition):
        s.update_note(
            note,
            warehouse=wh["a"],
            reason="purchase_receipt",
            lines=[{"product": products["plain"], "quantity": 1}],
            by=keeper,
        )
    with pytest.raises(IllegalTransition):
        s.post_note(note, by=keeper)
    with pytest.raises(IllegalTransition):
        s.cancel_note(note, by=keeper)


def test_note_with_too_few_serials_is_not_posted(wh, products, keeper):
    note = _receipt(wh["a"], products["serial"], 3, keeper, serials="A\nB")
    with pytest.raises(s.SerialError):
        s.post_note(note, by=keeper)
    note.refresh_from_db()
    assert note.status == DocStatus.DRAFT and StockMove.objects.count() == 0


def test_note_rejects_bad_lines(wh, products, keeper):
    for lines in (
        [],
        [{"product": products["plain"], "quantity": "0"}],
        [{"product": products["plain"], "quantity": "-2"}],
        [{"product": products["plain"], "quantity": "1.5"}],
        [{"product": products["plain"], "quantity": "1", "serials": "X"}],
        [{"product": products["serial"], "quantity": "2", "serials": "X\nX"}],
        [{"product": products["plain"], "quantity": "1", "unit_cost": "-1"}],
    ):
        with pytest.raises(ValidationFailed):
            s.create_note(
                kind="receipt", warehouse=wh["a"], reason="purchase_receipt", lines=lines, by=keeper
            )
    with pytest.raises(ValidationFailed):  # an issue reason on a receipt
        s.create_note(
            kind="receipt",
            warehouse=wh["a"],
            reason="scrap",
            lines=[{"product": products["plain"], "quantity": 1}],
            by=keeper,
        )
    assert StockNote.objects.count() == 0


def test_issue_note_more_than_available(wh, products, keeper):
    note = s.create_note(
        kind="issue",
        warehouse=wh["a"],
        reason="other_issue",
        lines=[{"product": products["plain"], "quantity": 2}],
        by=keeper,
    )
    assert note.number.startswith("CK")
    with pytest.raises(s.InsufficientStock):
        s.post_note(note, by=keeper)
    note.refresh_from_db()
    assert note.status == DocStatus.DRAFT


def test_reversal_of_a_receipt(wh, products, keeper):
    p = products["plain"]
    note = _receipt(wh["a"], p, 10, keeper, cost="4")
    s.post_note(note, by=keeper)
    rev = s.reverse_note(note, by=keeper)
    note.refresh_from_db()
    assert note.status == DocStatus.REVERSED and rev.reverses == note and rev.kind == "issue"
    assert qty(p, wh["a"]) == 0
    assert StockBalance.objects.get(product=p, warehouse=wh["a"]).value == 0
    with pytest.raises(IllegalTransition):
        s.reverse_note(note, by=keeper)
    with pytest.raises(IllegalTransition):
        s.reverse_note(rev, by=keeper)
    assert_ledger_equals_balances()


def test_reversal_of_a_serial_receipt_voids_the_units(wh, products, keeper):
    note = _receipt(wh["a"], products["serial"], 2, keeper, serials="V1\nV2")
    s.post_note(note, by=keeper)
    rev = s.reverse_note(note, by=keeper)
    assert rev.lines.get().serial_list == ["V1", "V2"]
    assert set(SerialUnit.objects.values_list("status", flat=True)) == {"voided"}
    # the serials may be received again
    s.post_note(_receipt(wh["a"], products["serial"], 2, keeper, serials="V1\nV2"), by=keeper)
    assert set(SerialUnit.objects.values_list("status", flat=True)) == {"in_stock"}
    assert_ledger_equals_balances()


def test_reversal_fails_when_the_stock_is_gone(wh, products, keeper):
    p = products["plain"]
    note = _receipt(wh["a"], p, 5, keeper)
    s.post_note(note, by=keeper)
    issue(p, wh["a"], 3, by=keeper)
    with pytest.raises(s.InsufficientStock):
        s.reverse_note(note, by=keeper)
    note.refresh_from_db()
    assert note.status == DocStatus.POSTED and StockNote.objects.count() == 1


def test_reversal_of_a_sales_issue_restores_the_units(wh, products, keeper, customer):
    p = products["serial"]
    receive(p, wh["a"], 1, by=keeper, cost=1, serials=["W1"])
    note = s.create_note(
        kind="issue",
        warehouse=wh["a"],
        reason="sales_issue",
        customer=customer,
        lines=[{"product": p, "quantity": 1, "serials": "W1"}],
        by=keeper,
    )
    s.post_note(note, by=keeper)
    assert SerialUnit.objects.get(serial="W1").customer == customer
    s.reverse_note(note, by=keeper)
    unit = SerialUnit.objects.get(serial="W1")
    assert unit.status == "in_stock" and unit.customer is None and unit.warranty_start is None


# --- transfers ------------------------------------------------------------------------------------


def test_transfer_moves_both_sides_together(wh, products, keeper):
    p, q = products["plain"], products["serial"]
    receive(p, wh["a"], 10, by=keeper, cost=3)
    receive(q, wh["a"], 2, by=keeper, cost=50, serials=["T1", "T2"])
    tr = s.create_transfer(
        from_warehouse=wh["a"],
        to_warehouse=wh["b"],
        by=keeper,
        lines=[{"product": p, "quantity": 4}, {"product": q, "quantity": 1, "serials": "T2"}],
    )
    assert tr.number.startswith("DB")
    s.post_transfer(tr, by=keeper)
    assert qty(p, wh["a"]) == 6 and qty(p, wh["b"]) == 4
    assert SerialUnit.objects.get(serial="T2").warehouse == wh["b"]
    assert StockMove.objects.filter(doc_type="transfer").count() == 4
    p.refresh_from_db()
    assert p.avg_cost == 3
    with pytest.raises(IllegalTransition):
        s.post_transfer(tr, by=keeper)
    assert_ledger_equals_balances()


def test_transfer_to_the_same_warehouse_is_refused(wh, products, keeper):
    with pytest.raises(ValidationFailed) as err:
        s.create_transfer(
            from_warehouse=wh["a"],
            to_warehouse=wh["a"],
            by=keeper,
            lines=[{"product": products["plain"], "quantity": 1}],
        )
    assert err.value.code == "same_warehouse"


def test_transfer_short_of_stock_moves_nothing(wh, products, keeper):
    p = products["plain"]
    receive(p, wh["a"], 1, by=keeper, cost=3)
    tr = s.create_transfer(
        from_warehouse=wh["a"], to_warehouse=wh["b"], by=keeper, lines=[{"product": p, "quantity": 2}]
    )
    with pytest.raises(s.InsufficientStock):
        s.post_transfer(tr, by=keeper)
    assert qty(p, wh["a"]) == 1 and qty(p, wh["b"]) == 0


# --- stocktakes -----------------------------------------------------------------------------------


def test_stocktake_variance_and_posting(wh, products, keeper):
    p, kg = products["plain"], products["kg"]
    receive(p, wh["a"], 10, by=keeper, cost=2)
    receive(kg, wh["a"], "5.5", by=keeper, cost=2)
    st = s.start_stocktake(warehouse=wh["a"], by=keeper)
    assert st.number.startswith("PD")
    lines = {ln.product_id: ln for ln in st.lines.all()}
    assert lines[p.pk].book_quantity == 10
    s.enter_counts(st, [{"product": p, "quantity": 8}, {"product": kg, "quantity": "5.75"}], by=keeper)
    s.post_stocktake(st, by=keeper)
    assert qty(p, wh["a"]) == 8 and qty(kg, wh["a"]) == D("5.75")
    st.refresh_from_db()
    assert st.status == Stocktake.Status.POSTED
    with pytest.raises(IllegalTransition):
        s.post_stocktake(st, by=keeper)
    with pytest.raises(IllegalTransition):
        s.enter_counts(st, [{"product": p, "quantity": 1}], by=keeper)
    assert StockMove.objects.filter(reason="stocktake").count() == 2
    assert_ledger_equals_balances()


def test_stocktake_with_movements_during_the_count(wh, products, keeper):
    """Snapshot 10; 3 issued before the count (the counter sees 7, counts 7: no variance);
    then 2 more issued after the count (not a variance either)."""
    p = products["plain"]
    receive(p, wh["a"], 10, by=keeper, cost=2)
    st = s.start_stocktake(warehouse=wh["a"], by=keeper)
    issue(p, wh["a"], 3, by=keeper)
    s.enter_counts(st, [{"product": p, "quantity": 7}], by=keeper)
    line = st.lines.get(product=p)
    assert line.book_quantity == 10 and line.moved_quantity == -3 and line.variance == 0
    issue(p, wh["a"], 2, by=keeper)
    moves = s.post_stocktake(st, by=keeper)
    assert moves == [] and qty(p, wh["a"]) == 5
    # a real shortage after movements: counted 4 of expected 5
    st2 = s.start_stocktake(warehouse=wh["a"], by=keeper)
    receive(p, wh["a"], 1, by=keeper, cost=2)
    s.enter_counts(st2, [{"product": p, "quantity": 5}], by=keeper)
    s.post_stocktake(st2, by=keeper)
    assert qty(p, wh["a"]) == 5  # 6 on the book, 5 counted
    assert_ledger_equals_balances()


def test_stocktake_bad_counts(wh, products, keeper):
    receive(products["kg"], wh["a"], 1, by=keeper, cost=1)
    st = s.start_stocktake(warehouse=wh["a"], by=keeper)
    for bad in ("-1", "1.001", "x"):
        with pytest.raises(ValidationFailed):
            s.enter_counts(st, [{"product": products["kg"], "quantity": bad}], by=keeper)
    with pytest.raises(ValidationFailed):
        s.enter_counts(st, [{"product": products["serial"], "quantity": 1}], by=keeper)


def test_stocktake_serials(wh, products, keeper, customer):
    p = products["serial"]
    receive(p, wh["a"], 4, by=keeper, cost=10, serials=["S1", "S2", "S3", "S4"])
    receive(p, wh["b"], 1, by=keeper, cost=10, serials=["S9"])
    st = s.start_stocktake(warehouse=wh["a"], by=keeper)
    assert st.serials.filter(in_book=True).count() == 4
    issue(p, wh["a"], 1, by=keeper, serials=["S4"], customer=customer)  # shipped during the count
    res = s.count_serials(st, ["S1", "S2", "S1", "S9", "NOPE"], by=keeper)
    assert res["counted"] == 2 and set(res["errors"]) == {"S9", "NOPE"}
    moves = s.post_stocktake(st, by=keeper)
    assert len(moves) == 1 and moves[0].quantity == -1  # S3 is lost; S4 was shipped, not lost
    assert SerialUnit.objects.get(serial="S3").status == "lost"
    assert SerialUnit.objects.get(serial="S4").status == "delivered"
    assert qty(p, wh["a"]) == 2
    # a lost unit that turns up is received again
    receive(p, wh["a"], 1, by=keeper, serials=["S3"], reason="other_receipt")
    assert SerialUnit.objects.get(serial="S3").status == "in_stock"
    assert_ledger_equals_balances()


def test_stocktake_by_category(wh, products, keeper):
    from kehu.catalog.models import Category

    cat = Category.objects.create(name="线缆")
    sub = Category.objects.create(name="网线", parent=cat)
    products["plain"].category = sub
    products["plain"].save()
    receive(products["plain"], wh["a"], 1, by=keeper, cost=1)
    receive(products["kg"], wh["a"], 1, by=keeper, cost=1)
    st = s.start_stocktake(warehouse=wh["a"], category=cat, by=keeper)
    assert [ln.product_id for ln in st.lines.all()] == [products["plain"].pk]


# --- check-stock --------------------------------------------------------------------------------


def test_check_stock_command_clean_and_corrupted(wh, products, keeper, capsys):
    from django.core.management import call_command

    receive(products["plain"], wh["a"], 5, by=keeper, cost=1)
    call_command("check-stock")
    assert "0 differences" in capsys.readouterr().out
    StockBalance.objects.filter(product=products["plain"]).update(quantity=D("4"))
    with pytest.raises(SystemExit) as exit_:
        call_command("check-stock")
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "P-PLAIN" in out and "1 difference" in out


def test_check_stock_reports_a_month_total_that_differs_from_the_ledger(wh, products, keeper, capsys):
    from django.core.management import call_command
    from django.utils import timezone

    from kehu.inventory.models import StockMonthTotal

    receive(products["plain"], wh["a"], 5, by=keeper, cost=2)
    issue(products["plain"], wh["a"], 2, by=keeper)
    period = timezone.localdate().strftime("%Y%m")
    total = StockMonthTotal.objects.get(period=period, product=products["plain"], warehouse=wh["a"])
    assert (total.received, total.received_value, total.issued, total.issued_value) == (5, 10, 2, 4)
    StockMonthTotal.objects.filter(pk=total.pk).update(issued=D("1"))
    with pytest.raises(SystemExit):
        call_command("check-stock")
    out = capsys.readouterr().out
    assert f"{period} P-PLAIN @ WA: month totals in 5" in out and "out 1.0000" in out
    assert "1 difference" in out
    call_command("close-stock-periods", "--rebuild-totals")
    assert "Month totals rebuilt from the ledger: 1 rows." in capsys.readouterr().out
    call_command("check-stock")
    assert "0 differences" in capsys.readouterr().out


# --- safety stock ----------------------------------------------------------------------------------


def test_safety_stock(wh, products, keeper):
    from kehu.inventory.selectors import safety_alerts

    p = products["plain"]
    s.set_safety_stock(p, wh["a"], minimum=5, by=keeper)
    receive(p, wh["a"], 3, by=keeper, cost=1)
    alerts = list(safety_alerts())
    assert [(a["product"].code, a["quantity"], a["minimum"]) for a in alerts] == [("P-PLAIN", 3, 5)]
    receive(p, wh["a"], 3, by=keeper, cost=1)
    assert list(safety_alerts()) == []
    with pytest.raises(ValidationFailed):
        s.set_safety_stock(p, wh["a"], minimum=5, maximum=2, by=keeper)
    with pytest.raises(ValidationFailed):
        s.set_safety_stock(p, wh["a"], minimum=-1, by=keeper)
    assert s.set_safety_stock(p, wh["a"], minimum=0, by=keeper) is None


def test_warehouse_rules(wh, products, keeper):
    from kehu.inventory.models import Warehouse

    with pytest.raises(ValidationFailed):
        s.save_warehouse(Warehouse(code="wa", name="dup"), by=keeper)
    receive(products["plain"], wh["a"], 1, by=keeper, cost=1)
    with pytest.raises(Exception, match="still holds stock"):
        s.archive_warehouse(wh["a"], by=keeper)
    s.archive_warehouse(wh["b"], by=keeper)
    wh["b"].refresh_from_db()
    with pytest.raises(ValidationFailed):
        s.create_note(
            kind="receipt",
            warehouse=wh["b"],
            reason="purchase_receipt",
            lines=[{"product": products["plain"], "quantity": 1}],
            by=keeper,
        )


def test_serial_lines_follow_their_units_batches(wh, products, keeper, customer):
    p = products["serial"]
    receive(p, wh["a"], 2, by=keeper, cost=1, serials=["L1", "L2"], batch="B1")
    receive(p, wh["a"], 1, by=keeper, cost=1, serials=["L3"], batch="B2")
    issue(p, wh["a"], 3, by=keeper, serials=["L1", "L2", "L3"], customer=customer)  # no batch named
    assert qty(p, wh["a"], "B1") == 0 and qty(p, wh["a"], "B2") == 0
    assert_ledger_equals_balances()


def test_monthly_summary_with_and_without_a_closed_month(wh, products, keeper):
    from datetime import timedelta

    from django.utils import timezone

    from kehu.inventory.models import StockPeriod
    from kehu.inventory.selectors import monthly_summary

    p = products["plain"]
    now = timezone.now()
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    two_ago = (last_month - timedelta(days=1)).replace(day=1)

    def at(d, days=2):
        return timezone.make_aware(timezone.datetime(d.year, d.month, 1 + days, 10, 0))

    def post(qty, when, cost=None):
        s.post_movements(
            [s.Line(p, wh["a"], D(qty), unit_cost=cost)],
            reason="other_receipt" if qty > 0 else "other_issue",
            document=s.SourceDoc("test", None, "X"),
            by=keeper,
            at=when,
        )

    post(10, at(two_ago), cost=2)
    post(-3, at(last_month))
    post(5, at(last_month, 5), cost=2)
    post(-1, now)

    def figures():
        rows = monthly_summary(last_month.year, last_month.month)
        r = next(r for r in rows if r.product == p)
        return r.opening, r.received, r.issued, r.closing, r.closing_value

    slow = figures()
    assert slow == (10, 5, 3, 12, D("24.00"))
    s.close_period(two_ago.year, two_ago.month)
    assert StockPeriod.objects.filter(period=two_ago.strftime("%Y%m")).exists()
    assert figures() == slow
    # a movement posted back into the closed month reopens it; the figures stay right
    post(4, at(two_ago, 10), cost=2)
    assert not StockPeriod.objects.exists()
    assert figures()[0] == 14
    s.close_period(two_ago.year, two_ago.month)
    assert figures() == (14, 5, 3, 16, D("32.00"))
    with pytest.raises(ValidationFailed):
        s.close_period(this_month.year, this_month.month)
    assert s.close_all_periods() >= 2


def test_a_closed_month_reads_its_stored_figures(wh, products, keeper):
    from datetime import timedelta

    from django.utils import timezone

    from kehu.inventory.models import StockPeriodBalance
    from kehu.inventory.selectors import monthly_summary

    p = products["plain"]
    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    when = timezone.make_aware(timezone.datetime(last_month.year, last_month.month, 3, 9, 0))
    for q in (8, -3):
        s.post_movements(
            [s.Line(p, wh["a"], D(q), unit_cost=5 if q > 0 else None)],
            reason="other_receipt" if q > 0 else "other_issue",
            document=s.SourceDoc("test", None, "X"),
            by=keeper,
            at=when,
        )
    before = [
        (r.opening, r.received, r.issued, r.closing, r.closing_value)
        for r in monthly_summary(last_month.year, last_month.month)
    ]
    s.close_period(last_month.year, last_month.month)
    row = StockPeriodBalance.objects.get(product=p)
    assert (row.quantity, row.received, row.issued, row.value) == (5, 8, 3, D("25.00"))
    after = [
        (r.opening, r.received, r.issued, r.closing, r.closing_value)
        for r in monthly_summary(last_month.year, last_month.month)
    ]
    assert before == after == [(0, 8, 3, 5, D("25.00"))]


def test_every_month_summary_equals_the_ledger_whatever_is_closed(wh, products, keeper):
    """Random movements over six months, posted out of order; the summary of every month, with no
    month closed, some closed and all closed, equals a sum over the ledger rows themselves."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from kehu.inventory.models import StockMove
    from kehu.inventory.selectors import monthly_summary

    rng = random.Random(7)
    months = [timezone.localdate().replace(day=1)]
    for _ in range(5):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    plain, kg = products["plain"], products["kg"]
    for _ in range(60):
        m = rng.choice(months)
        when = timezone.make_aware(timezone.datetime(m.year, m.month, rng.randint(1, 27), rng.randint(0, 23)))
        when = min(when, timezone.now())
        p, w = rng.choice([plain, kg]), rng.choice([wh["a"], wh["b"]])
        q = D(rng.randint(1, 9))
        if rng.random() < 0.4 and qty(p, w) >= q:
            q = -q
        s.post_movements(
            [s.Line(p, w, q, unit_cost=D(rng.randint(1, 5)) if q > 0 else None)],
            reason="other_receipt" if q > 0 else "other_issue",
            document=s.SourceDoc("test", None, "X"),
            by=keeper,
            at=when,
        )
    assert_ledger_equals_balances()
    ledger = list(
        StockMove.objects.values_list("product_id", "warehouse_id", "quantity", "amount", "created_at")
    )

    def expected(m):
        start, end = s.month_bounds(m.year, m.month)
        out = {}
        for pid, wid, q, a, at in ledger:
            if at >= end:
                continue
            r = out.setdefault((pid, wid), [D(0)] * 8)
            if at < start:
                r[0] += q
                r[1] += a
            elif q > 0:
                r[2] += q
                r[3] += a
            else:
                r[4] -= q
                r[5] -= a
        for r in out.values():
            r[6], r[7] = r[0] + r[2] - r[4], r[1] + r[3] - r[5]
        return {k: tuple(v) for k, v in out.items() if any(v)}

    def got(m):
        return {
            (r.product.pk, r.warehouse.pk): (
                r.opening,
                r.opening_value,
                r.received,
                r.received_value,
                r.issued,
                r.issued_value,
                r.closing,
                r.closing_value,
            )
            for r in monthly_summary(m.year, m.month)
        }

    def check():
        for m in months:
            assert got(m) == expected(m), m

    check()
    s.close_period(months[1].year, months[1].month)  # forward from it, backward from the balances
    check()
    s.close_period(months[3].year, months[3].month)
    check()
    assert s.close_all_periods() == 5
    check()
    # filters: one warehouse, some products
    m = months[4]
    rows = monthly_summary(m.year, m.month, warehouse_id=wh["b"].pk, product_ids=[kg.pk])
    assert {(r.product.pk, r.warehouse.pk) for r in rows} <= {(kg.pk, wh["b"].pk)}
    assert [r.closing for r in rows] == [v[6] for k, v in expected(m).items() if k == (kg.pk, wh["b"].pk)]
