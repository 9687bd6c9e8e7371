import threading
from datetime import date

import pytest
from django.db import connection, transaction

from kehu.core import numbering
from kehu.core.errors import ValidationFailed
from kehu.core.models import NumberCounter, NumberingRule


@pytest.mark.django_db
def test_sales_order_pattern_renders_the_documented_example():
    assert numbering.render("SO{yyyyMMdd}{seq:4}", date(2026, 11, 23), 1) == "SO202611230001"


@pytest.mark.django_db
def test_numbers_are_sequential_per_day_and_restart_next_day():
    NumberingRule.objects.filter(doc_type="sales_order").update(pattern="SO{yyyyMMdd}{seq:4}")
    day1, day2 = date(2026, 11, 23), date(2026, 11, 24)
    assert [numbering.next_number("sales_order", on=day1) for _ in range(3)] == [
        "SO202611230001",
        "SO202611230002",
        "SO202611230003",
    ]
    assert numbering.next_number("sales_order", on=day2) == "SO202611240001"
    assert numbering.next_number("sales_order", on=day1) == "SO202611230004"


@pytest.mark.django_db
def test_monthly_pattern_restarts_monthly_and_plain_pattern_never():
    rule = NumberingRule.objects.get(doc_type="customer")
    rule.pattern = "C{yyyyMM}-{seq:3}"
    rule.save()
    assert numbering.next_number("customer", on=date(2026, 11, 1)) == "C202611-001"
    assert numbering.next_number("customer", on=date(2026, 11, 30)) == "C202611-002"
    assert numbering.next_number("customer", on=date(2026, 12, 1)) == "C202612-001"
    rule.pattern = "K{seq:2}"
    rule.save()
    assert numbering.next_number("customer", on=date(2026, 12, 2)) == "K01"
    assert numbering.next_number("customer", on=date(2027, 1, 2)) == "K02"


@pytest.mark.django_db
def test_a_rolled_back_document_gives_its_number_back():
    day = date(2026, 11, 23)
    assert numbering.next_number("invoice", on=day).endswith("0001")
    with pytest.raises(RuntimeError), transaction.atomic():
        numbering.next_number("invoice", on=day)
        raise RuntimeError("the document failed to save")
    assert numbering.next_number("invoice", on=day).endswith("0002")


@pytest.mark.parametrize(
    "pattern",
    ["SO{yyyyMMdd}", "SO{seq:4}{seq:2}", "SO{yyyyMMdd}{seq:0}", "SO{hh}{seq:4}", "SO{seq:4", "", "X" * 61],
)
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(ValidationFailed):
        numbering.validate_pattern(pattern)


@pytest.mark.django_db
def test_unknown_document_type_is_a_clear_error():
    with pytest.raises(ValidationFailed, match="Unknown document type"):
        numbering.next_number("no_such_document")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_numbers_have_no_duplicate_and_no_gap():
    """20 threads × 50 numbers on PostgreSQL: 1000 distinct numbers, 0001…1000."""
    day = date(2026, 11, 23)
    NumberingRule.objects.filter(doc_type="sales_order").update(pattern="SO{yyyyMMdd}{seq:4}")
    results: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker():
        try:
            barrier.wait()
            mine = []
            for _ in range(50):
                with transaction.atomic():
                    mine.append(numbering.next_number("sales_order", on=day))
            with lock:
                results.extend(mine)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 1000
    assert len(set(results)) == 1000
    assert sorted(results) == [f"SO20261123{n:04d}" for n in range(1, 1001)]
    assert NumberCounter.objects.get(rule__doc_type="sales_order", period="20261123").last == 1000


@pytest.mark.django_db
def test_the_same_dates_spelled_differently_share_one_counter():
    rule = NumberingRule.objects.get(doc_type="quotation")
    rule.pattern = "QT{yyyyMMdd}{seq:3}"
    rule.save()
    day = date(2026, 11, 23)
    assert numbering.next_number("quotation", on=day) == "QT20261123001"
    rule.pattern = "QT-{yyyy}-{MM}-{dd}-{seq:3}"
    rule.save()
    assert numbering.next_number("quotation", on=day) == "QT-2026-11-23-002"
