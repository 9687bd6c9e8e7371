"""How fast the import is: a measurement printed with ``-s``, not a timed assertion.

    KEHU_TESTING=1 .venv/bin/pytest tests/customers/test_import_speed.py -s
    KEHU_IMPORT_ROWS=100000 KEHU_TESTING=1 .venv/bin/pytest tests/customers/test_import_speed.py -s -k csv

The test database is SQLite in memory (shared cache); a file database in WAL mode, as installed, is
somewhat faster.  Wall and CPU time are both printed: on a busy machine they differ."""

from __future__ import annotations

import csv
import io
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.customers import importing
from kehu.customers.models import Contact, Customer

WORDS = "华夏东方恒信天成瑞丰金桥中科博远鼎盛新锐宏达创新永和嘉禾海纳万通九州远航合众蓝天晨光同创志诚卓越"


def rows(n: int, contacts: bool = True):
    """Distinct customers: a name, phone, address, level, region, tax number, a tag and (with
    ``contacts``) a contact with mobile and e-mail."""
    head = ["客户名称", "电话", "地址", "等级", "地区", "税号", "标签"]
    yield head + (["联系人", "手机", "邮箱"] if contacts else [])
    for i in range(n):
        w = WORDS[i % 30] + WORDS[(i // 30) % 30] + WORDS[(i // 900) % 30]
        row = [
            f"北京{w}{i}科技有限公司",
            f"010-6{i:07d}",
            "北京市海淀区中关村大街1号",
            "重点客户",
            "华北",
            f"91110{i:013d}",
            "老客户",
        ]
        yield row + (["张三", f"139{i:08d}", f"a{i}@example.cn"] if contacts else [])


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


# Measurement, not a timed assertion: run with -s to see the figures.
@pytest.mark.parametrize("fmt,contacts", [("csv", False), ("csv", True), ("xlsx", True)])
def test_measure_20000_rows(fmt, contacts, demo):
    n = int(os.environ.get("KEHU_IMPORT_ROWS", "20000"))
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows(rows(n, contacts))
        data = buf.getvalue().encode("utf-8")
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        for r in rows(n, contacts):
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        data = out.getvalue()
    by = demo["manager"]
    # warm up once (imports, the URL configuration, pypinyin's dictionaries), as a running server is
    warm_up = io.StringIO()
    csv.writer(warm_up).writerows([["客户名称"], ["预热有限公司"]])
    warm = importing.ImportSession.start(
        user=by, files={"customers": SimpleUploadedFile("warm.csv", warm_up.getvalue().encode())}
    )
    warm.check(by=by)
    warm.execute(by=by, mode=importing.ALL_OR_NOTHING)
    Customer.objects.all().delete()
    clock = []

    def tick():
        clock.append((time.perf_counter(), time.process_time()))

    tick()
    session = importing.ImportSession.start(
        user=by, files={"customers": SimpleUploadedFile(f"big.{fmt}", data)}
    )
    tick()
    rep = session.check(by=by)
    tick()
    result = session.execute(by=by, mode=importing.ALL_OR_NOTHING)
    tick()
    assert rep["bad_rows"] == 0 and result["customers"] == n
    assert Customer.objects.count() == n and Contact.objects.count() == (n if contacts else 0)
    steps = ["read", "dry run", "import job"]
    figures = []
    for step, (start, end) in zip(steps, zip(clock, clock[1:], strict=False), strict=True):
        wall, cpu = end[0] - start[0], end[1] - start[1]
        figures.append(f"{step} {wall:.2f}s ({n / wall:,.0f} rows/s; CPU {cpu:.2f}s, {n / cpu:,.0f} rows/s)")
    shape = "with a contact each" if contacts else "without contacts"
    print(f"\n{fmt}, {n} rows {shape}: " + "; ".join(figures))
