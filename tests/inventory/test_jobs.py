"""The recall picker (search as you type, serial-tracked products only, discontinued and archived
ones too) and the two long inventory jobs: the stocktake count import and the recall export, run in
the background with the job page's progress bar and download.  Asserts on what the user sees: the
pages, the job page, the downloaded file."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from kehu.core.models import Job
from kehu.inventory import jobs as inv_jobs
from kehu.inventory import services as s
from kehu.inventory.models import SerialUnit, Stocktake

from .conftest import issue, receive

pytestmark = pytest.mark.django_db
RECALL = reverse("inventory:recall")
EXPORT = reverse("inventory:recall_export")
OPTIONS = reverse("inventory:recall_product_options")


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def recalled(wh, products, keeper, customer):
    """Three units of batch B7 (one delivered to the customer), one of another batch."""
    receive(
        products["serial"],
        wh["a"],
        4,
        by=keeper,
        cost="800",
        serials=["IPC001", "IPC002", "IPC003", "IPC009"],
    )
    issue(products["serial"], wh["a"], 1, by=keeper, serials=["IPC003"], customer=customer)
    SerialUnit.objects.exclude(serial="IPC009").update(batch="B7", production_date=date(2026, 3, 2))
    SerialUnit.objects.filter(serial="IPC009").update(batch="B8")
    return products


def _texts(resp) -> list[str]:
    return [r["text"] for r in resp.json()["results"]]


def _xlsx_rows(content: bytes) -> list[list]:
    ws = load_workbook(io.BytesIO(content), read_only=True).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _download(client, job: Job):
    resp = client.get(job.result["download_url"])
    assert resp.status_code == 200, resp.status_code
    return resp, b"".join(resp.streaming_content)


# --- the recall picker ----------------------------------------------------------------------------


def test_recall_picker_finds_serial_products_even_discontinued_or_archived(client, client_for, products):
    from kehu.catalog.models import Product

    Product.objects.create(code="P-SN-OLD", name="旧款工控机", tracking="serial", is_active=False)
    Product.objects.create(code="P-SN-GONE", name="停产显示器", tracking="serial", archived_at=timezone.now())
    Product.objects.create(code="P-OLD-PLAIN", name="旧网线", is_active=False, archived_at=timezone.now())
    c = client_for("warehouse")
    texts = _texts(c.get(OPTIONS, {"q": "P-"}))
    codes = [t.split()[0] for t in texts]
    assert codes == ["P-SN", "P-SN-GONE", "P-SN-OLD", "P-SN2"]  # serial-tracked only, by code
    assert "P-SN-OLD 旧款工控机 · Discontinued" in texts and "P-SN-GONE 停产显示器 · Archived" in texts
    assert _texts(c.get(OPTIONS, {"q": "显示器"})) == ["P-SN-GONE 停产显示器 · Archived", "P-SN2 显示器"]
    # the documents' picker still offers only what may move: no archived product
    doc_codes = [
        r["text"].split()[0]
        for r in c.get(reverse("inventory:product_options"), {"q": "P-SN"}).json()["results"]
    ]
    assert "P-SN-GONE" not in doc_codes
    # by right, as the page: the service agent has it; an account manager (inventory, no recall) does not
    assert client_for("service").get(OPTIONS, {"q": "P-"}).status_code == 200
    assert client_for("manager").get(OPTIONS, {"q": "P-"}).status_code == 403
    client.logout()
    assert client.get(OPTIONS, {"q": "P-"}).status_code == 302  # to the login page


def test_recall_page_renders_only_the_chosen_product(client_for, recalled):
    from kehu.catalog.models import Product

    c = client_for("warehouse")
    html = c.get(RECALL).content.decode()
    assert f'data-product-search="{OPTIONS}"' in html
    assert "P-SN" not in html and "P-PLAIN" not in html  # no option list of every product
    # a discontinued, archived product: chosen, listed, and the select shows just that one
    Product.objects.filter(pk=recalled["serial"].pk).update(is_active=False, archived_at=timezone.now())
    resp = c.get(RECALL, {"product": recalled["serial"].pk, "batch": "B7"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "3 units affected" in html
    assert "P-SN 工控机 · Archived" in html and "P-SN2" not in html
    for serial in ("IPC001", "IPC002", "IPC003"):
        assert serial in html
    assert "IPC009" not in html
    # a product that is not serial-tracked is refused
    resp = c.get(RECALL, {"product": recalled["plain"].pk, "batch": "B7"})
    assert resp.context["page"] is None and "product" in resp.context["form"].errors


def test_recall_api_accepts_an_archived_product(api_for, recalled):
    from kehu.catalog.models import Product

    Product.objects.filter(pk=recalled["serial"].pk).update(archived_at=timezone.now())
    r = api_for("warehouse").get(
        "/api/v1/inventory/recall/", {"product": recalled["serial"].pk, "batch": "B7"}
    )
    assert r.status_code == 200 and r.json()["count"] == 3


# --- the recall export ----------------------------------------------------------------------------


def test_recall_export_runs_as_a_job_and_downloads(
    client_for, recalled, customer, django_capture_on_commit_callbacks
):
    c = client_for("warehouse")
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(EXPORT, {"product": recalled["serial"].pk, "batch": "B7"})
    job = Job.objects.get(name=inv_jobs.RECALL_EXPORT)
    assert r.status_code == 302 and r.url == job.get_absolute_url()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    page = c.get(job.get_absolute_url()).content.decode()
    assert "Succeeded" in page and "3 units in the list." in page and "100%" in page
    assert job.result["download_url"] in page and "Download" in page
    resp, content = _download(c, job)
    assert resp["Content-Disposition"].startswith('attachment; filename="recall-P-SN-')
    rows = _xlsx_rows(content)
    assert rows[0][:3] == ["Serial number", "Product code", "Batch"]
    assert [r[0] for r in rows[1:]] == ["IPC001", "IPC002", "IPC003"]
    held = rows[3]
    assert held[5] == "Delivered" and held[7] == customer.name and held[8] == customer.number
    assert held[10] == "T2"  # the delivery document


def test_recall_export_by_production_dates_in_chinese(
    client_for, recalled, django_capture_on_commit_callbacks
):
    c = client_for("warehouse")
    with django_capture_on_commit_callbacks(execute=True):
        c.post(
            EXPORT,
            {"product": recalled["serial"].pk, "produced_from": "2026-03-01", "produced_to": "2026-03-31"},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    job = Job.objects.get(name=inv_jobs.RECALL_EXPORT)
    assert job.status == Job.Status.SUCCEEDED, job.error
    rows = _xlsx_rows(_download(c, job)[1])
    assert rows[0][0] == "序列号" and len(rows) == 4


def test_recall_export_refusals(client, client_for, recalled, django_capture_on_commit_callbacks):
    c = client_for("warehouse")
    # no batch nor date: back to the page with the form's message, no job
    r = c.post(EXPORT, {"product": recalled["serial"].pk}, follow=True)
    assert "Name a batch or a production date range." in r.content.decode()
    assert not Job.objects.exists()
    # without the recall right: 403, no job; a GET does not export
    assert (
        client_for("manager").post(EXPORT, {"product": recalled["serial"].pk, "batch": "B7"}).status_code
        == 403
    )
    assert c.get(EXPORT).status_code == 405
    assert not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        c.post(EXPORT, {"product": recalled["serial"].pk, "batch": "B7"})
    job = Job.objects.get()
    # another user with the right cannot see the job nor download its file (404)
    other = client_for("service")
    assert other.get(job.get_absolute_url()).status_code == 404
    assert other.get(job.result["download_url"]).status_code == 404
    # an unknown job, and a job of another kind, are 404 too
    import uuid

    assert c.get(reverse("inventory:job_file", args=[uuid.uuid4()])).status_code == 404
    client.logout()
    assert client.get(job.result["download_url"]).status_code == 302  # to the login page


def test_recall_export_survives_the_file_purge(client_for, recalled, django_capture_on_commit_callbacks):
    """A file removed (kept KEEP_DAYS) answers 404; the job page still shows the summary."""
    c = client_for("warehouse")
    with django_capture_on_commit_callbacks(execute=True):
        c.post(EXPORT, {"product": recalled["serial"].pk, "batch": "B7"})
    job = Job.objects.get()
    inv_jobs.job_file(job).unlink()
    assert c.get(job.result["download_url"]).status_code == 404
    assert "3 units in the list." in c.get(job.get_absolute_url()).content.decode()


# --- the count import -----------------------------------------------------------------------------


@pytest.fixture
def counting(wh, products, keeper):
    from decimal import Decimal

    receive(products["plain"], wh["a"], 20, by=keeper, cost="3.50")
    receive(products["kg"], wh["a"], Decimal("5.5"), by=keeper, cost="1")
    receive(products["batch"], wh["a"], 10, by=keeper, cost="1", batch="L1")
    receive(products["serial"], wh["a"], 1, by=keeper, cost="800", serials=["IPC001"])
    st = s.start_stocktake(warehouse=wh["a"], by=keeper)
    return st


def _xlsx(rows) -> SimpleUploadedFile:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("盘点.xlsx", buf.getvalue())


def _import(c, st, upload, capture):
    """Upload, let the job run (when the request's transaction commits), then open where the page
    went: the job's page, or back to the stocktake with a message."""
    with capture(execute=True):
        r = c.post(st.get_absolute_url(), {"action": "import", "file": upload})
    assert r.status_code == 302
    return c.get(r.url)


def _counted(st, product, batch=""):
    return st.lines.get(product=product, batch=batch).counted_quantity


def test_count_import_xlsx_as_a_job(client_for, counting, products, django_capture_on_commit_callbacks):
    c = client_for("warehouse")
    st = counting
    upload = _xlsx(
        [["商品编码", "批次", "实盘数量"], ["p-plain", None, 18], ["P-KG", "", 5.25], ["P-BATCH", "L1", 9]]
    )
    resp = _import(c, st, upload, django_capture_on_commit_callbacks)
    job = Job.objects.get(name=inv_jobs.COUNT_IMPORT)
    assert resp.request["PATH_INFO"] == job.get_absolute_url()
    html = resp.content.decode()
    assert "Succeeded" in html and "3 counts imported." in html
    assert "Download" not in html  # nothing to download when every row is good
    assert _counted(st, products["plain"]) == 18 and _counted(st, products["kg"]) == 5.25
    assert _counted(st, products["batch"], "L1") == 9
    # the stocktake page lists its imports, linked to the job's page
    page = c.get(st.get_absolute_url()).content.decode()
    assert 'id="count-imports"' in page and job.get_absolute_url() in page and "3 counts imported." in page
    # the upload is not kept once imported
    assert not any(inv_jobs.uploads_root().iterdir())


def test_count_import_bad_rows_change_nothing_and_are_all_reported(
    client_for, counting, products, django_capture_on_commit_callbacks
):
    c = client_for("warehouse")
    st = counting
    text = "P-PLAIN,,17\nNOPE,,1\nP-SN,,1\nP-KG,,1.234\nP-BATCH,L1,x\n"
    resp = _import(
        c, st, SimpleUploadedFile("counts.csv", text.encode("gbk")), django_capture_on_commit_callbacks
    )
    html = resp.content.decode()
    assert "Nothing was imported: 4 of 5 rows have errors." in html
    assert "Row 2: unknown product code NOPE." in html
    assert "Row 3: P-SN is counted by scanning its serial numbers." in html
    assert "Row 4: The quantity of P-KG may have at most 2 decimal places." in html
    assert "Row 5:" in html
    assert st.lines.filter(counted_quantity__isnull=False).count() == 0  # not even the good row 1
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED and job.result["imported"] == 0
    resp, content = _download(c, job)
    assert "count-import-errors" in resp["Content-Disposition"]
    rows = _xlsx_rows(content)
    assert rows[0] == ["Row", "Product code", "Batch", "Counted", "Reason"]
    assert [(r[0], r[1]) for r in rows[1:]] == [(2, "NOPE"), (3, "P-SN"), (4, "P-KG"), (5, "P-BATCH")]
    # another user who may run stocktakes does not see the job nor its file
    from tests.factories import UserFactory

    other = UserFactory(username="keeper2")
    from kehu.accounts.models import Role

    other.roles.add(Role.objects.get(code="warehouse_keeper"))
    from django.test import Client

    oc = Client()
    oc.force_login(other)
    assert oc.get(job.get_absolute_url()).status_code == 404
    assert oc.get(job.result["download_url"]).status_code == 404


def test_count_import_in_chunks_is_one_transaction(
    client_for, counting, products, monkeypatch, django_capture_on_commit_callbacks
):
    """Written in chunks through enter_counts; a refusal in a later chunk undoes the earlier ones."""
    c = client_for("warehouse")
    st = counting
    monkeypatch.setattr(inv_jobs, "CHUNK", 1)
    text = "P-PLAIN,,11\nP-KG,,2\nP-PLAIN,,12\n"  # the same line twice: the last count stands
    _import(c, st, SimpleUploadedFile("c.csv", text.encode()), django_capture_on_commit_callbacks)
    assert _counted(st, products["plain"]) == 12 and _counted(st, products["kg"]) == 2

    calls = []
    real = s.enter_counts

    def refuse_second(stocktake, counts, *, by):
        calls.append(counts)
        if len(calls) == 2:
            from kehu.core.errors import ValidationFailed

            raise ValidationFailed("refused")
        return real(stocktake, counts, by=by)

    monkeypatch.setattr(s, "enter_counts", refuse_second)
    resp = _import(
        c, st, SimpleUploadedFile("c.csv", b"P-PLAIN,,1\nP-KG,,1\n"), django_capture_on_commit_callbacks
    )
    assert "Failed" in resp.content.decode() and "refused" in resp.content.decode()
    assert _counted(st, products["plain"]) == 12 and _counted(st, products["kg"]) == 2


def test_count_import_refusals(client_for, counting, products, keeper, django_capture_on_commit_callbacks):
    st = counting
    c = client_for("warehouse")
    # no file
    resp = c.post(st.get_absolute_url(), {"action": "import"}, follow=True)
    assert "Choose a file." in resp.content.decode()
    # neither UTF-8 nor GBK
    resp = _import(
        c, st, SimpleUploadedFile("c.csv", b"P-PLAIN,,1\n\xff\xfe\xfa"), django_capture_on_commit_callbacks
    )
    assert "Failed" in resp.content.decode() and "neither UTF-8 nor GBK" in resp.content.decode()
    # a damaged workbook
    resp = _import(
        c, st, SimpleUploadedFile("c.xlsx", b"PK\x03\x04 not really"), django_capture_on_commit_callbacks
    )
    assert "cannot be read as an Excel workbook" in resp.content.decode()
    # without the right: 403, and no job
    before = Job.objects.count()
    upload = SimpleUploadedFile("c.csv", b"P-PLAIN,,1\n")
    assert (
        client_for("service").post(st.get_absolute_url(), {"action": "import", "file": upload}).status_code
        == 403
    )
    # a posted stocktake takes no counts: said on the page, no job
    s.post_stocktake(st, by=keeper)
    resp = _import(c, st, SimpleUploadedFile("c.csv", b"P-PLAIN,,1\n"), django_capture_on_commit_callbacks)
    assert "counts can no longer change" in resp.content.decode()
    assert Job.objects.count() == before
    assert Stocktake.objects.get(pk=st.pk).lines.filter(counted_quantity=1).count() == 0
