"""The customer list (filters, sort, export, archived, bulk assign), the public pool and the
other lists of the module."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from kehu.core.settings_store import set_setting
from kehu.customers import demo as customers_demo
from kehu.customers import services
from kehu.customers.models import ChurnCase, Customer, FieldVisit
from tests.customers.test_views_helpers import (
    add_activity,
    add_contact,
    make_customer,
    make_pool_customer,
    text,
)

LIST = reverse("customers:list")


def link(customer) -> str:
    return f'href="{reverse("customers:detail", args=[customer.pk])}"'


@pytest.fixture
def three(demo):
    m = demo["manager"]
    hx = make_customer(m, "北京华夏科技有限公司", phone="010-6552 1234", status="signed")
    add_contact(hx, m, mobile="13800138000")
    df = make_customer(m, "上海东方电子有限公司", short_name="东方电子", status="prospect")
    other = make_customer(demo["manager2"], "广州恒信贸易有限公司", phone="020-88886666")
    return hx, df, other


def test_q_finds_by_name_pinyin_and_phone_in_any_spelling(three, client_for):
    hx, df, other = three
    c = client_for("manager")

    def page(q):
        return text(c.get(LIST, {"q": q}))

    by_name = page("华夏")
    assert link(hx) in by_name and link(df) not in by_name
    by_short_name = page("东方")
    assert link(df) in by_short_name and link(hx) not in by_short_name
    assert link(hx) in page("bjhx"), "pinyin initials of the name"
    assert link(df) in page("DFDZ"), "pinyin initials of the short name, any case"
    assert link(hx) not in page("hx"), "pinyin matches from the start"
    contact_mobile = page("+86 138-0013-8000")
    assert link(hx) in contact_mobile and link(df) not in contact_mobile
    assert link(hx) in page("(010) 6552-1234"), "the customer's own phone, other spelling"
    assert link(hx) in page(hx.number)
    assert link(other) not in page("020-88886666"), "manager2's customer stays out of scope"


def test_q_finds_a_demo_customer_by_its_pinyin(demo, client_for):
    customers_demo.load()
    customer = Customer.objects.filter(owner=demo["manager"]).exclude(short_name="").order_by("pk").first()
    assert customer.pinyin
    resp = client_for("manager").get(LIST, {"q": customer.pinyin, "per_page": 200})
    assert link(customer) in text(resp)


def test_filters_status_owner_tag_and_dates(three, demo, client_for):
    hx, df, other = three
    services.update_customer(hx, by=demo["manager"], tags=["老客户", "政府项目"])
    c = client_for("supervisor")
    signed = text(c.get(LIST, {"status": "signed"}))
    assert link(hx) in signed and link(df) not in signed
    from kehu.customers.models import Tag

    tagged = text(c.get(LIST, {"tag": Tag.objects.get(name="政府项目").pk}))
    assert link(hx) in tagged and link(df) not in tagged
    mine = text(client_for("manager").get(LIST, {"owner": "me"}))
    assert link(hx) in mine and link(df) in mine
    today = timezone.localdate()
    created = text(c.get(LIST, {"created_from": today.isoformat(), "created_to": today.isoformat()}))
    assert link(hx) in created
    future = text(c.get(LIST, {"created_from": (today + timedelta(days=1)).isoformat()}))
    assert link(hx) not in future
    add_activity(hx, demo["manager"])
    contacted = text(c.get(LIST, {"contact_from": today.isoformat()}))
    assert link(hx) in contacted and link(df) not in contacted


def test_list_scope_and_pool_owner_filter(three, demo, client_for):
    hx, df, other = three
    pooled = make_pool_customer(demo["manager"])
    manager = text(client_for("manager").get(LIST))
    assert link(hx) in manager and link(other) not in manager
    assert link(pooled) not in manager, "the pool has its own page"
    assert link(pooled) in text(client_for("manager").get(LIST, {"owner": "pool"}))
    supervisor = text(client_for("supervisor").get(LIST))
    assert link(hx) in supervisor and link(other) not in supervisor, "manager2 works in another department"
    executive = text(client_for("executive").get(LIST))
    assert link(other) in executive and link(hx) in executive


def test_sort_by_name_both_ways(three, client_for):
    hx, df, _other = three
    c = client_for("manager")
    up = text(c.get(LIST, {"sort": "name"}))
    down = text(c.get(LIST, {"sort": "-name"}))
    # 上海… sorts before 北京… by code point (U+4E0A < U+5317)
    assert up.index(link(df)) < up.index(link(hx))
    assert down.index(link(hx)) < down.index(link(df))
    assert c.get(LIST, {"sort": "password"}).status_code == 200, "an unknown sort falls back to the default"


def _sheet(resp):
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


def test_export_is_what_is_filtered_and_needs_the_right(three, client_for):
    hx, df, other = three
    resp = client_for("supervisor").get(LIST, {"q": "华夏", "export": "xlsx"})
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = _sheet(resp)
    header = rows[0]
    assert header[:2] == ["Number", "Name"] and "Phone" in header and "Tags" in header
    assert [r[1] for r in rows[1:]] == ["北京华夏科技有限公司"]
    assert rows[1][header.index("Phone")] == "010-6552 1234"
    everything = [r[1] for r in _sheet(client_for("supervisor").get(LIST, {"export": "xlsx"}))[1:]]
    assert "上海东方电子有限公司" in everything
    assert "广州恒信贸易有限公司" not in everything, "rows outside the supervisor's scope are not exported"
    for username in ("manager", "executive", "warehouse"):
        c = client_for(username)
        assert c.get(LIST, {"export": "xlsx"}).status_code == 403, username
        assert "export-xlsx" not in text(c.get(LIST)), "no export button without the right"


def test_archived_toggle(three, demo, client_for):
    hx, df, _other = three
    c = client_for("manager")
    assert c.post(reverse("customers:archive", args=[df.pk])).status_code == 302
    assert link(df) not in text(c.get(LIST))
    assert link(df) in text(c.get(LIST, {"archived": "1"}))
    c.post(reverse("customers:restore", args=[df.pk]))
    assert link(df) in text(c.get(LIST))


def test_supervisor_bulk_assigns_with_the_owners_seen(three, demo, client_for):
    hx, df, _other = three
    c = client_for("supervisor")
    page = text(c.get(LIST))
    assert 'id="bulk-form"' in page and f'name="owner_{hx.pk}" value="{demo["manager"].pk}"' in page
    resp = c.post(
        reverse("customers:bulk_assign"),
        {
            "ids": [hx.pk, df.pk],
            "to": demo["supervisor"].pk,
            f"owner_{hx.pk}": demo["manager"].pk,
            f"owner_{df.pk}": demo["manager"].pk,
            "next": LIST + "?status=signed",
        },
    )
    assert resp.status_code == 302 and resp["Location"] == LIST + "?status=signed"
    assert set(Customer.objects.filter(pk__in=[hx.pk, df.pk]).values_list("owner__username", flat=True)) == {
        "supervisor"
    }
    assert "2 customers now belong to" in text(c.get(LIST))


def test_bulk_assign_refuses_when_someone_transferred_meanwhile(three, demo, client_for):
    hx, df, _other = three
    c = client_for("supervisor")
    # what the supervisor saw: hx owned by manager; meanwhile the administrator gave it to supervisor
    services.assign_customers([hx], to=demo["supervisor"], by=demo["admin"])
    resp = c.post(
        reverse("customers:bulk_assign"),
        {
            "ids": [hx.pk, df.pk],
            "to": demo["manager"].pk,
            f"owner_{hx.pk}": demo["manager"].pk,
            f"owner_{df.pk}": demo["manager"].pk,
        },
        follow=True,
    )
    assert "transferred by someone else meanwhile" in text(resp)
    hx.refresh_from_db()
    df.refresh_from_db()
    assert hx.owner == demo["supervisor"] and df.owner == demo["manager"], "nothing changed"


def test_bulk_assign_needs_the_right_and_the_scope(three, demo, client_for):
    hx, _df, other = three
    assert (
        client_for("manager")
        .post(reverse("customers:bulk_assign"), {"ids": [hx.pk], "to": demo["manager"].pk})
        .status_code
        == 403
    )
    assert "bulk-form" not in text(client_for("manager").get(LIST))
    assert (
        client_for("executive")
        .post(reverse("customers:bulk_assign"), {"ids": [hx.pk], "to": demo["manager"].pk})
        .status_code
        == 403
    )
    resp = client_for("supervisor").post(
        reverse("customers:bulk_assign"), {"ids": [other.pk], "to": demo["manager"].pk}
    )
    assert resp.status_code == 404, "a customer outside the supervisor's department"
    other.refresh_from_db()
    assert other.owner == demo["manager2"]


def test_pool_lists_unowned_customers_and_claims_within_the_limit(demo, client_for):
    m2 = demo["manager2"]
    first = make_pool_customer(m2, "上海公海一号有限公司")
    second = make_pool_customer(m2, "上海公海二号有限公司")
    moved = make_customer(m2, "上海放弃贸易有限公司")
    services.release_to_pool(moved, by=m2, reason="客户搬迁到外省，无法跟进")
    owned = make_customer(m2, "上海有主贸易有限公司")
    set_setting("customers.pool_claim_limit", 1, by=demo["admin"])
    c = client_for("manager")
    page = text(c.get(reverse("customers:pool")))
    assert link(first) in page and link(second) in page and link(owned) not in page
    assert "Why it was released" in page and "客户搬迁到外省，无法跟进" in page
    assert f'data-claim="{first.pk}"' in page
    resp = c.post(
        reverse("customers:claim", args=[first.pk]), {"next": reverse("customers:pool")}, follow=True
    )
    assert resp.redirect_chain[-1][0] == reverse("customers:pool")
    assert "is yours now" in text(resp)
    first.refresh_from_db()
    assert first.owner == demo["manager"]
    resp = c.post(reverse("customers:claim", args=[second.pk]), follow=True)
    assert "daily limit" in text(resp)
    second.refresh_from_db()
    assert second.owner is None
    assert "data-claim" not in text(client_for("executive").get(reverse("customers:pool")))
    assert client_for("executive").post(reverse("customers:claim", args=[second.pk])).status_code == 403


def test_contact_list_is_scoped_and_searchable(three, demo, client_for):
    hx, _df, other = three
    add_contact(other, demo["manager2"], name="赵六", mobile="13900001111")
    page = text(client_for("manager").get(reverse("customers:contact_list"), {"q": "138 0013 8000"}))
    assert "张明" in page and 'href="tel:13800138000"' in page
    assert "赵六" not in text(client_for("manager").get(reverse("customers:contact_list")))
    assert client_for("manager").get(reverse("customers:contact_list"), {"export": "xlsx"}).status_code == 403


def test_activity_list_filters_and_unread_comments(three, demo, client_for):
    hx, df, other = three
    m = demo["manager"]
    a1 = add_activity(hx, m, "首次拜访华夏")
    add_activity(df, m, "电话东方")
    add_activity(other, demo["manager2"], "渠道拜访")
    services.comment_activity(a1, comment="尽快报价", by=demo["supervisor"])
    c = client_for("manager")
    url = reverse("customers:activity_list")
    page = text(c.get(url))
    assert "首次拜访华夏" in page and "电话东方" in page and "渠道拜访" not in page
    unread = text(c.get(url, {"unread": "on"}))
    assert "首次拜访华夏" in unread and "电话东方" not in unread
    by_customer = text(c.get(url, {"customer": "东方"}))
    assert "电话东方" in by_customer and "首次拜访华夏" not in by_customer
    supervisor = text(client_for("supervisor").get(url, {"author": m.pk}))
    assert "首次拜访华夏" in supervisor and "渠道拜访" not in supervisor
    assert "渠道拜访" in text(client_for("executive").get(url))


def test_visit_list_by_week_and_user(three, demo, client_for):
    hx, df, _other = three
    m = demo["manager"]
    today = timezone.localdate()
    next_week = today + timedelta(days=7)
    services.plan_field_visit(customer=hx, by=m, planned_on=today, purpose="本周拜访华夏")
    services.plan_field_visit(customer=df, by=m, planned_on=next_week, purpose="下周拜访东方")
    c = client_for("manager")
    url = reverse("customers:visit_list")
    this = text(c.get(url))
    assert "本周拜访华夏" in this and "下周拜访东方" not in this, "this week by default"
    nxt = text(c.get(url, {"week": "next"}))
    assert "下周拜访东方" in nxt and "本周拜访华夏" not in nxt
    ranged = text(c.get(url, {"week": "", "since": today.isoformat(), "until": next_week.isoformat()}))
    assert "下周拜访东方" in ranged and "本周拜访华夏" in ranged
    assert "Week " in ranged, "grouped by week"
    assert "本周拜访华夏" in text(client_for("supervisor").get(url, {"user": m.pk}))
    assert "本周拜访华夏" not in text(client_for("manager2").get(url))
    assert FieldVisit.objects.count() == 2


def test_churn_list_shows_open_cases_of_the_department(three, demo, client_for):
    hx, df, other = three
    ChurnCase.objects.create(customer=hx)
    ChurnCase.objects.create(customer=other)
    closed = ChurnCase.objects.create(customer=df, status=ChurnCase.Status.RECOVERED)
    url = reverse("customers:churn_list")
    page = text(client_for("supervisor").get(url))
    assert "北京华夏科技有限公司" in page and "广州恒信贸易有限公司" not in page
    assert reverse("customers:churn_detail", args=[closed.pk]) not in page, "open or deferred by default"
    everything = text(client_for("supervisor").get(url, {"status": ""}))
    assert reverse("customers:churn_detail", args=[closed.pk]) in everything
    assert "广州恒信贸易有限公司" in text(client_for("manager2").get(url))


def test_pages_need_the_view_right(demo, client_for):
    from kehu.accounts.models import User

    nobody = User.objects.create_user("nobody", password="x")
    from django.test import Client

    c = Client()
    c.force_login(nobody)
    for name in [
        "customers:list",
        "customers:pool",
        "customers:contact_list",
        "customers:caller_id",
        "customers:activity_list",
        "customers:visit_list",
        "customers:churn_list",
        "customers:create",
    ]:
        assert c.get(reverse(name)).status_code == 403, name
    assert client_for("warehouse").get(LIST).status_code == 200, "warehouse may look customers up"
    assert client_for("warehouse").get(reverse("customers:create")).status_code == 403
