"""The product API: same rules as the pages, errors as {code, message, details}."""

from __future__ import annotations

import io

import pytest

from kehu.catalog.models import Category, Product

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
CAT_URL = "/api/v1/product-categories/"


def _body(**over):
    data = {
        "code": "API-1",
        "name": "扫码枪",
        "spec": "HR22",
        "unit": "set",
        "list_price": "380",
        "tax_rate": "13",
    }
    data.update(over)
    return data


def test_create_read_update(api_for, tree):
    c = api_for("warehouse")
    r = c.post(URL, _body(category=tree["ipc"].pk, tracking="serial", warranty_months=12), format="json")
    assert r.status_code == 201, r.json()
    data = r.json()
    assert data["code"] == "API-1" and data["unit"] == "set" and data["unit_detail"]["code"] == "set"
    assert data["list_price"] == "380.00" and data["category_path"] == "电脑设备 / 工控机"
    pk = data["id"]
    r = c.patch(f"{URL}{pk}/", {"list_price": "399.995"}, format="json")
    assert r.status_code == 200 and r.json()["list_price"] == "400.00"
    r = api_for("manager").get(f"{URL}{pk}/")
    assert r.status_code == 200 and r.json()["name"] == "扫码枪"


@pytest.mark.parametrize(
    ("over", "status", "code", "field"),
    [
        ({"list_price": "-5"}, 400, "invalid", "list_price"),
        ({"tax_rate": "101"}, 400, "invalid", "tax_rate"),
        ({"quantity_decimals": 9}, 400, "invalid", "quantity_decimals"),
        ({"code": ""}, 400, "invalid", "code"),
        ({"tracking": "x"}, 400, "invalid", "tracking"),
        ({"unit": "nope"}, 400, "invalid", "unit"),
    ],
)
def test_bad_input(api_for, over, status, code, field):
    r = api_for("warehouse").post(URL, _body(**over), format="json")
    assert r.status_code == status, r.json()
    body = r.json()
    assert body["code"] == code and body["message"]
    assert field in body["details"] or body["details"].get("field") == field
    assert not Product.objects.exists()


def test_duplicate_code_and_duplicate_warning(api_for):
    c = api_for("warehouse")
    assert c.post(URL, _body(), format="json").status_code == 201
    r = c.post(URL, _body(code="api-1", name="别的"), format="json")
    assert r.status_code == 409 and r.json()["code"] == "duplicate_code"
    assert r.json()["details"]["field"] == "code"
    r = c.post(URL, _body(code="API-2"), format="json")
    assert r.status_code == 409 and r.json()["code"] == "duplicate"
    assert r.json()["details"]["duplicates"][0]["code"] == "API-1"
    r = c.post(URL, _body(code="API-2", confirm_duplicate=True), format="json")
    assert r.status_code == 201


