"""/api/v1/inventory/…: rights, 404, the error shape, documents end to end."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kehu.inventory.models import SerialUnit, StockNote

from .conftest import issue, qty, receive

pytestmark = pytest.mark.django_db
API = "/api/v1/inventory"


@pytest.fixture
def stocked(wh, products, keeper, customer):
    receive(products["plain"], wh["a"], 10, by=keeper, cost="2")
    receive(products["serial"], wh["a"], 2, by=keeper, cost="100", serials=["K1", "K2"])
    issue(products["serial"], wh["a"], 1, by=keeper, serials=["K2"], customer=customer)
    return products


def _receipt(wh, p, **over):
    body = {
        "kind": "receipt",
        "warehouse": wh.pk,
        "reason": "purchase_receipt",
        "partner": "供应商",
        "lines": [{"product": p.pk, "quantity": "3", "unit_cost": "9.5"}],
    }
    body.update(over)
    return body


def test_reads(api_for, stocked, wh):
    api = api_for("manager")
    r = api.get(f"{API}/stock/", {"q": "P-PLAIN"})
    assert r.status_code == 200 and r.json()["count"] == 1
    row = r.json()["results"][0]
    assert row["quantity"] == "10.0000" and row["available"] == "10.0000"
    assert api.get(f"{API}/moves/", {"reason": "sales_issue"}).json()["count"] == 1
    assert api.get(f"{API}/warehouses/").json()["count"] == 2
    units = api.get(f"{API}/serials/lookup/", {"serial": "K2"}).json()
    assert units[0]["status"] == "delivered" and units[0]["customer_name"]
    hist = api.get(f"{API}/serials/{units[0]['id']}/history/").json()
    assert [h["kind"] for h in hist] == ["purchase_receipt", "sales_issue"]
    month = f"{timezone.localdate():%Y-%m}"
    summary = api.get(f"{API}/stock-summary/", {"month": month, "page_size": 1}).json()
    assert summary["count"] == 2 and len(summary["results"]) == 1 and summary["next"]
    first = summary["results"][0]
    assert first["product"]["code"] == "P-PLAIN" and (first["received"], first["closing"]) == ("10.0000",) * 2
    assert api.get(f"{API}/stock-summary/", {"month": "x"}).json()["code"] == "invalid"
    assert api.get(f"{API}/alerts/").json() == []


def test_unknown_ids_404(api_for, stocked):
    api = api_for("warehouse")
    for res in ("warehouses", "stock", "moves", "notes", "transfers", "stocktakes", "serials"):
        r = api.get(f"{API}/{res}/999999/")
        assert r.status_code == 404 and r.json()["code"] == "not_found", res


def test_rights(api_for, wh, products, demo):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    c = APIClient()
    c.force_authenticate(UserFactory(username="nobody"))
    assert c.get(f"{API}/stock/").status_code == 403
    assert (
        api_for("manager")
        .post(f"{API}/notes/", _receipt(wh["a"], products["plain"]), format="json")
        .status_code
        == 403
    )
    assert (
        api_for("executive")
        .post(f"{API}/notes/", _receipt(wh["a"], products["plain"]), format="json")
        .status_code
        == 403
    )
    assert (
        api_for("manager").get(f"{API}/recall/", {"product": products["serial"].pk, "batch": "x"}).status_code
        == 403
    )
    assert StockNote.objects.count() == 0


def test_note_lifecycle(api_for, wh, products):
    api = api_for("warehouse")
    r = api.post(f"{API}/notes/", _receipt(wh["a"], products["plain"]), format="json")
    assert r.status_code == 201, r.json()
    note = r.json()
    assert note["status"] == "draft" and note["number"].startswith("RK")
    r = api.patch(
        f"{API}/notes/{note['id']}/",
        _receipt(
            wh["a"],
            products["plain"],
            lines=[{"product": products["plain"].pk, "quantity": "4", "unit_cost": "10"}],
        ),
        format="json",
    )
    assert r.json()["lines"][0]["quantity"] == "4.0000"
    r = api.post(f"{API}/notes/{note['id']}/post/")
    assert r.json()["status"] == "posted" and qty(products["plain"], wh["a"]) == 4
    r = api.post(f"{API}/notes/{note['id']}/post/")
    assert r.status_code == 409 and r.json()["code"] == "not_draft"
    r = api.patch(f"{API}/notes/{note['id']}/", _receipt(wh["a"], products["plain"]), format="json")
    assert r.status_code == 409
    r = api.post(f"{API}/notes/{note['id']}/reverse/")
    assert r.status_code == 201 and r.json()["reverses"] == note["id"]
    assert qty(products["plain"], wh["a"]) == 0


def test_note_errors(api_for, wh, products, stocked):
    api = api_for("warehouse")
    r = api.post(
        f"{API}/notes/",
        {
            "kind": "issue",
            "warehouse": wh["a"].pk,
            "reason": "other_issue",
            "post": True,
            "lines": [{"product": products["plain"].pk, "quantity": "11"}],
        },
        format="json",
    )
    assert r.status_code == 409 and r.json()["code"] == "insufficient_stock"
    assert r.json()["details"]["available"] == "10"
    r = api.post(
        f"{API}/notes/",
        _receipt(
            wh["a"],
            products["serial"],
            post=True,
            lines=[
                {
                    "product": products["serial"].pk,
                    "quantity": "3",
                    "unit_cost": "1",
                    "serials": ["K1", "K2", "N1"],
                }
            ],
        ),
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_serials"
    assert r.json()["details"]["serials"] == {"K1": "already in stock", "K2": "delivered to a customer"}
    r = api.post(
        f"{API}/notes/",
        _receipt(wh["a"], products["plain"], lines=[{"product": products["plain"].pk, "quantity": "0"}]),
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    assert StockNote.objects.count() == 0 and not SerialUnit.objects.filter(serial="N1").exists()


def test_transfer_and_stocktake(api_for, wh, stocked):
    api = api_for("warehouse")
    r = api.post(
        f"{API}/transfers/",
        {
            "from_warehouse": wh["a"].pk,
            "to_warehouse": wh["a"].pk,
            "lines": [{"product": stocked["plain"].pk, "quantity": "1"}],
        },
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == "same_warehouse"
    r = api.post(
        f"{API}/transfers/",
        {
            "from_warehouse": wh["a"].pk,
            "to_warehouse": wh["b"].pk,
            "post": True,
            "lines": [{"product": stocked["serial"].pk, "quantity": "1", "serials": ["K1"]}],
        },
        format="json",
    )
    assert r.status_code == 201 and r.json()["status"] == "posted"
    assert SerialUnit.objects.get(serial="K1").warehouse == wh["b"]
    r = api.post(f"{API}/stocktakes/", {"warehouse": wh["b"].pk}, format="json")
    st = r.json()
    assert st["serials_in_book"] == 1
    r = api.post(f"{API}/stocktakes/{st['id']}/counts/", {"serials": ["K1", "BAD"]}, format="json")
    assert r.json()["serial_result"]["counted"] == 1 and "BAD" in r.json()["serial_result"]["errors"]
    assert api.post(f"{API}/stocktakes/{st['id']}/post/").json()["status"] == "posted"
    r = api.post(f"{API}/stocktakes/{st['id']}/post/")
    assert r.status_code == 409 and r.json()["code"] == "not_counting"


def test_serial_check_safety_and_recall(api_for, wh, stocked, customer):
    api = api_for("warehouse")
    r = api.get(f"{API}/serials/check/", {"product": stocked["serial"].pk, "serial": "K1", "mode": "in"})
    assert r.json() == {"ok": False, "serial": "K1", "message": "already in stock"}
    r = api.post(
        f"{API}/safety-stock/",
        {"product": stocked["plain"].pk, "warehouse": wh["a"].pk, "minimum": "12"},
        format="json",
    )
    assert r.status_code == 201
    alerts = api.get(f"{API}/alerts/").json()
    assert alerts[0]["product"]["code"] == "P-PLAIN" and alerts[0]["shortage"] == "2.0000"
    SerialUnit.objects.update(batch="LOT9")
    r = api.get(f"{API}/recall/", {"product": stocked["serial"].pk, "batch": "LOT9"})
    assert r.json()["count"] == 2
    held = [u for u in r.json()["results"] if u["customer"]]
    assert held[0]["customer"] == customer.pk and held[0]["delivery_number"] == "T2"
    r = api.get(f"{API}/recall/", {"product": stocked["serial"].pk})
    assert r.status_code == 400


def test_warehouse_api(api_for):
    api = api_for("warehouse")
    r = api.post(f"{API}/warehouses/", {"code": "gz", "name": "广州仓"}, format="json")
    assert r.status_code == 201 and r.json()["code"] == "GZ"
    r = api.post(f"{API}/warehouses/", {"code": "GZ", "name": "again"}, format="json")
    assert r.status_code == 400
    wid = api.get(f"{API}/warehouses/").json()["results"][0]["id"]
    assert (
        api.patch(f"{API}/warehouses/{wid}/", {"name": "广州一仓"}, format="json").json()["name"]
        == "广州一仓"
    )
    assert api.post(f"{API}/warehouses/{wid}/archive/").status_code == 200
    assert (
        api_for("manager").post(f"{API}/warehouses/", {"code": "X", "name": "x"}, format="json").status_code
        == 403
    )


def test_schema_lists_the_inventory_endpoints(client_for):
    paths = client_for("warehouse").get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "notes/",
        "notes/{id}/post/",
        "serials/lookup/",
        "stock-summary/",
        "recall/",
        "stocktakes/{id}/counts/",
    ):
        assert f"/api/v1/inventory/{path}" in paths, path


def test_the_serial_lookup_answers_every_field_in_one_query(stocked, django_assert_num_queries):
    from kehu.inventory import selectors
    from kehu.inventory.serializers import SerialUnitSerializer

    for serial in ("K1", "K2"):  # in stock (a warehouse), delivered (a customer)
        full = SerialUnitSerializer(selectors.serial_units().filter(serial=serial), many=True).data
        with django_assert_num_queries(1):
            found = SerialUnitSerializer(selectors.find_serial(serial), many=True).data
        assert found == full and found[0]["product"]["code"] == "P-SN"
    assert found[0]["customer_name"] and full[0]["warehouse"] is None


def test_costs_and_values_only_for_those_who_may_see_them(api_for, stocked, wh):
    body = _receipt(wh["a"], stocked["plain"])
    note = api_for("warehouse").post(f"{API}/notes/", body, format="json").json()
    month = f"{timezone.localdate():%Y-%m}"
    cost_fields = {
        "stock/": {"value"},
        "moves/": {"unit_cost", "amount"},
        "stock-summary/": {"opening_value", "received_value", "issued_value", "closing_value"},
    }
    for role, sees in (("warehouse", True), ("manager", False)):
        api = api_for(role)
        assert api.get(f"{API}/stock/").status_code == 200
        for path, fields in cost_fields.items():
            row = api.get(f"{API}/{path}", {"month": month}).json()["results"][0]
            assert (fields <= set(row)) is sees and (fields & set(row) == set()) is not sees, (role, path)
        line = api.get(f"{API}/notes/{note['id']}/").json()["lines"][0]
        assert ("unit_cost" in line) is sees
