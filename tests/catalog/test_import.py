"""Product import: template, xlsx and GBK CSV, the dry run's bad rows with row numbers, all or
nothing, valid rows only, updates of existing products, the job and its pages."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.catalog import importing as imp
from kehu.catalog.models import Category, Product

pytestmark = pytest.mark.django_db

HEAD = [
    "商品编码*",
    "商品名称",
    "规格型号",
    "分类",
    "品牌",
    "单位",
    "标准售价",
    "税率",
    "跟踪方式",
    "保修月数",
    "数量小数位",
    "状态",
]
GOOD = [
    [
        "IPC-1",
        "研华工控机",
        "IPC-610L",
        "电脑设备/工控机",
        "研华",
        "台",
        "6,800.005",
        "13%",
        "序列号",
        "36",
        "0",
        "在售",
    ],
    ["TONER-1", "硒鼓", "88A", "耗材", "惠普", "个", "￥320", "13", "批次", "", "", "停售"],
    ["CAB-1", "网线", "CAT6", "", "", "米", "3.2", "", "无", "", "1", ""],
]
BAD = [
    ["", "没编码", "", "", "", "台", "1", "13", "无", "", "", ""],  # row: code required
    ["BAD-2", "负价", "", "", "", "台", "-1", "13", "无", "", "", ""],
    ["BAD-3", "税率", "", "", "", "台", "1", "130", "无", "", "", ""],
    ["BAD-4", "小数", "", "", "", "台", "1", "13", "无", "", "9", ""],
    ["BAD-5", "单位", "", "", "", "吨吨", "1", "13", "无", "", "", ""],
    ["IPC-1", "重复编码", "", "", "", "台", "1", "13", "无", "", "", ""],
    ["BAD-7", "跟踪", "", "", "", "台", "1", "13", "按心情", "", "", ""],
    ["BAD-8", "=SUM(A1)", "", "", "", "台", "1", "13", "无", "", "", ""],
]


def xlsx(rows, head=HEAD) -> SimpleUploadedFile:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(head)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("products.xlsx", buf.getvalue())


def csv_file(rows, encoding="gbk", head=HEAD) -> SimpleUploadedFile:
    text = "\r\n".join(",".join(f'"{c}"' if "," in c else c for c in r) for r in [head, *rows]) + "\r\n"
    return SimpleUploadedFile("products.csv", text.encode(encoding))


def _checked(user, upload, update_existing=False):
    session = imp.ProductImport.start(user=user, upload=upload)
    report = session.check(by=user, update_existing=update_existing)
    return session, report


def test_good_file_gbk_csv(demo):
    user = demo["warehouse"]
    session, report = _checked(user, csv_file(GOOD, "gbk"))
    assert session.meta["encoding"] == "GBK"
    assert report["bad_rows"] == 0 and report["creates"] == 3
    assert report["new_categories"] == ["电脑设备", "电脑设备 / 工控机", "耗材"]
    assert not Product.objects.exists()  # the dry run writes nothing
    result = session.execute(by=user, mode=imp.ALL_OR_NOTHING)
    assert result["created"] == 3
    ipc = Product.objects.get(code="IPC-1")
    assert ipc.list_price == Decimal("6800.01") and ipc.tax_rate == Decimal("13.00")
    assert ipc.tracking == "serial" and ipc.warranty_months == 36 and ipc.unit.code == "set"
    assert ipc.category.name == "工控机" and ipc.category.parent.name == "电脑设备"
    assert ipc.pinyin == "yhgkj" and ipc.name_key
    toner = Product.objects.get(code="TONER-1")
    assert (toner.tracking, toner.is_active, toner.category.name) == ("batch", False, "耗材")
    cable = Product.objects.get(code="CAB-1")
    assert (cable.quantity_decimals, cable.unit.code, cable.category) == (1, "m", None)
    # importing the same file again: every code exists now
    session2, report2 = _checked(user, csv_file(GOOD, "utf-8-sig"))
    assert report2["bad_rows"] == 3
    assert {e[3] for e in session2.problems()} == {"The product code exists already."}


def test_bad_rows_with_row_numbers_and_all_or_nothing(demo):
    user = demo["supervisor"]
    session, report = _checked(user, xlsx(GOOD + BAD))
    assert report["rows"] == 11 and report["bad_rows"] == 8
    errors = {row: (column, message) for row, column, _value, message in session.problems()}
    # row 1 = headings; GOOD fills rows 2-4, BAD rows 5-12
    assert "required" in errors[5][1]
    assert "negative" in errors[6][1] and errors[6][0] == "标准售价"
    assert "between 0 and 100" in errors[7][1]
    assert "between 0 and 4" in errors[8][1]
    assert "unit" in errors[9][1]
    assert "row 2 of this file" in errors[10][1]
    assert "Tracking" in errors[11][1]
    assert "formula" in errors[12][1]
    result = session.execute(by=user, mode=imp.ALL_OR_NOTHING)
    assert result["imported"] == 0 and "Nothing was imported" in result["summary"]
    assert not Product.objects.exists() and not Category.objects.exists()


def test_valid_rows_only(demo):
    user = demo["warehouse"]
    session, _report = _checked(user, xlsx(GOOD + BAD))
    result = session.execute(by=user, mode=imp.VALID_ONLY)
    assert (result["created"], result["skipped"]) == (3, 8)
    assert set(Product.objects.values_list("code", flat=True)) == {"IPC-1", "TONER-1", "CAB-1"}
    with pytest.raises(Exception, match="imported already"):
        session.execute(by=user, mode=imp.VALID_ONLY)


def test_update_existing_products(demo, make_product):
    user = demo["warehouse"]
    p = make_product(code="IPC-1", name="旧名字", spec="旧型号", list_price=Decimal("1"))
    head = ["编码", "标准售价", "品牌"]
    session, report = _checked(user, xlsx([["ipc-1", "7000", "研华"]], head=head), update_existing=True)
    assert (report["updates"], report["creates"], report["bad_rows"]) == (1, 0, 0)
    session.execute(by=user, mode=imp.ALL_OR_NOTHING, update_existing=True)
    p.refresh_from_db()
    assert (p.list_price, p.brand, p.name, p.code) == (Decimal("7000.00"), "研华", "旧名字", "IPC-1")


def test_duplicate_name_and_spec_is_a_warning(demo, make_product):
    make_product(code="OLD", name="研华工控机", spec="IPC-610L")
    session, report = _checked(demo["warehouse"], xlsx(GOOD))
    assert report["bad_rows"] == 0 and report["warnings"] == 1
    assert "OLD" in session.problems("warnings")[0][3]


def test_file_errors(demo):
    user = demo["warehouse"]
    with pytest.raises(imp.ImportFileError, match="old Excel"):
        imp.ProductImport.start(
            user=user, upload=SimpleUploadedFile("x.xls", b"\xd0\xcf\x11\xe0" + b"0" * 100)
        )
    with pytest.raises(imp.ImportFileError, match="no rows"):
        imp.ProductImport.start(user=user, upload=csv_file([]))
    session = imp.ProductImport.start(user=user, upload=xlsx([["X", "Y"]], head=["奇怪", "列"]))
    with pytest.raises(imp.ImportFileError, match="no column"):
        session.check(by=user)
    from kehu.core.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        imp.ProductImport.start(user=demo["manager"], upload=xlsx(GOOD))


def test_pages_and_job(demo, client_for, django_capture_on_commit_callbacks):
    c = client_for("warehouse")
    assert c.get(reverse("catalog:import")).status_code == 200
    tpl = c.get(reverse("catalog:import_template"))
    assert tpl.status_code == 200
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(tpl.content))
    headings = [cell.value for cell in wb.active[1]]
    assert headings[0].startswith("Code") and len(headings) == len(imp.FIELDS)
    r = c.post(reverse("catalog:import"), {"file": xlsx(GOOD + BAD[:2])})
    assert r.status_code == 302
    review = r.url
    page = c.get(review)
    assert page.status_code == 200
    data = {"action": "check"}
    for i, key in enumerate(page.context["session"].mapping):
        data[f"col-{i}"] = key
    assert c.post(review, {"action": "guess"}).status_code == 404  # no such action
    no_mode = c.post(review, {"action": "run"})  # the run form needs a mode: the page again
    assert no_mode.status_code == 200 and no_mode.context["run_form"].errors
    r = c.post(review, data)
    assert r.status_code == 302 and r.url.endswith("#report")
    assert "2 of 5 rows have errors." in [str(m) for m in c.get(review).context["messages"]]
    page = c.get(review)
    assert page.context["report"]["bad_rows"] == 2
    assert [row[0] for row in page.context["page"].object_list] == [5, 6]
    errors = c.get(page.context["session"].urls["errors"])
    assert errors.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(review, {"action": "run", "mode": "valid"})
    assert r.status_code == 302
    from kehu.core.models import Job

    job = Job.objects.get(name="catalog.import")
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["created"] == 3
    assert Product.objects.count() == 3
    # another user cannot open this import; a user without the right gets 403
    assert client_for("supervisor").get(review).status_code == 404
    assert client_for("manager").get(reverse("catalog:import")).status_code == 403
    from auditlog.models import LogEntry

    assert LogEntry.objects.filter(additional_data__kind="products").count() == 1
