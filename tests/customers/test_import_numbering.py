"""The import's fast paths compute exactly what the one-at-a-time code computes: blocks of
document numbers, normalised names and pinyin initials."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.core import numbering
from kehu.core.models import NumberCounter, NumberingRule
from kehu.customers.importing import name_key, pinyin_key
from kehu.customers.normalize import COMPANY_SUFFIXES, normalize_company_name, pinyin_initials

DAY = date(2026, 11, 23)


@pytest.mark.django_db
def test_reserved_blocks_and_single_numbers_interleave_without_duplicates_or_gaps():
    NumberingRule.objects.filter(doc_type="customer").update(pattern="C{yyyyMM}{seq:5}")
    issued = [numbering.next_number("customer", on=DAY)]
    issued += numbering.reserve_numbers("customer", 3, on=DAY)
    issued.append(numbering.next_number("customer", on=DAY))
    assert numbering.reserve_numbers("customer", 0, on=DAY) == []
    issued += numbering.reserve_numbers("customer", 2, on=DAY)
    issued.append(numbering.next_number("customer", on=DAY))
    assert issued == [f"C202611{n:05d}" for n in range(1, 9)]
    # a rolled-back block is given back, as a rolled-back single number is
    with transaction.atomic():
        assert numbering.reserve_numbers("customer", 1000, on=DAY)[-1] == "C20261101008"
        transaction.set_rollback(True)
    assert numbering.next_number("customer", on=DAY) == "C20261100009"
    # a new period starts again at 1; more numbers than the digits allow simply grow longer
    assert numbering.reserve_numbers("customer", 2, on=date(2026, 12, 1)) == ["C20261200001", "C20261200002"]
    NumberingRule.objects.filter(doc_type="customer").update(pattern="K{seq:2}-{yy}")
    block = numbering.reserve_numbers("customer", 100, on=DAY)
    assert block[0] == "K01-26" and block[98] == "K99-26" and block[99] == "K100-26"
    assert numbering.next_number("customer", on=DAY) == "K101-26"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_blocks_and_single_numbers_have_no_duplicate_and_no_gap():
    """10 threads, each taking blocks of 7 and single numbers in turn, on PostgreSQL."""
    NumberingRule.objects.filter(doc_type="customer").update(pattern="C{yyyyMMdd}{seq:5}")
    results: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def worker():
        try:
            barrier.wait()
            mine = []
            for i in range(10):
                with transaction.atomic():
                    if i % 2:
                        mine += numbering.reserve_numbers("customer", 7, on=DAY)
                    else:
                        mine.append(numbering.next_number("customer", on=DAY))
            with lock:
                results.extend(mine)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [f"C20261123{n:05d}" for n in range(1, 401)]
    assert NumberCounter.objects.get(rule__doc_type="customer", period="20261123").last == 400


NAMES = [
    "北京华夏科技有限公司",
    "北京华夏科技有限责任公司",
    "北京 华夏科技（有限公司）",
    "重庆长安汽车股份有限公司",
    "长沙银行",
    "中国银行（香港）有限公司",
    "Huaxia Technology Co., Ltd.",
    "ACME Inc.",
    "有限公司",
    "公司",
    "Ｃｏ．，Ｌｔｄ．",
    "乐乐音乐工作室",
    "朝阳区朝阳门外大街",
    "〇一二三",
    "",
    "  ",
    "张三",
    "单田芳",
]
ALPHABET = (
    "北京上海重庆长沙银行行长乐音朝阳区中华人民共和国有限责任公司股份集团科技东方明珠单曾"
    "ABCabcxyz0123 .,-（）()【】・'\"/_ｂ〇é"
)


@pytest.mark.parametrize("name", NAMES + COMPANY_SUFFIXES)
def test_the_fast_keys_equal_normalize(name):
    assert name_key(name) == normalize_company_name(name)
    assert pinyin_key(name) == pinyin_initials(name)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*COMPANY_SUFFIXES, *ALPHABET]), max_size=12).map("".join))
def test_the_fast_keys_equal_normalize_for_any_text(name):
    assert name_key(name) == normalize_company_name(name)
    assert pinyin_key(name) == pinyin_initials(name)
