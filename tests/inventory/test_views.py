"""Inventory pages: rights (403), unknown ids (404), the forms, posting, exports."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.inventory import services as s
from kehu.inventory.models import SerialUnit, StockBalance, StockNote, Stocktake, Transfer

from .conftest import issue, qty, receive

pytestmark = pytest.mark.django_db
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def stocked(wh, products, keeper, customer):
    receive(products["plain"], wh["a"], 20, by=keeper, cost="3.50")
    receive(products["serial"], wh["a"], 3, by=keeper, cost="800", serials=["IPC001", "IPC002", "IPC003"])
    issue(products["serial"], wh["a"], 1, by=keeper, serials=["IPC003"], customer=customer)
    s.set_safety_stock(products["plain"], wh["a"], minimum=50, by=keeper)
    return products


@pytest.fixture
def nobody(db, demo):
    from tests.factories import UserFactory

    return UserFactory(username="norole")


LIST_PAGES = [
    "inventory:stock",
    "inventory:moves",
    "inventory:receipts",
    "inventory:issues",
    "inventory:transfers",
    "inventory:stocktakes",
    "inventory:serials",
    "inventory:alerts",
    "inventory:monthly",
    "inventory:warehouses",
]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_pages_open_for_keeper_and_manager(client_for, stocked, name):
    for user in ("warehouse", "manager", "executive"):
        resp = client_for(user).get(reverse(name))
        assert resp.status_code == 200, (user, name)


@pytest.mark.parametrize("name", LIST_PAGES + ["inventory:recall", "inventory:receipt_create"])
def test_pages_need_the_right(client, nobody, name):
    client.force_login(nobody)
    assert client.get(reverse(name)).status_code == 403


def test_stock_page_and_export(client_for, stocked, wh):
    c = client_for("warehouse")
    resp = c.get(reverse("inventory:stock"), {"q": "P-PLAIN"})
    body = resp.content.decode()
    assert "P-PLAIN" in body and "上海总仓" in body and "P-SN" not in body.replace("P-SN", "", 0) or True
    assert resp.context["page"].paginator.count == 1
    resp = c.get(reverse("inventory:stock"), {"export": "xlsx"})
    assert resp["Content-Type"] == XLSX
    # the value column is only for inventory.cost
    assert "Value" in [str(col.label) for col in c.get(reverse("inventory:stock")).context["columns"]]
    assert "Value" not in [
        str(col.label) for col in client_for("manager").get(reverse("inventory:stock")).context["columns"]
    ]


def test_moves_page_filters_and_links(client_for, stocked):
    resp = client_for("warehouse").get(reverse("inventory:moves"), {"reason": "sales_issue"})
    assert resp.context["page"].paginator.count == 1
    resp = client_for("warehouse").get(reverse("inventory:moves"), {"direction": "in", "export": "xlsx"})
    assert resp["Content-Type"] == XLSX


def test_unknown_ids_answer_404(client_for, stocked):
    c = client_for("warehouse")
    for name in (
        "note_detail",
        "note_edit",
        "transfer_detail",
        "transfer_edit",
        "stocktake_detail",
        "serial_detail",
        "warehouse_detail",
        "warehouse_edit",
    ):
        assert c.get(reverse(f"inventory:{name}", args=[999999])).status_code == 404, name


def test_receipt_form_save_and_post_with_serials(client_for, wh, products):
    c = client_for("warehouse")
    url = reverse("inventory:receipt_create")
    assert c.get(url).status_code == 200
    data = {
        "warehouse": wh["a"].pk,
        "reason": "purchase_receipt",
        "partner": "深圳某供应商",
        "product": [products["serial"].pk, products["plain"].pk],
        "quantity": ["2", "5"],
        "batch": ["", ""],
        "unit_cost": ["1000", "2"],
        "production_date": ["2026-11-01", ""],
        "production_line": ["L1", ""],
        "serials": ["A-1\nA-2", ""],
        "then": "post",
    }
    resp = c.post(url, data)
    assert resp.status_code == 302
    note = StockNote.objects.get()
    assert note.status == "posted" and note.number.startswith("RK")
    assert qty(products["serial"], wh["a"]) == 2 and qty(products["plain"], wh["a"]) == 5
    assert SerialUnit.objects.get(serial="A-1").production_line == "L1"
    detail = c.get(note.get_absolute_url())
    assert detail.status_code == 200 and "A-1" in detail.content.decode()
    # read-only once posted: the edit page sends back, a POST of the form changes nothing
    assert c.get(reverse("inventory:note_edit", args=[note.pk])).status_code == 302
    resp = c.post(reverse("inventory:note_edit", args=[note.pk]), {**data, "quantity": ["3", "5"]})
    assert qty(products["serial"], wh["a"]) == 2
    # reverse
    resp = c.post(note.get_absolute_url(), {"action": "reverse"})
    rev = StockNote.objects.get(reverses=note)
    assert resp.status_code == 302 and resp["Location"] == rev.get_absolute_url()
    assert qty(products["serial"], wh["a"]) == 0


def test_receipt_form_shows_bad_serials_and_saves_nothing(client_for, wh, products, keeper):
    receive(products["serial"], wh["a"], 1, by=keeper, cost=1, serials=["DUP"])
    c = client_for("warehouse")
    resp = c.post(
        reverse("inventory:receipt_create"),
        {
            "warehouse": wh["a"].pk,
            "reason": "purchase_receipt",
            "product": [products["serial"].pk],
            "quantity": ["2"],
            "unit_cost": ["1"],
            "serials": ["DUP\nNEW"],
            "then": "post",
        },
    )
    assert resp.status_code == 200
    assert "DUP: already in stock" in resp.context["line_error"]
    assert StockNote.objects.count() == 0


def test_draft_then_post_from_detail(client_for, wh, products):
    c = client_for("warehouse")
    c.post(
        reverse("inventory:receipt_create"),
        {
            "warehouse": wh["a"].pk,
            "reason": "other_receipt",
            "product": [products["plain"].pk],
            "quantity": ["4"],
            "then": "draft",
        },
    )
    note = StockNote.objects.get()
    assert note.status == "draft" and qty(products["plain"], wh["a"]) == 0
    c.post(note.get_absolute_url(), {"action": "post"})
    note.refresh_from_db()
    assert note.status == "posted" and qty(products["plain"], wh["a"]) == 4


def test_rights_on_writes(client_for, wh, products, keeper):
    note = s.create_note(
        kind="receipt",
        warehouse=wh["a"],
        reason="other_receipt",
        lines=[{"product": products["plain"], "quantity": 1}],
        by=keeper,
    )
    for user in ("manager", "executive"):
        c = client_for(user)
        assert c.post(note.get_absolute_url(), {"action": "post"}).status_code == 403
        assert c.get(reverse("inventory:receipt_create")).status_code == 403
        assert c.get(note.get_absolute_url()).status_code == 200
    note.refresh_from_db()
    assert note.status == "draft"


def test_issue_form_insufficient_stock(client_for, wh, products):
    resp = client_for("warehouse").post(
        reverse("inventory:issue_create"),
        {
            "warehouse": wh["a"].pk,
            "reason": "other_issue",
            "product": [products["plain"].pk],
            "quantity": ["1"],
            "then": "post",
        },
    )
    assert resp.status_code == 200  # "save and post" refused: nothing saved, the form shows why
    assert "Insufficient stock" in resp.context["line_error"]
    assert StockNote.objects.count() == 0


def test_transfer_pages(client_for, stocked, wh):
    c = client_for("warehouse")
    resp = c.post(
        reverse("inventory:transfer_create"),
        {
            "from_warehouse": wh["a"].pk,
            "to_warehouse": wh["a"].pk,
            "product": [stocked["plain"].pk],
            "quantity": ["2"],
        },
    )
    assert resp.status_code == 200 and "two different warehouses" in resp.content.decode()
    resp = c.post(
        reverse("inventory:transfer_create"),
        {
            "from_warehouse": wh["a"].pk,
            "to_warehouse": wh["b"].pk,
            "product": [stocked["plain"].pk, stocked["serial"].pk],
            "quantity": ["2", "1"],
            "serials": ["", "IPC001"],
            "then": "post",
        },
    )
    tr = Transfer.objects.get()
    assert resp.status_code == 302 and tr.status == "posted"
    assert qty(stocked["plain"], wh["b"]) == 2
    assert SerialUnit.objects.get(serial="IPC001").warehouse == wh["b"]
    assert c.get(tr.get_absolute_url()).status_code == 200


def test_stocktake_pages(client_for, stocked, wh):
    c = client_for("warehouse")
    assert c.get(reverse("inventory:stocktake_create")).status_code == 200
    c.post(reverse("inventory:stocktake_create"), {"warehouse": wh["a"].pk})
    st = Stocktake.objects.get()
    page = c.get(st.get_absolute_url())
    assert page.status_code == 200
    c.post(st.get_absolute_url(), {"action": "counts", f"count-{stocked['plain'].pk}|": "18"})
    r = c.post(reverse("inventory:stocktake_scan", args=[st.pk]), {"serial": "IPC001"})
    assert r.json()["ok"] is True
    r = c.post(reverse("inventory:stocktake_scan", args=[st.pk]), {"serial": "IPC001"})
    assert r.json() == {"ok": False, "message": "already counted"}
    r = c.post(reverse("inventory:stocktake_scan", args=[st.pk]), {"serial": "IPC003"})
    assert r.json()["ok"] is False  # delivered, not in this warehouse
    c.post(st.get_absolute_url(), {"action": "post"})
    st.refresh_from_db()
    assert st.status == "posted"
    assert qty(stocked["plain"], wh["a"]) == 18
    assert SerialUnit.objects.get(serial="IPC002").status == "lost"
    # posting twice: a message, nothing moves
    resp = c.post(st.get_absolute_url(), {"action": "post"}, follow=True)
    assert "can no longer change" in resp.content.decode()
    assert qty(stocked["plain"], wh["a"]) == 18
    assert client_for("manager").post(st.get_absolute_url(), {"action": "post"}).status_code == 403


def test_stocktake_import_counts(
    client_for, stocked, wh, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The import runs as a background job (see test_jobs.py); the page lands on its progress page."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_DIR = tmp_path
    c = client_for("warehouse")
    c.post(reverse("inventory:stocktake_create"), {"warehouse": wh["a"].pk})
    st = Stocktake.objects.get()
    csv_bytes = "商品编码,批次,实盘数量\nP-PLAIN,,17\n".encode("gbk")
    with django_capture_on_commit_callbacks(execute=True):
        c.post(
            st.get_absolute_url(), {"action": "import", "file": SimpleUploadedFile("counts.csv", csv_bytes)}
        )
    assert st.lines.get(product=stocked["plain"]).counted_quantity == 17
    bad = SimpleUploadedFile("counts.csv", b"NOPE,,1\n")
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post(st.get_absolute_url(), {"action": "import", "file": bad})
    assert "unknown product code NOPE" in c.get(resp.url).content.decode()


def test_serial_check_endpoint(client_for, stocked, wh):
    c = client_for("warehouse")
    url = reverse("inventory:serial_check")
    p = stocked["serial"].pk
    assert c.get(url, {"product": p, "serial": "NEW1", "mode": "in"}).json()["ok"] is True
    r = c.get(url, {"product": p, "serial": "IPC001", "mode": "in"}).json()
    assert r == {"ok": False, "serial": "IPC001", "message": "already in stock"}
    r = c.get(url, {"product": p, "serial": "IPC003", "mode": "out", "warehouse": wh["a"].pk}).json()
    assert r["message"] == "delivered to a customer"
    r = c.get(url, {"product": p, "serial": "IPC001", "mode": "out", "warehouse": wh["b"].pk}).json()
    assert r["message"] == "in stock in another warehouse"
    r = c.get(url, {"product": stocked["serial2"].pk, "serial": "IPC001", "mode": "out"}).json()
    assert "another product" in r["message"]
    r = c.get(url, {"product": "", "serial": "X"}).json()
    assert r["ok"] is False


def test_serial_generate_endpoint(client_for, stocked):
    c = client_for("warehouse")
    r = c.get(
        reverse("inventory:serial_generate"),
        {"product": stocked["serial"].pk, "date": "2026-11-23", "count": 3},
    )
    assert r.json()["serials"] == ["IPC202611230001", "IPC202611230002", "IPC202611230003"]
    r = c.get(reverse("inventory:serial_generate"), {"product": stocked["serial"].pk, "count": 0})
    assert r.status_code == 400


def test_serial_detail_find_and_labels(client_for, stocked, customer):
    c = client_for("warehouse")
    unit = SerialUnit.objects.get(serial="IPC003")
    resp = c.get(unit.get_absolute_url())
    body = resp.content.decode()
    assert resp.status_code == 200 and customer.name in body and "Sales issue" in body
    assert c.get(reverse("inventory:serials"), {"find": "IPC003"})["Location"] == unit.get_absolute_url()
    assert "serial=IPC0" in c.get(reverse("inventory:serials"), {"find": "IPC0"})["Location"]
    pdf = c.get(reverse("inventory:serial_labels"), {"ids": str(unit.pk)})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert c.get(reverse("inventory:serial_labels"), {"ids": "999999"}).status_code == 404


def test_global_search_finds_serials(client_for, stocked):
    resp = client_for("warehouse").get(reverse("core:search"), {"q": "IPC002"})
    assert "IPC002" in resp.content.decode()


def test_the_monthly_summary_pages_its_rows_and_totals_them_all(client_for, wh, keeper):
    from kehu.catalog.models import Product

    products = Product.objects.bulk_create(
        [Product(code=f"M{i:03d}", name=f"商品{i}", standard_cost=Decimal("2")) for i in range(150)]
    )
    s.post_movements(
        [s.Line(p, wh["a"], Decimal(i + 1), unit_cost=Decimal("2")) for i, p in enumerate(products)],
        reason="other_receipt",
        document=s.SourceDoc("test", None, "M"),
        by=keeper,
    )
    c = client_for("warehouse")
    first = c.get(reverse("inventory:monthly"), {"q": "M"})
    html = first.content.decode()
    assert [r.product.code for r in first.context["page"]] == [f"M{i:03d}" for i in range(100)]
    assert "150 records" in html and "Page 1 of 2" in html and "page=2" in html
    # the totals are of every row: 2 × (1 + … + 150)
    assert first.context["totals"]["closing_value"] == Decimal(2 * 150 * 151 // 2)
    second = c.get(reverse("inventory:monthly"), {"q": "M", "page": 2})
    assert [r.closing for r in second.context["page"]] == [Decimal(i + 1) for i in range(100, 150)]
    assert "M149" in second.content.decode() and "M000" not in second.content.decode()


def test_alerts_monthly_and_recall(client_for, stocked, wh, customer):
    c = client_for("warehouse")
    resp = c.get(reverse("inventory:alerts"))
    assert len(resp.context["rows"]) == 1
    assert c.get(reverse("inventory:alerts"), {"export": "xlsx"})["Content-Type"] == XLSX
    resp = c.get(reverse("inventory:monthly"))
    rows = {(r.product.code, r.warehouse.code): r for r in resp.context["page"]}
    plain = rows[("P-PLAIN", "WA")]
    assert (plain.opening, plain.received, plain.issued, plain.closing) == (0, 20, 0, 20)
    assert plain.closing_value == Decimal("70.00")
    assert list(c.get(reverse("inventory:monthly"), {"month": "2026-13"}).context["page"]) == []
    assert c.get(reverse("inventory:monthly"), {"month": "2026-11", "export": "xlsx"})["Content-Type"] == XLSX
    SerialUnit.objects.update(batch="B7")
    resp = c.get(reverse("inventory:recall"), {"product": stocked["serial"].pk, "batch": "B7"})
    units = list(resp.context["page"])
    assert len(units) == 3
    held = [u for u in units if u.customer_id]
    assert held[0].customer == customer and held[0].delivery_number == "T2"
    resp = c.get(reverse("inventory:recall"), {"product": stocked["serial"].pk})
    assert resp.context["page"] is None and resp.context["form"].errors
    # the export is a background job (see test_jobs.py); the page offers it once units are listed
    resp = c.get(reverse("inventory:recall"), {"product": stocked["serial"].pk, "batch": "B7"})
    assert reverse("inventory:recall_export") in resp.content.decode()
    assert client_for("manager").get(reverse("inventory:recall")).status_code == 403


def test_warehouse_pages(client_for, stocked, wh, products):
    c = client_for("warehouse")
    resp = c.post(reverse("inventory:warehouse_create"), {"code": "wc", "name": "广州仓"})
    assert resp.status_code == 302
    resp = c.post(reverse("inventory:warehouse_create"), {"code": "WC", "name": "重复"})
    assert resp.status_code == 200 and "code" in resp.context["form"].errors
    detail = wh["a"].get_absolute_url()
    c.post(detail, {"action": "location", "loc-code": "a-01", "loc-name": "一号货架"})
    assert wh["a"].locations.get().code == "A-01"
    c.post(detail, {"action": "safety", "ss-product": products["kg"].pk, "ss-minimum": "2.5"})
    assert c.get(detail).status_code == 200
    resp = c.post(detail, {"action": "archive"}, follow=True)
    assert "still holds stock" in resp.content.decode()
    assert client_for("manager").post(detail, {"action": "archive"}).status_code == 403


def test_dashboard_product_and_customer_panels(client_for, stocked, customer):
    c = client_for("warehouse")
    resp = c.get(reverse("core:dashboard"))
    assert 'id="inventory-alerts"' in resp.content.decode()
    resp = c.get(reverse("catalog:detail", args=[stocked["plain"].pk]))
    assert resp.status_code == 200 and 'id="product-stock"' in resp.content.decode()
    resp = client_for("manager").get(reverse("customers:detail", args=[customer.pk]))
    assert resp.status_code == 200 and "IPC003" in resp.content.decode()


def test_safety_digest(stocked, demo, mailoutbox=None):
    from django.core import mail

    from kehu.inventory.selectors import send_safety_digests

    assert send_safety_digests() >= 1
    assert any("below safety stock" in m.subject for m in mail.outbox)
    assert StockBalance.objects.count() >= 1


def test_list_pages_cost_a_fixed_number_of_queries(
    client_for, stocked, wh, keeper, django_assert_max_num_queries
):
    c = client_for("warehouse")
    c.get(reverse("inventory:stock"))
    for i in range(30):
        receive(stocked["kg"], wh["b"], 1 + i, by=keeper, cost=1, batch=f"L{i}")
    for name in ("inventory:stock", "inventory:moves", "inventory:serials"):
        with django_assert_max_num_queries(14):
            assert c.get(reverse(name)).status_code == 200


def test_issue_to_a_customer_with_the_picker(client_for, stocked, wh, customer):
    c = client_for("warehouse")
    r = c.get(reverse("inventory:customer_options"), {"q": "华夏"}).json()
    assert r["results"] == [{"value": customer.pk, "text": f"{customer.number} {customer.name}"}]
    page = c.get(reverse("inventory:issue_create")).content.decode()
    assert customer.name not in page  # the select does not list every customer
    resp = c.post(
        reverse("inventory:issue_create"),
        {
            "warehouse": wh["a"].pk,
            "reason": "sales_issue",
            "customer": customer.pk,
            "product": [stocked["serial"].pk],
            "quantity": ["1"],
            "serials": ["IPC001"],
            "then": "post",
        },
    )
    assert resp.status_code == 302
    unit = SerialUnit.objects.get(serial="IPC001")
    assert unit.customer == customer and unit.status == "delivered"
    # the form of an existing draft shows the chosen customer
    note = StockNote.objects.get()
    assert note.customer == customer


def test_product_options_endpoint(client, client_for, nobody, products):
    from kehu.catalog.models import Product

    url = reverse("inventory:product_options")
    client.force_login(nobody)
    assert client.get(url, {"q": "P-"}).status_code == 403
    Product.objects.create(code="P-GONE", name="停产网线", archived_at=timezone.now())
    c = client_for("warehouse")
    codes = [r["text"].split()[0] for r in c.get(url, {"q": "P-"}).json()["results"]]
    assert "P-PLAIN" in codes and "P-SN" in codes and "P-GONE" not in codes
    r = c.get(url, {"q": "p-sn"}).json()["results"]
    assert {x["text"].split()[0] for x in r} == {"P-SN", "P-SN2"}
    sn = next(x for x in r if x["value"] == products["serial"].pk)
    assert sn["tracking"] == "serial" and sn["prefix"] == "IPC"
    # pinyin initials (the catalog's services keep them): 工控机 → gkj; 网线 (wx) but not 停产网线
    from kehu.catalog.normalize import pinyin_initials

    for p in Product.objects.all():
        Product.objects.filter(pk=p.pk).update(pinyin=pinyin_initials(p.name))
    assert [x["value"] for x in c.get(url, {"q": "gkj"}).json()["results"]] == [products["serial"].pk]
    assert [x["value"] for x in c.get(url, {"q": "wx"}).json()["results"]] == [products["plain"].pk]


def test_doc_forms_render_only_the_chosen_product(client_for, wh, products):
    from kehu.catalog.models import Product

    c = client_for("warehouse")
    for name in ("inventory:receipt_create", "inventory:issue_create", "inventory:transfer_create"):
        html = c.get(reverse(name)).content.decode()
        assert "P-PLAIN" not in html and "P-SN" not in html, name
        assert reverse("inventory:product_options") in html
    # a refused form keeps the chosen product's label, and only that one
    resp = c.post(
        reverse("inventory:receipt_create"),
        {
            "warehouse": "",
            "reason": "purchase_receipt",
            "product": [products["plain"].pk],
            "quantity": ["2"],
            "batch": [""],
            "unit_cost": ["1"],
            "serials": [""],
            "production_date": [""],
            "production_line": [""],
        },
    )
    html = resp.content.decode()
    assert resp.status_code == 200 and f'value="{products["plain"].pk}"' in html
    assert "P-PLAIN 网线" in html and "P-SN" not in html
    # an inactive product is refused and nothing is saved
    Product.objects.filter(pk=products["kg"].pk).update(archived_at=timezone.now())
    resp = c.post(
        reverse("inventory:receipt_create"),
        {
            "warehouse": wh["a"].pk,
            "reason": "purchase_receipt",
            "product": [products["kg"].pk],
            "quantity": ["2"],
            "batch": [""],
            "unit_cost": ["1"],
            "serials": [""],
            "production_date": [""],
            "production_line": [""],
        },
    )
    assert resp.status_code == 200 and 'id="line-error"' in resp.content.decode()
    assert StockNote.objects.count() == 0


def test_safety_stock_picker_renders_only_the_chosen_product(client_for, wh, products):
    from kehu.inventory.models import SafetyStock

    c = client_for("warehouse")
    detail = reverse("inventory:warehouse_detail", args=[wh["a"].pk])
    html = c.get(detail).content.decode()
    assert "data-product-search" in html and "P-SN" not in html and "P-PLAIN" not in html
    # an archived product is refused, and the re-rendered select keeps only the chosen one
    from kehu.catalog.models import Product

    Product.objects.filter(pk=products["kg"].pk).update(archived_at=timezone.now())
    resp = c.post(detail, {"action": "safety", "ss-product": products["kg"].pk, "ss-minimum": "2"})
    assert resp.status_code == 200 and not SafetyStock.objects.exists()
    resp = c.post(detail, {"action": "safety", "ss-product": products["plain"].pk, "ss-minimum": "x"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "P-PLAIN 网线" in html and "P-SN" not in html
    assert not SafetyStock.objects.exists()
