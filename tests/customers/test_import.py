"""Customer import: upload, mapping, dry run, the job, bad files and rights."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from kehu.core.models import DictEntry, Job
from kehu.customers import importing, services
from kehu.customers.models import Contact, Customer
from kehu.customers.normalize import normalize_company_name, normalize_phone, pinyin_initials

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


# --- helpers --------------------------------------------------------------------------------------


def xlsx_file(rows, name="customers.xlsx") -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=XLSX)


def csv_file(rows, name="customers.csv", encoding="utf-8-sig", delimiter=",") -> SimpleUploadedFile:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    return SimpleUploadedFile(name, buf.getvalue().encode(encoding), content_type="text/csv")


def upload(client, customers=None, contacts=None):
    data = {}
    if customers is not None:
        data["customers_file"] = customers
    if contacts is not None:
        data["contacts_file"] = contacts
    return client.post(reverse("customers:import"), data)


def page_errors(response) -> str:
    import re

    html = response.content.decode()
    return " | ".join(
        re.sub(r"<[^>]+>", " ", m)
        for m in re.findall(
            r'class="(?:alert alert-danger|invalid-feedback)[^"]*"[^>]*>(.*?)</div>', html, re.S
        )
    )


def session_of(response) -> importing.ImportSession:
    assert response.status_code == 302, page_errors(response)
    pk = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return importing.ImportSession.open(pk)


def mapping_post(session, **changes) -> dict:
    data = {"action": "check"}
    for kind in session.kinds():
        for i, key in enumerate(session.files[kind]["mapping"]):
            data[f"{kind}-{i}"] = key
    data.update(changes)
    return data


def check(client, session, **changes):
    return client.post(
        reverse("customers:import_review", args=[session.pk_uuid]), mapping_post(session, **changes)
    )


def run(client, session, mode, capture):
    with capture(execute=True):
        response = client.post(
            reverse("customers:import_review", args=[session.pk_uuid]), {"action": "run", "mode": mode}
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    job = Job.objects.get(pk=importing.ImportSession.open(session.pk).job_id)
    assert response["Location"] == job.get_absolute_url()
    return job


def report(session):
    return importing.ImportSession.open(session.pk).report


def errors(session):
    return importing.ImportSession.open(session.pk).errors()


HEAD_ZH = [
    "客户名称",
    "简称",
    "客户类型",
    "等级",
    "地区",
    "行业",
    "来源",
    "状态",
    "信用度",
    "满意度",
    "地址",
    "电话",
    "传真",
    "网址",
    "邮编",
    "法人代表",
    "注册资本",
    "年营业额",
    "开户银行",
    "银行账号",
    "税号",
    "期初应收",
    "标签",
    "备注",
    "客户经理",
    "联系人",
    "性别",
    "职务",
    "手机",
    "联系人电话",
    "邮箱",
    "微信",
    "生日",
]


def zh_row(name, phone="", tax="", owner="", contact="", mobile="", **more):
    values = dict(zip(HEAD_ZH, [""] * len(HEAD_ZH), strict=True))
    values.update(
        {"客户名称": name, "电话": phone, "税号": tax, "客户经理": owner, "联系人": contact, "手机": mobile}
    )
    values.update(more)
    return [values[h] for h in HEAD_ZH]


# --- the happy paths ------------------------------------------------------------------------------


def test_xlsx_with_chinese_headings_through_dry_run_and_job(
    demo, client_for, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    rows = [
        HEAD_ZH,
        zh_row(
            "北京华夏科技有限公司",
            phone="010-6552 1234",
            tax="91110000ma01abcd1x",
            contact="张明",
            mobile="+86 138-0013-8000",
            简称="华夏",
            客户类型="公司",
            等级="重点客户",
            地区="north",
            行业="Information technology",
            来源="展会",
            状态="签约",
            信用度="4",
            满意度=5,
            注册资本="1,000.50",
            年营业额=2000,
            期初应收="-12.345",
            标签="老客户，高潜力",
            性别="男",
            职务="总经理",
            邮箱="zm@hx.cn",
            生日="1980/5/6",
        ),
        ["张三丰", "", "个人", "", "", "", "", "", "", "", "", "13900139000"],
        [],  # an empty row: skipped, the numbering of the rows below stays the spreadsheet's
        zh_row("上海东方贸易有限公司", contact="李雷", mobile="13700137000"),
        zh_row("", contact="韩梅梅", mobile="13600136000"),  # a second contact of the customer above
    ]
    response = upload(client, customers=xlsx_file(rows))
    session = session_of(response)
    assert session.files["customers"]["mapping"][:3] == ["name", "short_name", "kind"]
    assert session.files["customers"]["rows"] == 4
    page = client.get(response["Location"])
    assert page.status_code == 200 and "客户名称" in page.content.decode()

    response = check(client, session)
    assert response.status_code == 302
    rep = report(session)
    assert rep["bad_rows"] == 0, errors(session)
    assert (rep["customers"], rep["contacts"]) == (3, 3)
    assert Customer.objects.count() == 0  # a dry run saves nothing
    assert "Every row is valid" in client.get(response["Location"]).content.decode()

    job = run(client, session, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["summary"] == "Created 3 customers and 3 contacts, skipped 0 rows."
    assert job.percent == 100 and (job.done, job.total) == (8, 8)  # checking, then writing: 2 × 4 rows
    hx = Customer.objects.get(name="北京华夏科技有限公司")
    assert hx.owner == demo["manager"] and hx.created_by == demo["manager"] and hx.assigned_at
    assert hx.name_key == normalize_company_name(hx.name) and hx.pinyin == pinyin_initials(hx.name)
    assert hx.pinyin_short == pinyin_initials("华夏")
    assert hx.phone_key == normalize_phone("010-6552 1234") and hx.tax_number == "91110000MA01ABCD1X"
    assert (hx.level.code, hx.region.code, hx.industry.code, hx.source.code) == (
        "key",
        "north",
        "it",
        "exhibition",
    )
    assert (hx.status, hx.kind, hx.credit_rating, hx.satisfaction) == ("signed", "company", 4, 5)
    assert hx.registered_capital == Decimal("1000.50") and hx.opening_receivable == Decimal("-12.35")
    assert sorted(t.name for t in hx.tags.all()) == ["老客户", "高潜力"]
    zm = hx.contacts.get()
    assert (zm.name, zm.gender, zm.title, zm.mobile_key, zm.email, str(zm.birthday), zm.is_primary) == (
        "张明",
        "m",
        "总经理",
        "13800138000",
        "zm@hx.cn",
        "1980-05-06",
        True,
    )
    person = Customer.objects.get(name="张三丰")
    assert person.kind == "individual" and person.phone == "13900139000"
    east = Customer.objects.get(name="上海东方贸易有限公司")
    assert [(c.name, c.is_primary) for c in east.contacts.order_by("pk")] == [
        ("李雷", True),
        ("韩梅梅", False),
    ]
    numbers = sorted(Customer.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 3 and numbers[-1].endswith("00003")
    assert services.find_duplicates(name="北京华夏科技") and services.find_duplicates(phone="13600136000")
    entry = LogEntry.objects.get(object_pk=str(job.pk), content_type__model="job")  # one entry for the import
    assert entry.actor == demo["manager"] and entry.additional_data["import"] == session.pk
    assert entry.changes_dict["customers"][1] == "3" and entry.additional_data["customer_numbers"] == [
        numbers[0],
        numbers[-1],
    ]
    # the job page shows the summary; the same file cannot be imported twice
    assert "Created 3 customers" in client.get(job.get_absolute_url()).content.decode()
    again = client.post(
        reverse("customers:import_review", args=[session.pk_uuid]),
        {"action": "run", "mode": "all"},
        follow=True,
    )
    assert "imported already" in again.content.decode() and Customer.objects.count() == 3


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_or_gbk_with_english_headings(
    encoding, demo, client_for, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    rows = [
        ["Name", "Short name", "Phone", "Level", "Status", "Tags", "Contact", "Mobile", "E-mail", "Notes"],
        [
            "深圳恒信电子有限公司",
            "恒信",
            "0755-8888 1234",
            "Key account",
            "Prospect",
            "价格敏感",
            "王芳",
            "13500135000",
            "wf@hengxin.cn",
            "备注：老朋友介绍",
        ],
        ["广州瑞丰机械有限公司", "", "020-3333 4444", "普通客户", "dormant", "", "", "", "", ""],
    ]
    session = session_of(upload(client, customers=csv_file(rows, encoding=encoding)))
    info = session.files["customers"]
    assert info["format"] == "csv" and info["encoding"] == ("GBK" if encoding == "gbk" else "UTF-8")
    assert info["mapping"] == [
        "name",
        "short_name",
        "phone",
        "level",
        "status",
        "tags",
        "contact_name",
        "contact_mobile",
        "contact_email",
        "notes",
    ]
    check(client, session)
    assert report(session)["bad_rows"] == 0, errors(session)
    job = run(client, session, "valid", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.result["customers"] == 2 and job.result["contacts"] == 1
    hx = Customer.objects.get(name="深圳恒信电子有限公司")
    assert hx.notes == "备注：老朋友介绍" and hx.level.code == "key" and hx.contacts.get().name == "王芳"
    assert Customer.objects.get(name="广州瑞丰机械有限公司").status == "dormant"


# --- the template ---------------------------------------------------------------------------------


def _sheet(response):
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    return load_workbook(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )


def test_template_has_headings_an_example_and_the_allowed_values(
    demo, client_for, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    page = client.get(reverse("customers:import")).content.decode()
    assert reverse("customers:import_template") in page and "?kind=contacts" in page and 'type="file"' in page
    wb = _sheet(client.get(reverse("customers:import_template")))
    ws, values = wb.worksheets
    head = [c.value for c in ws[1]]
    assert head[0] == "Name *" and "Owner" in head and "Contact" in head and "Tax number" in head
    example = dict(zip(head, [c.value for c in ws[2]], strict=True))
    assert example["Name *"] == "北京华夏科技有限公司" and example["Owner"] == "manager"
    assert example["Level"] == "Strategic"
    allowed = {col[0].value: [c.value for c in col[1:] if c.value] for col in values.iter_cols()}
    assert "Key account" in allowed["Customer level"] and "North China" in allowed["Region"]
    assert allowed["Owners you may choose"] == ["manager"]

    client.cookies["kehu_language"] = "zh-hans"
    response = client.get(reverse("customers:import_template"))
    zh = _sheet(response).worksheets[0]
    assert [c.value for c in zh[1]][:3] == ["客户名称 *", "简称", "客户类型"]
    # the template, filled in as it comes, imports: one customer with one contact
    response.content = b"".join(response.streaming_content) if response.streaming else response.content
    session = session_of(upload(client, customers=SimpleUploadedFile("模板.xlsx", response.content)))
    assert "" not in session.files["customers"]["mapping"]  # every heading is recognised
    check(client, session)
    assert report(session)["bad_rows"] == 0, errors(session)
    job = run(client, session, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    c = Customer.objects.get()
    assert (c.name, c.level.code, c.owner, c.contacts.get().name) == (
        "北京华夏科技有限公司",
        "vip",
        demo["manager"],
        "张三",
    )

    contacts = _sheet(client.get(reverse("customers:import_template") + "?kind=contacts")).worksheets[0]
    assert [c.value for c in contacts[1]][:3] == ["客户编号", "客户名称", "联系人 *"]
    assert client.get(reverse("customers:import_template") + "?kind=nothing").status_code == 404


# --- mapping and missing columns ------------------------------------------------------------------


def test_an_unrecognised_heading_is_mapped_by_hand(demo, client_for):
    client = client_for("manager")
    session = session_of(
        upload(
            client, customers=csv_file([["公司全称", "Phone"], ["深圳鼎盛科技有限公司", "0755-1234 5678"]])
        )
    )
    assert session.files["customers"]["mapping"] == ["", "phone"]
    page = client.get(reverse("customers:import_review", args=[session.pk_uuid])).content.decode()
    assert "公司全称" in page and "深圳鼎盛科技有限公司" in page  # the heading and an example value
    response = check(client, session)
    assert response.status_code == 200 and report(session) is None
    assert "The file has no column for “Customer name”" in response.content.decode()
    response = check(client, session, **{"customers-0": "name"})
    assert response.status_code == 302 and report(session)["customers"] == 1
    response = check(client, session, **{"customers-0": "name", "customers-1": "name"})
    assert "Two columns are mapped to “Customer name”" in response.content.decode()


def test_a_missing_required_column_is_a_clear_error_and_nothing_is_imported(
    demo, client_for, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    session = session_of(upload(client, customers=csv_file([["电话", "地址"], ["010-12345678", "北京"]])))
    response = check(client, session)
    html = response.content.decode()
    assert "The file has no column for “Customer name” (heading 客户名称 or Name)" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("customers:import_review", args=[session.pk_uuid]),
            {"action": "run", "mode": "all"},
            follow=True,
        )
    assert "Run the check first." in response.content.decode()
    assert Customer.objects.count() == 0 and Job.objects.count() == 0
    contacts = session_of(upload(client, contacts=csv_file([["联系人", "手机"], ["张三", "13800138000"]])))
    html = check(client, contacts).content.decode()
    assert "needs a column with the customer number (客户编号) or the customer name (客户名称)" in html


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("u16.csv", "客户名称,电话\n北京华夏,010-1\n".encode("utf-16"), "encoded as UTF-16"),
        ("u16.csv", "客户名称,电话\n北京华夏,010-1\n".encode("utf-16-le"), "encoded as UTF-16"),
        ("logo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200), "This is not a spreadsheet"),
        ("latin1.csv", "Name\ncafé à la carte\n".encode("latin-1"), "neither UTF-8 nor GBK"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "old Excel file (.xls)"),
        ("fake.xlsx", b"PK\x03\x04" + b"not really a zip", "cannot be read"),
        ("empty.csv", b"", "The submitted file is empty."),
        ("blank.csv", b"\n\n", "The file is empty."),
        ("head.csv", "客户名称,电话\n\n".encode(), "headings but no rows"),
        ("blank-first.csv", "\n客户名称\n北京华夏\n".encode(), "Row 1 must hold the column headings."),
    ],
)
def test_files_that_cannot_be_read_get_a_clear_error(name, content, message, demo, client_for, settings):
    response = upload(client_for("manager"), customers=SimpleUploadedFile(name, content))
    assert response.status_code == 200
    assert message in page_errors(response)
    if name != "empty.csv":  # Django's own check of empty uploads does not name the file
        assert f"{name}: " in page_errors(response)
    assert not any((settings.DATA_DIR / "imports").glob("*/meta.json"))


def test_a_workbook_that_unpacks_to_too_much_is_refused(demo, client_for, monkeypatch):
    monkeypatch.setattr(importing, "MAX_UNPACKED_BYTES", 4000)
    big = xlsx_file([["客户名称", "备注"]] + [[f"公司{i}", "重复的内容" * 20] for i in range(50)])
    assert big.size < 8000
    response = upload(client_for("manager"), customers=big)
    assert "The workbook unpacks to more than 0 MB; split it into smaller files." in page_errors(response)


def test_too_many_rows_are_refused(demo, client_for, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    rows = [["客户名称"]] + [[f"公司{i}"] for i in range(4)]
    response = upload(client_for("manager"), customers=csv_file(rows))
    assert "The file has more than 3 rows. Split it into smaller files." in page_errors(response)


def test_a_file_over_the_limit_is_refused_before_it_is_read(demo, client_for, monkeypatch):
    monkeypatch.setattr(importing, "MAX_BYTES", 1024 * 1024)
    big = csv_file([["客户名称", "备注"]] + [[f"公司{i}", "x" * 100] for i in range(11000)], name="big.csv")
    assert big.size > 1024 * 1024
    response = upload(client_for("manager"), customers=big)
    assert response.status_code == 200
    assert (
        f"big.csv has {big.size / 1024 / 1024:.1f} MB; an import file may have at most 1 MB"
        in page_errors(response)
    )


def test_a_50_mb_file_is_refused_without_reading_it(demo, tmp_path, monkeypatch):
    """A real 50 MB + 1 byte file (sparse: no memory, no disk), handed to the import as Django
    hands an upload: refused on its size, never opened for parsing."""
    from django.core.files import File

    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)
    monkeypatch.setattr(importing, "read_table", lambda *a: pytest.fail("the file was parsed"))
    with open(path, "rb") as fh, pytest.raises(importing.ImportFileError) as exc:
        importing.ImportSession.start(user=demo["manager"], files={"customers": File(fh, name="huge.csv")})
    assert "huge.csv has 50.0 MB; an import file may have at most 50 MB" in str(exc.value)
    form_data = {"customers_file": SimpleUploadedFile("huge.csv", b"x")}
    from kehu.customers.import_views import UploadForm

    form = UploadForm({}, form_data)
    form_data["customers_file"].size = 50 * 1024 * 1024 + 1
    assert not form.is_valid() and "at most 50 MB" in str(form.errors["customers_file"])


# --- formulas, bad values, duplicates -------------------------------------------------------------


def test_formulas_are_bad_rows_with_their_row_and_column(demo, client_for):
    client = client_for("manager")
    rows = [
        ["客户名称", "电话", "随便"],
        ['=HYPERLINK("http://evil.example","点我")', "010-12345678", ""],
        [],
        ["上海晨光文具有限公司", "=1+1", ""],
        ["广州蓝天科技有限公司", "020-12345678", "=SUM(A1:A3)"],  # a formula in a column that is not imported
    ]
    session = session_of(upload(client, customers=xlsx_file(rows)))
    assert session.files["customers"]["mapping"] == ["name", "phone", ""]
    check(client, session)
    assert [e[1:3] for e in errors(session)] == [[2, "客户名称"], [4, "电话"]]
    assert {e[4] for e in errors(session)} == {"Formulas are not allowed: type the value itself."}
    assert report(session)["customers"] == 1
    csv_session = session_of(
        upload(client, customers=csv_file([["Name"], ["=cmd|' /C calc'!A0"], ["OK Ltd"]]))
    )
    check(client, csv_session)
    assert [e[1] for e in errors(csv_session)] == [2]


@pytest.fixture
def hx(demo):
    """北京华夏科技有限公司 (manager's), phone 010-6552 1234, a tax number and a contact."""
    c = services.create_customer(
        by=demo["manager"],
        name="北京华夏科技有限公司",
        phone="010-6552 1234",
        tax_number="91110000MA01ABCD1X",
    )
    services.save_contact(Contact(customer=c, name="张明", mobile="+86 138-0013-8000"), by=demo["manager"])
    return c


def test_duplicates_all_or_nothing_imports_nothing_then_valid_rows_only(
    hx, demo, client_for, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    rows = [
        ["客户名称", "电话", "税号"],
        ["北京华夏科技有限责任公司", "", ""],  # 2: the name of an existing customer
        ["天津新锐贸易有限公司", "(010) 6552 1234", ""],  # 3: its phone
        ["重庆长安科技有限公司", "138 0013 8000", ""],  # 4: its contact's mobile
        ["成都天成电子有限公司", "", "91110000ma01abcd1x"],  # 5: its tax number
        ["苏州博远机械有限公司", "", ""],  # 6
        ["苏州博远机械（有限公司）", "", ""],  # 7: row 6 again
        ["无锡宏达物流有限公司", "0510-8888 0001", ""],  # 8
        ["无锡九州物流有限公司", "0510 88880001", ""],  # 9: row 8's phone
        ["南京金桥科技有限公司", "", "91320100MA1234567X"],  # 10
        ["杭州金桥科技有限公司", "", "91320100MA1234567X"],  # 11: row 10's tax number
    ]
    session = session_of(upload(client, customers=csv_file(rows)))
    response = check(client, session)
    rep = report(session)
    assert (rep["rows"], rep["bad_rows"], rep["customers"]) == (10, 7, 3)
    found = {e[1]: e[4] for e in errors(session)}
    number = hx.number
    assert found == {
        2: f"Same name as the existing customer {number} 北京华夏科技有限公司.",
        3: f"Same phone as the existing customer {number} 北京华夏科技有限公司.",
        4: f"Same phone as the existing customer {number} 北京华夏科技有限公司.",
        5: f"Same tax number as the existing customer {number} 北京华夏科技有限公司.",
        7: "Same name as row 6.",
        9: "Same phone as row 8.",
        11: "Same tax number as row 10.",
    }
    html = client.get(response["Location"]).content.decode()
    assert "7 problems found." in html and "Same phone as row 8." in html
    sheet = _sheet(client.get(reverse("customers:import_errors", args=[session.pk_uuid]))).worksheets[0]
    assert [c.value for c in sheet[1]] == ["File", "Row", "Column", "Value", "Reason"]
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == [2, 3, 4, 5, 7, 9, 11]

    job = run(client, session, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result["imported"] == 0
    assert job.result["summary"].startswith("Nothing was imported: 7 of 10 rows have errors.")
    assert job.result["download_url"] == reverse("customers:import_errors", args=[session.pk_uuid])
    assert Customer.objects.count() == 1 and not LogEntry.objects.filter(content_type__model="job").exists()

    job = run(client, session, "valid", django_capture_on_commit_callbacks)  # allowed: nothing was imported
    job.refresh_from_db()
    assert job.result["summary"] == "Created 3 customers and 0 contacts, skipped 7 rows."
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(
        ["北京华夏科技有限公司", "苏州博远机械有限公司", "无锡宏达物流有限公司", "南京金桥科技有限公司"]
    )


def test_the_job_checks_again_what_changed_since_the_dry_run(
    demo, client_for, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    session = session_of(upload(client, customers=csv_file([["客户名称"], ["甲公司"], ["乙公司"]])))
    check(client, session)
    assert report(session)["bad_rows"] == 0
    services.create_customer(by=demo["manager"], name="乙有限公司")  # someone was quicker
    job = run(client, session, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.result["imported"] == 0 and Customer.objects.count() == 1
    assert [e[1] for e in errors(session)] == [3]


def test_bad_values_are_reported_with_row_column_and_reason(demo, client_for):
    DictEntry.objects.filter(type="customer_source", code="ad").update(enabled=False)
    head = [
        "客户名称",
        "电话",
        "邮箱",
        "联系人",
        "信用度",
        "满意度",
        "等级",
        "来源",
        "生日",
        "注册资本",
        "状态",
        "客户类型",
        "客户经理",
        "简称",
    ]
    blank = [""] * (len(head) - 1)

    def row(name, **cells):
        values = dict(zip(head[1:], blank, strict=True))
        values.update(cells)
        return [name] + [values[h] for h in head[1:]]

    rows = [
        head,
        row("A公司", 电话="12"),  # 2
        row("B公司", 邮箱="not-an-email", 联系人="张三"),  # 3
        row("C公司", 信用度="6", 满意度="abc"),  # 4: two problems in one row
        row("D公司", 等级="金牌"),  # 5
        row("E公司", 来源="广告"),  # 6: disabled in the dictionary
        row("F公司", 联系人="李四", 生日="2026-02-30"),  # 7
        row("G公司", 注册资本="十万"),  # 8
        row("H公司", 状态="已倒闭", 客户类型="机关"),  # 9
        row("名" * 121),  # 10
        row("I公司", 客户经理="nobody"),  # 11
        row("", 联系人="王五"),  # 12: a contact of row 11's customer, which has errors
        row("", 电话="010-12345678"),  # 13: no name
        row("J公司", 邮箱="j@example.cn"),  # 14: a contact without a name
        row(
            "K公司",
            信用度="三星",
            满意度="4.0",
            等级="key",
            来源="Referral",
            状态="Signed",
            客户类型="individual",
            注册资本="¥1,000",
            客户经理="王强",
            简称="  ",
        ),  # 15: all fine
    ]
    session = session_of(upload(client_for("manager"), customers=csv_file(rows)))
    check(client_for("manager"), session)
    found = [(e[1], e[2], e[4]) for e in errors(session)]
    assert found == [
        (2, "电话", "12 is not a phone number."),
        (3, "邮箱", "not-an-email is not an e-mail address."),
        (4, "信用度", "Ratings go from 1 to 5."),
        (4, "满意度", "Ratings go from 1 to 5."),
        (5, "等级", "“金牌” is not in the dictionary “Customer level”."),
        (6, "来源", "“广告” is disabled in the dictionary “Customer source”."),
        (7, "生日", "2026-02-30 is not a date (use 2026-11-23)."),
        (8, "注册资本", "十万 is not a number."),
        (9, "状态", "已倒闭 is not one of: Prospect、Signed、Dormant、Lost."),
        (9, "客户类型", "机关 is not one of: Company、Individual."),
        (10, "客户名称", "Longer than 120 characters."),
        (11, "客户经理", "There is no user nobody."),
        (12, "客户名称", "This contact belongs to the customer in row 11, which has errors."),
        (13, "客户名称", "The customer name is required."),
        (14, "联系人", "The contact's name is required."),
    ]
    assert report(session)["customers"] == 1


# --- contacts -------------------------------------------------------------------------------------


def test_contacts_in_a_second_file(hx, demo, client_for, django_capture_on_commit_callbacks):
    other = services.create_customer(by=demo["manager2"], name="渠道客户有限公司")
    client = client_for("manager")
    customers = csv_file([["客户名称", "电话"], ["上海东方明珠科技有限公司", "021-5555 6666"]])
    contacts = xlsx_file(
        [
            ["客户编号", "客户名称", "姓名", "手机", "职务", "性别", "邮箱", "备注"],
            [hx.number, "", "赵六", "13900000001", "财务", "女", "zl@hx.cn", "管发票"],  # 2: by number
            [
                "",
                "上海东方明珠科技有限公司",
                "钱七",
                "13900000002",
                "",
                "",
                "",
                "",
            ],  # 3: a customer of the other file
            ["", "北京 华夏科技", "孙八", "", "", "", "", ""],  # 4: by name, spelled differently
            ["C000000000", "", "周九", "", "", "", "", ""],  # 5: no such number
            ["", "不存在的公司", "吴十", "", "", "", "", ""],  # 6: no such name
            [other.number, "", "郑十一", "", "", "", "", ""],  # 7: manager2's customer
            [hx.number, "", "", "13900000003", "", "", "", ""],  # 8: no name
            ["", "", "王十二", "", "", "", "", ""],  # 9: which customer?
        ],
        name="contacts.xlsx",
    )
    session = session_of(upload(client, customers=customers, contacts=contacts))
    assert session.files["contacts"]["mapping"] == [
        "customer_number",
        "customer_name",
        "contact_name",
        "contact_mobile",
        "contact_title",
        "contact_gender",
        "contact_email",
        "contact_notes",
    ]
    check(client, session)
    assert [(e[0], e[1], e[4]) for e in errors(session)] == [
        ("contacts", 5, "There is no customer numbered C000000000."),
        ("contacts", 6, "There is no customer called 不存在的公司."),
        ("contacts", 7, f"You may not change {other.number} 渠道客户有限公司."),
        ("contacts", 8, "The contact's name is required."),
        ("contacts", 9, "Say which customer: the customer number or name is required."),
    ]
    html = client.get(reverse("customers:import_review", args=[session.pk_uuid])).content.decode()
    assert "<th>File</th>" in html  # two files: the report says which
    job = run(client, session, "valid", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.result["summary"] == "Created 1 customers and 3 contacts, skipped 5 rows."
    assert [(c.name, c.is_primary) for c in hx.contacts.order_by("pk")] == [
        ("张明", True),
        ("赵六", False),
        ("孙八", False),
    ]
    zl = hx.contacts.get(name="赵六")
    assert (zl.gender, zl.title, zl.email, zl.notes, zl.mobile_key) == (
        "f",
        "财务",
        "zl@hx.cn",
        "管发票",
        "13900000001",
    )
    new = Customer.objects.get(name="上海东方明珠科技有限公司")
    assert [(c.name, c.is_primary) for c in new.contacts.all()] == [("钱七", True)]
    assert not other.contacts.exists()


def test_a_contacts_file_on_its_own(hx, demo, client_for, django_capture_on_commit_callbacks):
    client = client_for("manager")
    session = session_of(
        upload(
            client,
            contacts=csv_file([["Customer number", "Name", "Mobile"], [hx.number, "Li Lei", "13900000009"]]),
        )
    )
    check(client, session)
    job = run(client, session, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.result["summary"] == "Created 0 customers and 1 contacts, skipped 0 rows."
    assert hx.contacts.filter(name="Li Lei", is_primary=False).exists()


# --- rights ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["executive", "warehouse", "finance", "service"])
def test_users_without_the_import_right_get_403(username, demo, client_for):
    client = client_for(username)
    assert client.get(reverse("customers:import")).status_code == 403
    assert client.get(reverse("customers:import_template")).status_code == 403
    assert upload(client, customers=csv_file([["客户名称"], ["甲"]])).status_code == 403


def _owners_check(client, owners):
    rows = [["客户名称", "客户经理"]] + [[f"客户{i}", owner] for i, owner in enumerate(owners)]
    session = session_of(upload(client, customers=csv_file(rows)))
    check(client, session)
    return {e[1]: e[4] for e in errors(session)}


def test_an_account_manager_imports_only_for_themselves(demo, client_for):
    found = _owners_check(client_for("manager"), ["", "manager", "王强", "manager2"])
    assert found == {
        5: "You may import customers only for yourself; leave the column empty or put your user name."
    }


def test_a_supervisor_imports_for_their_department_and_an_administrator_for_anyone(demo, client_for):
    found = _owners_check(client_for("supervisor"), ["manager", "supervisor", "manager2", "warehouse"])
    assert found == {
        4: "刘洋 is not in your department; you may not give them customers.",
        5: "赵磊 is not in your department; you may not give them customers.",
    }
    found = _owners_check(client_for("admin"), ["manager", "manager2", "executive", "warehouse"])
    assert found == {}  # the executive and the warehouse keeper may see customers: they may own them


def test_an_import_belongs_to_the_user_who_started_it(demo, client_for):
    session = session_of(upload(client_for("supervisor"), customers=csv_file([["客户名称"], ["甲"]])))
    other = client_for("manager")
    assert other.get(reverse("customers:import_review", args=[session.pk_uuid])).status_code == 404
    assert other.get(reverse("customers:import_errors", args=[session.pk_uuid])).status_code == 404
    assert (
        other.post(
            reverse("customers:import_review", args=[session.pk_uuid]), {"action": "run", "mode": "all"}
        ).status_code
        == 404
    )
    assert (
        client_for("supervisor")
        .post(reverse("customers:import_review", args=[session.pk_uuid]), {"action": "nonsense"})
        .status_code
        == 404
    )


def test_old_import_sessions_are_removed(demo, settings):
    old = settings.DATA_DIR / "imports" / ("0" * 32)
    old.mkdir(parents=True)
    os.utime(old, (0, 0))
    products = settings.DATA_DIR / "imports" / "products"  # the product imports' own folder
    products.mkdir()
    os.utime(products, (0, 0))
    assert importing.purge_old_sessions() == 1 and not old.exists()
    assert products.is_dir(), "another module's imports are left alone"


# --- the same rules as the services ---------------------------------------------------------------

SAMPLES = [
    "13800138000",
    "+86 138-0013-8000",
    "0086 139 1234 5678",
    "010-6552 1234",
    "(010) 6552 1234 转 808",
    "12",
    "abc",
    "138001380001",
    "21234567",
    "+1 415 555 0100",
    "a@b.cn",
    "not an e-mail",
    "张三@公司.中国",
]


def _accepts(conv, value) -> bool:
    try:
        conv(value)
    except importing.Bad:
        return False
    return True


def _service_accepts(clean, obj) -> bool:
    from kehu.core.errors import ValidationFailed

    try:
        clean(obj)
    except ValidationFailed:
        return False
    return True


@pytest.mark.parametrize("value", SAMPLES)
def test_cells_are_judged_as_the_services_judge_them(value, demo):
    """If the services' rules change, the import follows or this fails."""
    conv = importing.Checker(demo["manager"]).converters
    assert _accepts(conv["phone"], value) == _service_accepts(
        services._clean_customer, Customer(name="甲", phone=value)
    )
    assert _accepts(conv["contact_mobile"], value) == _service_accepts(
        services._clean_contact, Contact(name="甲", mobile=value)
    )
    assert _accepts(conv["contact_phone"], value) == _service_accepts(
        services._clean_contact, Contact(name="甲", phone=value)
    )
    assert _accepts(conv["contact_email"], value) == _service_accepts(
        services._clean_contact, Contact(name="甲", email=value)
    )


def test_imported_rows_carry_what_the_services_derive(demo, client_for, django_capture_on_commit_callbacks):
    """Every derived column the services fill (keys, pinyin, birthday month-day, tax number in
    capitals) is filled the same way by the import."""
    from datetime import date

    client = client_for("manager")
    rows = [
        ["客户名称", "简称", "电话", "税号", "联系人", "手机", "联系人电话", "生日"],
        [
            "深圳市腾飞（集团）有限公司",
            "腾飞",
            "+86 755 8888 1234",
            " 91440300ab12345678 ",
            "马小云",
            "139-1234-5678",
            "0755 8888 1235 转 12",
            "1990年3月7日",
        ],
    ]
    session = session_of(upload(client, customers=csv_file(rows)))
    check(client, session)
    run(client, session, "all", django_capture_on_commit_callbacks)
    imported = Customer.objects.get()
    contact = imported.contacts.get()
    by_service = Customer(
        name=imported.name, short_name="腾飞", phone="+86 755 8888 1234", tax_number=" 91440300ab12345678 "
    )
    services._clean_customer(by_service)
    by_service_contact = Contact(
        name="马小云", mobile="139-1234-5678", phone="0755 8888 1235 转 12", birthday=date(1990, 3, 7)
    )
    services._clean_contact(by_service_contact)
    for f in ("name_key", "pinyin", "phone_key", "tax_number", "birthday_md"):
        assert getattr(imported, f) == getattr(by_service, f), f
    for f in ("mobile_key", "phone_key", "birthday", "birthday_md"):
        assert getattr(contact, f) == getattr(by_service_contact, f), f
    assert contact.birthday_md == 307


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_all_or_nothing_progress_shows_before_the_commit_on_postgresql(demo, monkeypatch):
    """The job page polls the job row from another connection: on PostgreSQL it sees the writing
    phase advance while the import's one transaction is still open."""
    import threading

    from django.db import connection

    from kehu.core.jobs import JobContext

    by = demo["manager"]
    rows = [["客户名称"]] + [[f"进度测试{i}有限公司"] for i in range(6)]
    session = importing.ImportSession.start(user=by, files={"customers": csv_file(rows)})
    job = Job.objects.create(name="customers.import", label="x", created_by=by, status=Job.Status.RUNNING)
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    monkeypatch.setattr(importing._Progress, "every", 0)
    seen = []
    write = importing.Writer.customers

    def write_and_look(self, batch):
        result = write(self, batch)
        assert connection.in_atomic_block

        def look():
            try:
                seen.append((Job.objects.get(pk=job.pk).done, Customer.objects.count()))
            finally:
                connection.close()

        t = threading.Thread(target=look)
        t.start()
        t.join()
        return result

    monkeypatch.setattr(importing.Writer, "customers", write_and_look)
    result = session.execute(by=by, mode=importing.ALL_OR_NOTHING, ctx=JobContext(job))
    assert result["customers"] == 6
    assert seen[1] == (6 + 2, 0) and seen[2] == (6 + 4, 0)  # progress visible, customers not yet
    assert Customer.objects.count() == 6


def test_tags_an_import_creates_appear_in_the_list_filter(
    demo, client_for, django_capture_on_commit_callbacks
):
    """The tag filter's choices are cached (kehu.core.choices); the import creates its tags in bulk,
    without signals, and renews them itself."""
    import re

    c = client_for("admin")
    url = reverse("customers:list")

    def tag_options():
        page = c.get(url).content.decode()
        select = re.search(r'<select name="tag"[^>]*>(.*?)</select>', page, re.S).group(1)
        return re.findall(r"<option [^>]*>([^<]*)</option>", select)

    assert "导入标签" not in tag_options()  # and now cached
    session = session_of(upload(c, csv_file([HEAD_ZH, zh_row("标签测试有限公司", 标签="导入标签")])))
    check(c, session)
    job = run(c, session, importing.ALL_OR_NOTHING, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == "succeeded", job.result
    assert "导入标签" in tag_options()
