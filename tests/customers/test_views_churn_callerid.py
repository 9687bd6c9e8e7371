"""Churn cases (defer, confirm lost, recover), the caller ID page and the dashboard's customer cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.customers import services
from kehu.customers.models import ChurnCase, ChurnMeasure, Customer
from tests.customers.test_views_helpers import add_activity, add_contact, entry, make_customer, text


@pytest.fixture
def case(demo):
    c = make_customer(demo["manager"], "北京华夏科技有限公司", status="signed")
    return ChurnCase.objects.create(customer=c, last_order_at=timezone.now() - timedelta(days=200))


def url(case) -> str:
    return reverse("customers:churn_detail", args=[case.pk])


def test_defer_with_a_measure_and_follow_up(case, demo, client_for):
    c = client_for("manager")
    page = text(c.get(url(case)))
    assert 'id="defer-form"' in page and 'id="confirm-form"' in page
    follow = (timezone.localdate() + timedelta(days=14)).isoformat()
    resp = c.post(
        url(case),
        {"action": "defer", "defer-measure": "总经理上门拜访，给予季度折扣", "defer-follow_up_on": follow},
    )
    assert resp.status_code == 302
    case.refresh_from_db()
    assert case.status == "deferred"
    m = ChurnMeasure.objects.get()
    assert (
        m.measure.startswith("总经理上门")
        and m.follow_up_on.isoformat() == follow
        and m.author == demo["manager"]
    )
    assert "总经理上门拜访" in text(c.get(url(case)))


def test_defer_without_a_measure_shows_the_error(case, client_for):
    resp = client_for("manager").post(url(case), {"action": "defer", "defer-measure": ""})
    assert resp.status_code == 200 and "This field is required" in text(resp)
    case.refresh_from_db()
    assert case.status == "open" and not ChurnMeasure.objects.exists()


def test_confirm_lost_sets_the_customer_lost(case, demo, client_for):
    c = client_for("supervisor")
    resp = c.post(url(case), {"action": "confirm", "confirm-reason": ""})
    assert resp.status_code == 200 and "This field is required" in text(resp)
    reason = entry("lost_reason", "competitor")
    resp = c.post(url(case), {"action": "confirm", "confirm-reason": reason.pk})
    assert resp.status_code == 302
    case.refresh_from_db()
    assert case.status == "confirmed" and case.reason == reason and case.closed_by == demo["supervisor"]
    assert Customer.objects.get(pk=case.customer_id).status == "lost"
    page = text(c.get(url(case)))
    assert 'id="defer-form"' not in page, "a closed case offers no actions"
    resp = c.post(url(case), {"action": "recover"}, follow=True)
    assert "not allowed" in text(resp)


def test_recover(case, client_for):
    client_for("manager").post(url(case), {"action": "recover"})
    case.refresh_from_db()
    assert case.status == "recovered"


def test_churn_rights(case, demo, client_for):
    assert client_for("manager2").get(url(case)).status_code == 404
    assert client_for("executive").get(url(case)).status_code == 200
    assert client_for("executive").post(url(case), {"action": "recover"}).status_code == 403
    assert 'id="defer-form"' not in text(client_for("executive").get(url(case)))
    resp = client_for("service").post(url(case), {"action": "recover"}, follow=True)
    assert "handles the churn case" in text(resp)
    case.refresh_from_db()
    assert case.status == "open"


# --- caller ID -------------------------------------------------------------------------------------------


def test_caller_id_shows_customer_contact_and_last_three_activities(demo, client_for):
    m = demo["manager"]
    hx = make_customer(m, "北京华夏科技有限公司", phone="010-6552 1234")
    add_contact(hx, m, name="张明", mobile="13800138000", title="采购经理")
    start = timezone.now() - timedelta(days=10)
    for i in range(4):
        add_activity(hx, m, f"第{i}次通话", happened_at=start + timedelta(days=i))
    c = client_for("manager")
    page = text(c.get(reverse("customers:caller_id"), {"number": "+86 138-0013-8000"}))
    assert "北京华夏科技有限公司" in page and "张明" in page and "采购经理" in page
    assert "第3次通话" in page and "第2次通话" in page and "第1次通话" in page and "第0次通话" not in page
    assert 'href="tel:13800138000"' in page and 'href="tel:01065521234"' in page
    company_line = text(c.get(reverse("customers:caller_id"), {"number": "(010) 6552-1234 转 808"}))
    assert "北京华夏科技有限公司" in company_line and "own number." in company_line


def test_caller_id_scope_and_bad_numbers(demo, client_for):
    make_customer(demo["manager2"], "广州恒信贸易有限公司", phone="020-88886666")
    c = client_for("manager")
    page = text(c.get(reverse("customers:caller_id"), {"number": "020 8888 6666"}))
    assert "广州恒信贸易有限公司" not in page and 'id="no-match"' in page
    assert "广州恒信贸易有限公司" in text(
        client_for("executive").get(reverse("customers:caller_id"), {"number": "02088886666"})
    )
    bad = text(c.get(reverse("customers:caller_id"), {"number": "abc"}))
    assert "is not a phone number" in bad
    assert client_for("warehouse").get(reverse("customers:caller_id")).status_code == 200


# --- dashboard -----------------------------------------------------------------------------------------


def _reminders(demo, n, suffix):
    m = demo["manager"]
    today = timezone.localdate()
    for i in range(n):
        c = make_customer(m, f"客户{suffix}{i}有限公司", status="signed")
        add_contact(c, m, name=f"生日{suffix}{i}", birthday=today.replace(year=1980) + timedelta(days=1))
        a = add_activity(
            c,
            m,
            f"跟进{suffix}{i}",
            happened_at=timezone.now() - timedelta(days=5),
            next_follow_up=today - timedelta(days=1),
        )
        services.comment_activity(a, comment=f"批复{suffix}{i}", by=demo["supervisor"])
        services.plan_field_visit(customer=c, by=m, planned_on=today, purpose=f"拜访{suffix}{i}")
        ChurnCase.objects.create(customer=c)


def test_dashboard_reminders_and_counts(demo, client_for):
    _reminders(demo, 1, "甲")
    page = text(client_for("manager").get("/"))
    assert 'id="reminders"' in page and 'id="my-customers"' in page
    for word in ["生日甲0", "跟进甲0", "批复甲0", "拜访甲0", "客户甲0有限公司"]:
        assert word in page, word
    assert 'data-status="signed"' in page
    from kehu.accounts.models import User

    nobody = User.objects.create_user("nobody", password="x")
    from django.test import Client

    anon = Client()
    anon.force_login(nobody)
    assert 'id="reminders"' not in text(anon.get("/")), "no customers.view, no customer cards"


def test_dashboard_costs_a_fixed_number_of_queries(demo, client_for):
    c = client_for("manager")
    _reminders(demo, 1, "甲")
    c.get("/")
    with CaptureQueriesContext(connection) as one:
        c.get("/")
    _reminders(demo, 6, "乙")
    with CaptureQueriesContext(connection) as many:
        page = text(c.get("/"))
    assert "跟进乙5" in page
    assert len(one.captured_queries) == len(many.captured_queries)