def test_rights_and_404(api_for, make_product):
    p = make_product()
    assert api_for("manager").get(URL).status_code == 200
    r = api_for("manager").post(URL, _body(), format="json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert api_for("executive").patch(f"{URL}{p.pk}/", {"name": "x"}, format="json").status_code == 403
    assert api_for("executive").post(f"{URL}{p.pk}/archive/").status_code == 403
    from kehu.accounts.models import Role

    role = Role.objects.get(code="service_agent")
    role.rights.remove(*role.rights.filter(code__startswith="catalog."))
    assert api_for("service").get(URL).status_code == 403
    assert api_for("service").get(f"{URL}{p.pk}/").status_code == 403
    r = api_for("warehouse").get(f"{URL}999999/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api_for("warehouse").post(f"{URL}999999/archive/").status_code == 404
    assert api_for("warehouse").delete(f"{URL}{p.pk}/").status_code == 405


def test_list_filters(api_for, make_product, tree):
    make_product(code="A-1", name="研华工控机", category=tree["ipc"], tracking="serial", brand="研华")
    make_product(code="B-1", name="硒鼓", category=tree["supplies"], tracking="batch")
    gone = make_product(code="C-1")
    api_for("warehouse").post(f"{URL}{gone.pk}/archive/")
    c = api_for("manager")

    def codes(**params):
        r = c.get(URL, params)
        assert r.status_code == 200
        return [p["code"] for p in r.json()["results"]]

    assert codes() == ["A-1", "B-1"]
    assert codes(category=tree["pc"].pk) == ["A-1"]
    assert codes(tracking="batch") == ["B-1"]
    assert codes(q="yhgkj") == ["A-1"]
    assert codes(brand="研华") == ["A-1"]
    assert codes(archived="true") == ["C-1"]
    assert codes(ordering="-code") == ["B-1", "A-1"]
    assert codes(search="硒鼓") == ["B-1"]


def test_actions(api_for, make_product):
    from PIL import Image

    p = make_product()
    c = api_for("warehouse")
    assert c.post(f"{URL}{p.pk}/discontinue/").json()["is_active"] is False
    assert c.post(f"{URL}{p.pk}/reactivate/").json()["is_active"] is True
    assert c.post(f"{URL}{p.pk}/archive/").json()["archived"] is True
    assert c.post(f"{URL}{p.pk}/restore/").json()["archived"] is False
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    buf.name = "a.png"
    buf.seek(0)
    r = c.post(f"{URL}{p.pk}/images/", {"image": buf}, format="multipart")
    assert r.status_code == 201, r.json()
    image_id = r.json()["id"]
    bad = io.BytesIO(b"nope")
    bad.name = "b.png"
    r = c.post(f"{URL}{p.pk}/images/", {"image": bad}, format="multipart")
    assert r.status_code == 400 and r.json()["details"]["field"] == "image"
    assert len(c.get(f"{URL}{p.pk}/").json()["images"]) == 1
    assert c.delete(f"{URL}{p.pk}/images/{image_id}/").status_code == 204
    assert c.delete(f"{URL}{p.pk}/images/{image_id}/").status_code == 404


def test_labels_endpoint(api_for, make_product):
    from tests.catalog.test_labels import page_count

    a, b = make_product(), make_product()
    r = api_for("executive").post(
        f"{URL}labels/", {"ids": [a.pk, b.pk], "layout": "roll_50x30", "copies": 2}, format="json"
    )
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert page_count(r.content) == 4
    r = api_for("manager").post(f"{URL}labels/", {"ids": [a.pk], "copies": 0}, format="json")
    assert r.status_code == 400 and r.json()["details"]["field"] == "copies"
    assert api_for("manager").post(f"{URL}labels/", {"ids": [999999]}, format="json").status_code == 404


def test_categories(api_for, tree, make_product):
    c = api_for("warehouse")
    rows = c.get(CAT_URL).json()
    assert {r["path"] for r in rows} >= {"电脑设备 / 工控机", "耗材"}
    r = c.post(CAT_URL, {"name": "扫码枪", "parent": tree["pc"].pk}, format="json")
    assert r.status_code == 201
    new = r.json()["id"]
    r = c.patch(f"{CAT_URL}{tree['pc'].pk}/", {"parent": tree["ipc"].pk}, format="json")
    assert r.status_code == 400 and r.json()["details"]["field"] == "parent"
    r = c.post(CAT_URL, {"name": "扫码枪", "parent": tree["pc"].pk}, format="json")
    assert r.status_code == 400
    make_product(category=tree["ipc"])
    r = c.delete(f"{CAT_URL}{tree['ipc'].pk}/")
    assert r.status_code == 409 and r.json()["code"] == "has_products"
    r = c.delete(f"{CAT_URL}{tree['pc'].pk}/")
    assert r.status_code == 409 and r.json()["code"] == "has_children"
    assert c.delete(f"{CAT_URL}{new}/").status_code == 204
    assert not Category.objects.filter(pk=new).exists()
    assert api_for("manager").post(CAT_URL, {"name": "X"}, format="json").status_code == 403
    assert c.get(f"{CAT_URL}999999/").status_code == 404


def test_schema_builds(api_for):
    r = api_for("admin").get("/api/schema/")
    assert r.status_code == 200
    assert b"/api/v1/products/{id}/discontinue/" in r.content
