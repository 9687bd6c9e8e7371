"""Pages: rights, scope (404), forms, the board (fixed queries, moves), forecast, dashboard cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import DictEntry
from kehu.sales import services
from kehu.sales.models import Opportunity, Stage

pytestmark = pytest.mark.django_db


def make(demo, who="manager", assign_to=None, **kw):
    kw.setdefault("prospect_name", "杭州云帆智能科技有限公司")
    kw.setdefault("summary", "采购设备")
    kw.setdefault("amount", "10000")
    o = services.create_opportunity(by=demo[who], **kw)
    if assign_to:
        boss = demo["supervisor"] if assign_to in ("manager", "supervisor") else demo["admin"]
        o = services.assign_opportunity(o, to=demo[assign_to], by=boss)
    return o


def test_every_page_opens(client_for, demo):
    o = make(demo, assign_to="manager")
    services.add_plan_item(o, planned_on=timezone.localdate(), todo="电话沟通", by=demo["manager"])
    c = client_for("supervisor")
    camp = services.create_campaign(by=demo["supervisor"], name="推介会")
    m = services.create_mailing(camp, subject="s", body="{{ customer.name }}", by=demo["supervisor"])
    for name, args in [
        ("sales:list", []),
        ("sales:create", []),
        ("sales:detail", [o.pk]),
        ("sales:board", []),
        ("sales:plan_list", []),
        ("sales:forecast", []),
        ("sales:stage_list", []),
        ("sales:stage_create", []),
        ("sales:stage_edit", [Stage.objects.first().pk]),
        ("sales:campaign_list", []),
        ("sales:campaign_create", []),
        ("sales:campaign_detail", [camp.pk]),
        ("sales:campaign_edit", [camp.pk]),
        ("sales:mailing_create", [camp.pk]),
        ("sales:mailing_detail", [m.pk]),
        ("sales:mailing_edit", [m.pk]),
    ]:
        r = c.get(reverse(name, args=args))
        assert r.status_code == 200, (name, r.status_code)
    r = client_for("manager").get(reverse("sales:edit", args=[o.pk]))
    assert r.status_code == 200
    assert client_for("manager").get(reverse("sales:list") + "?export=xlsx").status_code == 403
    r = c.get(reverse("sales:list") + "?export=xlsx")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")


def test_menu_entries(client_for):
    html = client_for("manager").get("/").content.decode()
    for url in ("sales:list", "sales:board", "sales:plan_list", "sales:forecast", "sales:campaign_list"):
        assert f'data-menu="{url}"' in html
    assert 'data-menu="sales:stage_list"' not in html
    assert 'data-menu="sales:stage_list"' in client_for("supervisor").get("/").content.decode()
    assert 'data-menu="sales:list"' not in client_for("warehouse").get("/").content.decode()


def test_rights(client_for, demo):
    assert client_for("warehouse").get(reverse("sales:list")).status_code == 403
    assert client_for("manager").get(reverse("sales:stage_list")).status_code == 403
    assert client_for("executive").get(reverse("sales:create")).status_code == 403
    assert client_for("executive").get(reverse("sales:list")).status_code == 200  # reads all


def test_out_of_scope_is_404_everywhere(client_for, demo):
    o = make(demo, who="manager2", assign_to="manager2")
    item = services.add_plan_item(o, planned_on=timezone.localdate(), todo="x", by=demo["manager2"])
    c = client_for("manager")
    for name in ("sales:detail", "sales:edit"):
        assert c.get(reverse(name, args=[o.pk])).status_code == 404
    for name in ("sales:move", "sales:win", "sales:lose", "sales:archive", "sales:plan_add"):
        assert c.post(reverse(name, args=[o.pk]), {"stage": Stage.objects.first().pk}).status_code == 404
    assert c.post(reverse("sales:plan_outcome", args=[item.pk]), {"outcome": "x"}).status_code == 404
    assert (
        client_for("supervisor").get(reverse("sales:detail", args=[o.pk])).status_code == 404
    )  # other department
    assert client_for("executive").get(reverse("sales:detail", args=[o.pk])).status_code == 200
    camp = services.create_campaign(by=demo["admin"], name="总部活动")
    assert client_for("supervisor").get(reverse("sales:campaign_detail", args=[camp.pk])).status_code == 404


def test_create_form_and_errors(client_for, demo):
    c = client_for("manager")
    r = c.post(reverse("sales:create"), {"prospect_name": "某公司", "summary": "x", "probability": "150"})
    assert r.status_code == 200 and "probability" in r.context["form"].errors
    r = c.post(reverse("sales:create"), {"summary": "x"})
    assert "prospect_name" in r.context["form"].errors
    r = c.post(reverse("sales:create"), {"prospect_name": "某公司", "summary": "采购", "amount": "1234.5"})
    o = Opportunity.objects.get()
    assert r.status_code == 302 and r["Location"] == o.get_absolute_url()
    assert "assignee" not in c.get(reverse("sales:create")).context["form"].fields  # only supervisors assign
    assert "assignee" in client_for("supervisor").get(reverse("sales:create")).context["form"].fields


def test_assign_as_non_supervisor_is_403(client_for, demo):
    o = make(demo)
    r = client_for("manager").post(reverse("sales:assign", args=[o.pk]), {"to": demo["manager"].pk})
    assert r.status_code == 403
    r = client_for("supervisor").post(reverse("sales:assign", args=[o.pk]), {"to": demo["manager"].pk})
    assert r.status_code == 302
    o.refresh_from_db()
    assert o.assignee == demo["manager"]


def test_editing_someone_elses_opportunity(client_for, demo):
    o = make(demo, assign_to="manager")
    services.assign_opportunity(o, to=demo["supervisor"], by=demo["supervisor"])
    assert (
        client_for("manager").get(reverse("sales:edit", args=[o.pk])).status_code == 403
    )  # creator, not assignee


def test_plan_outcome_win_flow(client_for, demo):
    o = make(demo, assign_to="manager", prospect_contact="周敏", prospect_phone="13912345601")
    c = client_for("manager")
    c.post(
        reverse("sales:plan_add", args=[o.pk]),
        {"planned_on": timezone.localdate().isoformat(), "todo": "拜访"},
    )
    item = o.plan_items.get()
    c.post(reverse("sales:plan_outcome", args=[item.pk]), {"outcome": "有意向"})
    r = c.post(reverse("sales:win", args=[o.pk]), {})
    assert r.status_code == 302
    o.refresh_from_db()
    assert o.status == "won" and o.customer.status == "signed"
    page = c.get(reverse("sales:detail", args=[o.pk])).content.decode()
    assert "有意向" in page and "拜访" in page and o.customer.name in page


def test_lose_without_reason_shows_error(client_for, demo):
    o = make(demo, assign_to="manager")
    r = client_for("manager").post(reverse("sales:lose", args=[o.pk]), {}, follow=True)
    assert "Choose why" in r.content.decode()
    reason = DictEntry.objects.get(type="lost_reason", code="price")
    client_for("manager").post(reverse("sales:lose", args=[o.pk]), {"reason": reason.pk})
    o.refresh_from_db()
    assert o.status == "lost"


# --- the board ------------------------------------------------------------------------------------


def test_board_query_count_is_fixed(client_for, demo):
    c = client_for("supervisor")
    c.get(reverse("sales:board"))  # warm caches (settings, content types)
    make(demo, assign_to="manager")
    with CaptureQueriesContext(connection) as few:
        assert c.get(reverse("sales:board")).status_code == 200
    for i in range(40):
        make(demo, assign_to="manager" if i % 2 else None, summary=f"机会{i}", amount=str(1000 + i))
    with CaptureQueriesContext(connection) as many:
        r = c.get(reverse("sales:board"))
    assert len(many.captured_queries) == len(few.captured_queries)
    col = r.context["board"]["columns"][0]
    assert col["count"] == 41 and len(col["cards"]) == 20 and col["more"] == 21
    assert col["cards"][0].amount >= col["cards"][-1].amount


def test_board_filters(client_for, demo):
    make(demo, assign_to="manager", summary="A")
    make(demo, who="supervisor", summary="B")
    c = client_for("supervisor")
    cols = c.get(reverse("sales:board") + f"?owner={demo['manager'].pk}").context["board"]["columns"]
    assert [o.summary for o in cols[0]["cards"]] == ["A"]
    cols = c.get(reverse("sales:board") + "?owner=me").context["board"]["columns"]
    assert [o.summary for o in cols[0]["cards"]] == ["B"]
    dept = demo["manager"].department_id
    cols = c.get(reverse("sales:board") + f"?department={dept}").context["board"]["columns"]
    assert {o.summary for o in cols[0]["cards"]} == {"A", "B"}


def test_board_move_json(client_for, demo):
    o = make(demo, assign_to="manager")
    stages = list(Stage.objects.order_by("order"))
    c = client_for("manager")
    url = reverse("sales:move", args=[o.pk])
    r = c.post(url, {"stage": stages[2].pk}, HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and r.json()["stage"] == stages[2].pk
    # another user's card: 403 with the error shape (the card snaps back)
    r = client_for("supervisor").post(url, {"stage": stages[3].pk}, HTTP_ACCEPT="application/json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    # won on the board, then any move is refused
    r = c.post(url, {"stage": stages[-1].pk}, HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and r.json()["status"] == "won"
    r = c.post(url, {"stage": stages[1].pk}, HTTP_ACCEPT="application/json")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition" and r.json()["message"]
    o.refresh_from_db()
    assert o.status == "won" and o.stage == stages[-1]


# --- forecast, dashboard, customer panel ----------------------------------------------------------


def test_forecast_weighted_by_month_owner_stage(client_for, demo):
    today = timezone.localdate()
    nxt = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    make(demo, assign_to="manager", amount="100000", probability=30, expected_close=nxt)
    make(demo, assign_to="manager", amount="50000", probability=50, expected_close=nxt + timedelta(days=3))
    make(demo, who="supervisor", amount="10000.01", probability=33, expected_close=today)
    won = make(demo, assign_to="manager", amount="7000")
    services.win_opportunity(won, by=demo["manager"])
    lost = make(demo, assign_to="manager", amount="3000", prospect_name="另一家公司")
    services.lose_opportunity(
        lost, reason=DictEntry.objects.get(type="lost_reason", code="price"), by=demo["manager"]
    )
    from kehu.sales.selectors import forecast

    forecast(demo["supervisor"], months=3)  # the user's roles and departments are read once
    with CaptureQueriesContext(connection) as q:
        f = forecast(demo["supervisor"], months=3)
    # the open pipeline, the closed ones, their users, the stages (+ the scope's department tree)
    assert len(q.captured_queries) <= 6, [x["sql"][:80] for x in q.captured_queries]
    months = {m["month"]: m["weighted"] for m in f["months"]}
    assert str(months[nxt]) == "55000.00"
    assert str(months[today.replace(day=1)]) == "3300.00"  # 10000.01 × 33% = 3300.0033 → 3300.00
    mgr = next(o for o in f["owners"] if o["user"] == demo["manager"])
    assert str(mgr["weighted"]) == "55000.00" and mgr["n"] == 2
    rate = next(r for r in f["rates"] if r["user"] == demo["manager"])
    assert (
        rate["won"] == 1 and rate["closed"] == 2 and rate["rate"] == 50.0 and rate["cycle_days"] is not None
    )
    r = client_for("supervisor").get(reverse("sales:forecast"))
    assert r.status_code == 200 and "forecast-chart" in r.content.decode()


def test_dashboard_cards(client_for, demo):
    o = make(demo, assign_to="manager", expected_close=timezone.localdate() - timedelta(days=2))
    services.add_plan_item(o, planned_on=timezone.localdate(), todo="今天要打电话", by=demo["manager"])
    html = client_for("manager").get("/").content.decode()
    assert 'id="sales-reminders"' in html and "今天要打电话" in html and o.number in html
    assert 'id="sales-forecast"' not in html
    sup = client_for("supervisor").get("/").content.decode()
    assert 'id="sales-forecast"' in sup and "echarts.min.js" in sup


def test_customer_panel(client_for, demo):
    from kehu.customers import services as cs

    cust = cs.create_customer(by=demo["manager"], name="南京金陵电子有限公司")
    o = make(demo, customer=cust, prospect_name="")
    html = client_for("manager").get(reverse("customers:detail", args=[cust.pk])).content.decode()
    assert o.number in html and 'id="customer-opportunities"' in html


def test_customer_picker_is_scoped(client_for, demo):
    from kehu.customers import services as cs

    cs.create_customer(by=demo["manager2"], name="广州南方贸易有限公司")
    cs.create_customer(by=demo["manager"], name="广州北方贸易有限公司")
    r = client_for("manager").get(reverse("sales:customer_options") + "?q=广州")
    assert [x["text"].split(" ")[0] for x in r.json()["results"]] == ["广州北方贸易有限公司"]


def test_campaign_and_mailing_pages(client_for, demo, django_capture_on_commit_callbacks):
    from kehu.customers import services as cs
    from kehu.customers.models import Contact

    cust = cs.create_customer(by=demo["manager"], name="南京金陵电子有限公司")
    cs.save_contact(Contact(customer=cust, name="钱总", email="qian@jinling.cn"), by=demo["manager"])
    c = client_for("supervisor")
    r = c.post(reverse("sales:campaign_create"), {"name": "推介会", "status": "running", "seg_q": "金陵"})
    assert r.status_code == 302
    from kehu.sales.models import Campaign, Mailing, Recipient

    camp = Campaign.objects.get()
    assert camp.segment == {"q": "金陵"}
    page = c.get(camp.get_absolute_url()).content.decode()
    assert "1 customers, 1 contacts" in page or "1 customer" in page
    r = c.post(
        reverse("sales:mailing_create", args=[camp.pk]), {"subject": "hi", "body": "{{ customer.nmae }}"}
    )
    assert r.status_code == 200 and "customer.nmae" in r.content.decode()
    r = c.post(
        reverse("sales:mailing_create", args=[camp.pk]),
        {"subject": "{{ customer.name }}", "body": "您好{{ contact.name }}"},
    )
    m = Mailing.objects.get()
    page = c.get(m.get_absolute_url()).content.decode()
    assert "南京金陵电子有限公司" in page and "您好钱总" in page  # the preview
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(reverse("sales:mailing_send", args=[m.pk]))
    m.refresh_from_db()
    assert m.status == "sent" and Recipient.objects.get().status == "sent"
    r = c.post(reverse("sales:mailing_send", args=[m.pk]), follow=True)
    assert "sent once" in r.content.decode()
    rec = Recipient.objects.get()
    r = c.post(reverse("sales:recipient_convert", args=[rec.pk]), {"summary": "要报价", "amount": "5000"})
    opp = Opportunity.objects.get()
    assert r["Location"] == opp.get_absolute_url() and opp.campaign == camp
    assert client_for("manager").post(reverse("sales:recipient_respond", args=[rec.pk])).status_code == 403
