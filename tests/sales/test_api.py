"""/api/v1/ for the marketing module: same rules, scopes (404) and error shape."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kehu.core.models import DictEntry
from kehu.sales import services
from kehu.sales.models import Opportunity, Stage

pytestmark = pytest.mark.django_db


def test_create_assign_plan_win_through_the_api(api_for, demo):
    mgr, sup = api_for("manager"), api_for("supervisor")
    r = mgr.post(
        "/api/v1/opportunities/",
        {
            "prospect_name": "杭州云帆智能科技有限公司",
            "prospect_contact": "周敏",
            "summary": "采购设备",
            "amount": "1000.005",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    o = r.json()
    assert o["status"] == "unassigned" and o["amount"] == "1000.01" and o["number"].startswith("OPP")
    r = mgr.post(f"/api/v1/opportunities/{o['id']}/assign/", {"to": demo["manager"].pk}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = sup.post(f"/api/v1/opportunities/{o['id']}/assign/", {"to": demo["manager"].pk}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "assigned"
    r = mgr.post(
        f"/api/v1/opportunities/{o['id']}/plan/",
        {"planned_on": str(timezone.localdate()), "todo": "拜访"},
        format="json",
    )
    assert r.status_code == 201
    item = r.json()["id"]
    r = mgr.post(f"/api/v1/plan-items/{item}/outcome/", {"outcome": "有意向"}, format="json")
    assert r.status_code == 200 and r.json()["done"]
    stage = Stage.objects.order_by("order")[2]
    r = mgr.post(f"/api/v1/opportunities/{o['id']}/move/", {"stage": stage.pk}, format="json")
    assert r.status_code == 200 and r.json()["probability"] == stage.probability
    r = mgr.post(f"/api/v1/opportunities/{o['id']}/win/", {}, format="json")
    assert (
        r.status_code == 200
        and r.json()["status"] == "won"
        and r.json()["customer_name"] == "杭州云帆智能科技有限公司"
    )
    r = mgr.post(f"/api/v1/opportunities/{o['id']}/move/", {"stage": stage.pk}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = mgr.get(f"/api/v1/opportunities/{o['id']}/history/")
    assert [h["to_status"] for h in r.json()] == ["unassigned", "assigned", "assigned", "won"]


def test_bad_input_answers_400(api_for, demo):
    mgr = api_for("manager")
    r = mgr.post(
        "/api/v1/opportunities/", {"prospect_name": "x", "summary": "y", "probability": 120}, format="json"
    )
    assert (
        r.status_code == 400
        and r.json()["code"] == "invalid"
        and r.json()["details"]["field"] == "probability"
    )
    r = mgr.post("/api/v1/opportunities/", {"summary": "y"}, format="json")
    assert r.status_code == 400 and r.json()["details"]["field"] == "prospect_name"
    assert not Opportunity.objects.exists()


def test_scope_404_and_readonly(api_for, demo):
    o = services.create_opportunity(by=demo["manager2"], prospect_name="某公司", summary="x")
    mgr = api_for("manager")
    assert mgr.get(f"/api/v1/opportunities/{o.pk}/").status_code == 404
    assert mgr.patch(f"/api/v1/opportunities/{o.pk}/", {"summary": "z"}, format="json").status_code == 404
    assert (
        mgr.post(
            f"/api/v1/opportunities/{o.pk}/move/", {"stage": Stage.objects.first().pk}, format="json"
        ).status_code
        == 404
    )
    assert mgr.delete(f"/api/v1/opportunities/{o.pk}/").status_code == 404
    assert o.pk not in [x["id"] for x in mgr.get("/api/v1/opportunities/").json()["results"]]
    ex = api_for("executive")
    assert ex.get(f"/api/v1/opportunities/{o.pk}/").status_code == 200
    assert (
        ex.post("/api/v1/opportunities/", {"prospect_name": "x", "summary": "y"}, format="json").status_code
        == 403
    )
    assert api_for("warehouse").get("/api/v1/opportunities/").status_code == 403


def test_edit_and_delete_rules(api_for, demo):
    o = services.create_opportunity(by=demo["manager"], prospect_name="某公司", summary="x")
    services.assign_opportunity(o, to=demo["supervisor"], by=demo["supervisor"])
    r = api_for("manager").patch(f"/api/v1/opportunities/{o.pk}/", {"summary": "z"}, format="json")
    assert r.status_code == 403  # assigned to someone else now
    r = api_for("supervisor").patch(
        f"/api/v1/opportunities/{o.pk}/", {"summary": "z", "probability": 55}, format="json"
    )
    assert r.status_code == 200 and r.json()["summary"] == "z" and r.json()["probability"] == 55
    assert api_for("supervisor").delete(f"/api/v1/opportunities/{o.pk}/").status_code == 204
    o.refresh_from_db()
    assert o.is_archived


def test_lose_needs_reason(api_for, demo):
    o = services.create_opportunity(by=demo["manager"], prospect_name="某公司", summary="x")
    services.assign_opportunity(o, to=demo["manager"], by=demo["supervisor"])
    mgr = api_for("manager")
    assert mgr.post(f"/api/v1/opportunities/{o.pk}/lose/", {}, format="json").status_code == 400
    reason = DictEntry.objects.get(type="lost_reason", code="price")
    r = mgr.post(f"/api/v1/opportunities/{o.pk}/lose/", {"reason": reason.pk, "note": "贵"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "lost"


def test_stages_api(api_for):
    assert len(api_for("manager").get("/api/v1/stages/").json()["results"]) == 6
    body = {
        "order": 70,
        "name_zh": "新",
        "name_en": "New",
        "probability": 50,
        "enabled": True,
        "is_won": False,
    }
    assert api_for("manager").post("/api/v1/stages/", body, format="json").status_code == 403
    r = api_for("supervisor").post("/api/v1/stages/", {**body, "probability": 101}, format="json")
    assert r.status_code == 400
    assert api_for("supervisor").post("/api/v1/stages/", body, format="json").status_code == 201


def test_campaign_mailing_api(api_for, demo, django_capture_on_commit_callbacks):
    from kehu.customers import services as cs
    from kehu.customers.models import Contact

    c = cs.create_customer(by=demo["manager"], name="南京金陵电子有限公司")
    cs.save_contact(Contact(customer=c, name="钱总", email="qian@jinling.cn"), by=demo["manager"])
    sup = api_for("supervisor")
    assert api_for("manager").post("/api/v1/campaigns/", {"name": "x"}, format="json").status_code == 403
    r = sup.post(
        "/api/v1/campaigns/", {"name": "推介会", "segment": {"q": "金陵"}, "budget": "100"}, format="json"
    )
    assert r.status_code == 201, r.json()
    camp = r.json()["id"]
    r = sup.post("/api/v1/campaigns/", {"name": "x", "segment": {"bogus": "1"}}, format="json")
    assert r.status_code == 400
    r = sup.post(
        "/api/v1/mailings/",
        {"campaign": camp, "subject": "s", "body": "{{ customer.secret }}"},
        format="json",
    )
    assert r.status_code == 400 and r.json()["details"]["unknown"] == ["customer.secret"]
    r = sup.post(
        "/api/v1/mailings/", {"campaign": camp, "subject": "s", "body": "{{ customer.name }}"}, format="json"
    )
    assert r.status_code == 201
    m = r.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        r = sup.post(f"/api/v1/mailings/{m}/send/")
    assert r.status_code == 200 and r.json()["recipient_count"] == 1
    r = sup.post(f"/api/v1/mailings/{m}/send/")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    recs = sup.get(f"/api/v1/mailing-recipients/?mailing={m}").json()["results"]
    assert [x["status"] for x in recs] == ["sent"]
    r = sup.post(
        f"/api/v1/mailing-recipients/{recs[0]['id']}/convert/",
        {"summary": "报价", "amount": "100"},
        format="json",
    )
    assert r.status_code == 201 and r.json()["campaign"] == camp
    assert api_for("manager").get(f"/api/v1/mailings/{m}/").status_code == 404


def test_forecast_and_board_api(api_for, demo):
    services.create_opportunity(
        by=demo["manager"],
        prospect_name="某公司",
        summary="x",
        amount="100",
        probability=50,
        expected_close=timezone.localdate(),
    )
    r = api_for("supervisor").get("/api/v1/sales-forecast/?months=3")
    assert r.status_code == 200 and r.json()["total"] == "50.00" and len(r.json()["months"]) == 3
    r = api_for("supervisor").get("/api/v1/sales-board/")
    assert r.status_code == 200 and r.json()["columns"][0]["count"] == 1
    assert api_for("supervisor").get("/api/v1/sales-board/?owner=abc").status_code == 400
    assert api_for("warehouse").get("/api/v1/sales-forecast/").status_code == 403
