"""Product pages: list with filters, sort and export; the product page; the form with its errors
and duplicate warning; rights (403) and unknown ids (404); categories; labels."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse

from kehu.catalog import services
from kehu.catalog.models import Category, Product

pytestmark = pytest.mark.django_db


def _form(**over):
    data = {
        "code": "NEW-001",
        "name": "新商品",
        "spec": "S1",
        "category": "",
        "brand": "",
        "unit": "",
        "quantity_decimals": "0",
        "list_price": "10",
        "standard_cost": "5",
        "tax_rate": "13",
        "barcode": "",
        "tracking": "none",
        "serial_prefix": "",
        "warranty_months": "0",
        "is_active": "on",
        "notes": "",
    }
    data.update(over)
    return data


def test_list_filters_sort_and_pages(client_for, tree, make_product):
    make_product(code="A-1", name="研华工控机", category=tree["ipc"], brand="研华", tracking="serial")
    make_product(code="A-2", name="戴尔显示器", category=tree["monitors"], brand="戴尔")
    make_product(code="B-1", name="硒鼓", category=tree["supplies"], tracking="batch")
    off = make_product(code="B-2", name="旧扫码枪")
    services.discontinue_product(off, by=None)
    gone = make_product(code="Z-9", name="已归档")
    services.archive_product(gone, by=None)
    c = client_for("manager")
    url = reverse("catalog:list")

    def codes(**params):
        r = c.get(url, params)
        assert r.status_code == 200
        return [row["obj"].code for row in r.context["rows"]]

    assert codes() == ["A-1", "A-2", "B-1", "B-2"]
    assert codes(category=tree["pc"].pk) == ["A-1", "A-2"]  # sub-categories included
    assert codes(category=tree["ipc"].pk) == ["A-1"]
    assert codes(brand="戴尔") == ["A-2"]
    assert codes(tracking="batch") == ["B-1"]
    assert codes(active="0") == ["B-2"]
    assert codes(q="yhgkj") == ["A-1"]  # pinyin initials
    assert codes(q="显示器") == ["A-2"]
    assert codes(sort="-code") == ["B-2", "B-1", "A-2", "A-1"]
    assert codes(archived="1") == ["Z-9"]
    assert codes(sort="nonsense") == ["A-1", "A-2", "B-1", "B-2"]


def test_list_query_count_is_fixed(client_for, make_product, django_assert_max_num_queries, tree):
    for _i in range(30):
        make_product(category=tree["ipc"])
    c = client_for("warehouse")
    c.get(reverse("catalog:list"))
    with django_assert_max_num_queries(25):
        r = c.get(reverse("catalog:list"), {"per_page": 50})
    assert len(r.context["rows"]) == 30


def test_export_is_what_is_filtered(client_for, tree, make_product):
    from openpyxl import load_workbook

    make_product(code="A-1", category=tree["ipc"], list_price=Decimal("6800"))
    make_product(code="B-1", category=tree["supplies"])
    r = client_for("warehouse").get(reverse("catalog:list"), {"category": tree["pc"].pk, "export": "xlsx"})
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    rows = list(wb.active.values)
    assert rows[0][0] == "Product code"
    assert [row[0] for row in rows[1:]] == ["A-1"]
    assert rows[1][3] == "电脑设备 / 工控机"
    assert Decimal(str(rows[1][7])) == Decimal("6800")


def test_export_needs_the_right(client_for, make_product):
    make_product()
    assert client_for("manager").get(reverse("catalog:list"), {"export": "xlsx"}).status_code == 403


def test_rights_403_and_unknown_404(client_for, make_product, demo, tree):
    from kehu.accounts.models import Role

    p = make_product()
    img_free = client_for("manager")
    assert img_free.get(reverse("catalog:detail", args=[p.pk])).status_code == 200
    assert img_free.get(reverse("catalog:create")).status_code == 403
    assert img_free.get(reverse("catalog:edit", args=[p.pk])).status_code == 403
    assert img_free.post(reverse("catalog:archive", args=[p.pk])).status_code == 403
    assert img_free.post(reverse("catalog:categories"), {"name": "X", "order": 1}).status_code == 403
    ex = client_for("executive")  # reads everything, writes nothing
    assert ex.get(reverse("catalog:list")).status_code == 200
    assert ex.post(reverse("catalog:discontinue", args=[p.pk])).status_code == 403
    assert ex.get(reverse("catalog:create")).status_code == 403
    # a role without catalog.view
    role = Role.objects.get(code="service_agent")
    role.rights.remove(*role.rights.filter(code__startswith="catalog."))
    svc = client_for("service")
    for url in (
        reverse("catalog:list"),
        reverse("catalog:detail", args=[p.pk]),
        reverse("catalog:categories"),
    ):
        assert svc.get(url).status_code == 403, url
    c = client_for("warehouse")
    for name in ("catalog:detail", "catalog:edit"):
        assert c.get(reverse(name, args=[999999])).status_code == 404
    assert c.post(reverse("catalog:archive", args=[999999])).status_code == 404
    assert c.get(reverse("catalog:category_edit", args=[999999])).status_code == 404
    assert c.get(reverse("catalog:image", args=[999999])).status_code == 404


def test_create_through_the_form(client_for, tree, unit):
    c = client_for("warehouse")
    assert c.get(reverse("catalog:create")).status_code == 200
    r = c.post(
        reverse("catalog:create"),
        _form(category=str(tree["ipc"].pk), unit=str(unit.pk), tracking="serial", serial_prefix="ipc"),
    )
    p = Product.objects.get(code="NEW-001")
    assert r.status_code == 302 and r.url == p.get_absolute_url()
    assert (p.category, p.unit, p.serial_prefix) == (tree["ipc"], unit, "IPC")
    page = c.get(p.get_absolute_url())
    assert page.status_code == 200
    assert "新商品" in page.content.decode()
    assert page.context["category_path"] == "电脑设备 / 工控机"


@pytest.mark.parametrize(
    ("over", "field", "text"),
    [
        ({"list_price": "-1"}, "list_price", "cannot be negative"),
        ({"tax_rate": "150"}, "tax_rate", "between 0 and 100"),
        ({"quantity_decimals": "7"}, "quantity_decimals", "between 0 and 4"),
        ({"code": "has space"}, "code", "no spaces"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_form_shows_the_field_error(client_for, over, field, text):
    r = client_for("warehouse").post(reverse("catalog:create"), _form(**over))
    assert r.status_code == 200
    assert any(text in e for e in r.context["form"].errors[field]), r.context["form"].errors
    assert not Product.objects.exists()


def test_form_duplicate_code_and_duplicate_warning(client_for, make_product):
    make_product(code="DUP-1", name="激光打印机", spec="M404")
    c = client_for("warehouse")
    r = c.post(reverse("catalog:create"), _form(code="dup-1"))
    assert "taken" in r.context["form"].errors["code"][0]
    r = c.post(reverse("catalog:create"), _form(code="DUP-2", name="激光打印机", spec="m404"))
    assert r.status_code == 200
    assert r.context["duplicates"][0]["code"] == "DUP-1"
    assert "duplicate-alert" in r.content.decode()
    assert not Product.objects.filter(code="DUP-2").exists()
    r = c.post(
        reverse("catalog:create"), _form(code="DUP-2", name="激光打印机", spec="m404", confirm_duplicate="on")
    )
    assert r.status_code == 302
    assert Product.objects.filter(code="DUP-2").exists()
    hint = c.get(reverse("catalog:duplicate_check"), {"name": "激光打印机", "spec": "M404"})
    assert "DUP-1" in hint.content.decode() and "DUP-2" in hint.content.decode()


def test_edit_form(client_for, make_product, tree):
    p = make_product(category=tree["ipc"])
    c = client_for("supervisor")
    r = c.get(reverse("catalog:edit", args=[p.pk]))
    assert r.status_code == 200
    assert r.context["form"].initial["code"] == p.code
    r = c.post(
        reverse("catalog:edit", args=[p.pk]), _form(code=p.code, name="改名", category=str(tree["pc"].pk))
    )
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.name, p.category) == ("改名", tree["pc"])


def test_actions_on_the_product_page(client_for, make_product):
    p = make_product()
    c = client_for("warehouse")
    c.post(reverse("catalog:discontinue", args=[p.pk]))
    p.refresh_from_db()
    assert not p.is_active
    c.post(reverse("catalog:reactivate", args=[p.pk]))
    c.post(reverse("catalog:archive", args=[p.pk]))
    p.refresh_from_db()
    assert p.is_active and p.is_archived
    c.post(reverse("catalog:restore", args=[p.pk]))
    p.refresh_from_db()
    assert not p.is_archived
    page = c.get(p.get_absolute_url())
    assert len(page.context["history"]) >= 4


def test_images_on_the_page(client_for, make_product):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, format="PNG")
    p = make_product()
    c = client_for("warehouse")
    r = c.post(
        reverse("catalog:image_upload", args=[p.pk]), {"image": SimpleUploadedFile("x.png", buf.getvalue())}
    )
    assert r.status_code == 302
    img = p.images.get()
    got = c.get(reverse("catalog:image", args=[img.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content).startswith(b"\x89PNG")
    r = c.post(
        reverse("catalog:image_upload", args=[p.pk]),
        {"image": SimpleUploadedFile("x.png", b"nope")},
        follow=True,
    )
    assert "not an image" in r.content.decode()
    assert p.images.count() == 1
    c.post(reverse("catalog:image_delete", args=[img.pk]))
    assert not p.images.exists()


def test_panels_from_other_modules(client_for, make_product, settings, tmp_path):
    from kehu.catalog import panels

    tpl = tmp_path / "tpl"
    (tpl / "x").mkdir(parents=True)
    (tpl / "x" / "panel.html").write_text(
        "<div class='card-body'>STOCK {{ data.n }} {{ product.code }}</div>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tpl), *settings.TEMPLATES[0].get("DIRS", [])]}
    ]
    panels.register_product_panel(
        panels.ProductPanel("stock", "Stock", "x/panel.html", context=lambda request, product: {"n": 42})
    )
    panels.register_product_panel(
        panels.ProductPanel("secret", "Secret", "x/panel.html", right="system.backup")
    )
    try:
        p = make_product()
        html = client_for("manager").get(p.get_absolute_url()).content.decode()
        assert f"STOCK 42 {p.code}" in html
        assert "panel-secret" not in html
    finally:
        panels.PRODUCT_PANELS[:] = [x for x in panels.PRODUCT_PANELS if x.code not in ("stock", "secret")]


def test_category_pages(client_for, tree, make_product):
    make_product(category=tree["ipc"])
    c = client_for("warehouse")
    r = c.get(reverse("catalog:categories"))
    assert r.status_code == 200
    assert "工控机" in r.content.decode()
    r = c.post(reverse("catalog:categories"), {"name": "扫码枪", "parent": str(tree["pc"].pk), "order": "5"})
    assert r.status_code == 302
    new = Category.objects.get(name="扫码枪")
    assert new.parent == tree["pc"]
    r = c.post(reverse("catalog:categories"), {"name": "扫码枪", "parent": str(tree["pc"].pk), "order": "5"})
    assert "already" in r.context["form"].errors["name"][0]
    r = c.post(
        reverse("catalog:category_edit", args=[tree["pc"].pk]),
        {"name": "电脑设备", "parent": str(tree["ipc"].pk), "order": "1"},
    )
    assert r.status_code == 200  # its own sub-category is not a choice
    assert r.context["form"].errors["parent"]
    r = c.post(reverse("catalog:category_delete", args=[tree["ipc"].pk]), follow=True)
    assert "holds 1 products" in r.content.decode()
    assert Category.objects.filter(pk=tree["ipc"].pk).exists()
    c.post(reverse("catalog:category_delete", args=[new.pk]))
    assert not Category.objects.filter(pk=new.pk).exists()
    assert client_for("manager").get(reverse("catalog:categories")).status_code == 200
    assert (
        client_for("manager").get(reverse("catalog:category_edit", args=[tree["pc"].pk])).status_code == 403
    )


def test_labels_page_and_pdf(client_for, make_product):
    a = make_product(barcode="6901234500011")
    b = make_product()
    c = client_for("manager")
    r = c.get(reverse("catalog:labels"), {"ids": [a.pk, b.pk]})
    assert r.status_code == 200
    assert [p.pk for p in r.context["products"]] == [a.pk, b.pk]
    r = c.post(
        reverse("catalog:labels"),
        {"ids": [a.pk, b.pk], "layout": "a4_3x8", "symbology": "both", "copies": "30"},
    )
    assert r.status_code == 200
    assert r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    from tests.catalog.test_labels import page_count

    assert page_count(r.content) == 3  # 60 labels, 24 a sheet
    r = c.post(
        reverse("catalog:labels"), {"ids": [a.pk], "layout": "roll_50x30", "symbology": "qr", "copies": "0"}
    )
    assert r.status_code == 200 and r.context["form"].errors["copies"]
    assert c.get(reverse("catalog:labels"), {"ids": [999999]}).status_code == 404


def test_menu_entries(client_for):
    from kehu.accounts.models import User
    from kehu.core.selectors import menu_for

    groups = {
        g["code"]: [e.url_name for e in g["entries"]]
        for g in menu_for(User.objects.get(username="warehouse"))
    }
    assert "catalog:list" in groups["inventory"] and "catalog:import" in groups["inventory"]
    assert "catalog:categories" in groups["basedata"]
    manager = {
        g["code"]: [e.url_name for e in g["entries"]] for g in menu_for(User.objects.get(username="manager"))
    }
    assert "catalog:import" not in manager.get("inventory", [])
