"""The customer pages in a real browser: an account manager filters the list, opens a customer,
adds a contact and records an activity that shows in the timeline; the same pages on a phone.

Screenshots land in var/screenshots/customers-*.png for a person to look at."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_customers(live_demo):
    from datetime import timedelta

    from django.utils import timezone

    from kehu.customers import demo as customers_demo
    from kehu.customers import services
    from kehu.customers.models import Customer

    customers_demo.load()
    users = live_demo
    customer = (
        Customer.objects.filter(owner=users["manager"], kind="company", archived_at__isnull=True)
        .exclude(short_name="")
        .order_by("pk")
        .first()
    )
    services.open_churn_cases()
    today = timezone.localdate()
    for i, c in enumerate(Customer.objects.filter(owner=users["manager"]).order_by("pk")[:4]):
        services.plan_field_visit(
            customer=c,
            by=users["manager"],
            planned_on=today + timedelta(days=i),
            purpose="送样品并演示" if i % 2 else "季度回访",
        )
    return users, customer


def _shot(page, path, full_page=True):
    """A screenshot from the top of the page (a scrolled page repeats the sticky top bar)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=full_page)


def _no_sideways_scroll(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page scrolls sideways ({scroll}px > {width}px)"


def test_manager_filters_opens_a_customer_adds_a_contact_and_an_activity(
    live_customers, open_session, screenshots
):
    users, customer = live_customers
    s = open_session(viewport=DESKTOP, locale="zh-CN")
    page = s.login("manager")
    _shot(page, screenshots / "customers-dashboard.png")
    assert page.is_visible("#reminders") and page.is_visible("#my-customers")

    s.goto("/customers/")
    assert page.locator("#results tbody tr").count() > 1
    _shot(page, screenshots / "customers-list.png")

    # one box: the pinyin initials of the short name find the customer
    page.fill("#id_q", customer.pinyin)
    with page.expect_navigation():
        page.click("#filter")
    row_link = page.locator(f'#results a[href="/customers/{customer.pk}/"]').first
    assert row_link.is_visible()
    _shot(page, screenshots / "customers-list-filtered.png")

    with page.expect_navigation():
        row_link.click()
    assert page.locator("#customer-number").inner_text() == customer.number
    assert page.locator("h1").first.inner_text().startswith(customer.name)
    _shot(page, screenshots / "customers-detail.png")

    # add a contact from the contacts tab
    page.click("#tab-btn-contacts")
    page.click("#toggle-contact")
    page.wait_for_selector("#add-contact.show")
    page.fill("#id_contact-name", "测试联系人")
    page.fill("#id_contact-title", "采购总监")
    page.fill("#id_contact-mobile", "+86 139-8888-0001")
    page.fill("#id_contact-email", "buyer@example.cn")
    with page.expect_navigation():
        page.click("#save-contact")
    assert page.url.endswith("#contacts")
    page.wait_for_selector("#tab-contacts.active.show")
    page.wait_for_timeout(300)  # the tab's fade
    contact_row = page.locator("#contacts tr", has_text="测试联系人")
    assert contact_row.is_visible()
    assert contact_row.locator('a[href="tel:13988880001"]').count() == 1
    _shot(page, screenshots / "customers-detail-contacts.png")

    # record an activity with that contact; it shows on top of the timeline
    page.click("#tab-btn-activities")
    page.click("#toggle-record")
    page.wait_for_selector("#record-activity.show")
    page.select_option("#id_contact", label="测试联系人")
    page.fill("#id_subject", "浏览器测试：电话确认需求")
    page.fill("#id_summary", "客户需要二十台设备，下周报价。")
    _shot(page, screenshots / "customers-detail-record.png")
    with page.expect_navigation():
        page.click("#save-activity")
    assert page.url.endswith("#activities")
    first = page.locator("#timeline > li").first
    assert "浏览器测试：电话确认需求" in first.inner_text()
    assert "测试联系人" in first.inner_text()
    _shot(page, screenshots / "customers-detail-timeline.png")

    s.goto("/customers/new/")
    assert page.locator("#id_tags-ts-control").count() == 1, "Tom Select enhances the tags box"
    page.fill("#id_name", customer.name)
    page.locator("#id_phone").focus()
    page.wait_for_selector("#duplicate-live")
    assert customer.number in page.inner_text("#duplicate-live")
    _shot(page, screenshots / "customers-form-duplicate.png")
    s.assert_clean()


def test_customer_pages_fit_a_phone(live_customers, open_session, screenshots):
    users, customer = live_customers
    s = open_session(viewport=PHONE, locale="zh-CN")
    page = s.login("manager")
    _shot(page, screenshots / "customers-phone-dashboard.png")
    _no_sideways_scroll(page, PHONE["width"])
    for path, name in [
        ("/customers/", "list"),
        (f"/customers/{customer.pk}/", "detail"),
        ("/customers/new/", "form"),
        ("/customers/pool/", "pool"),
        ("/customers/activities/", "activities"),
        ("/customers/caller-id/?number=" + (customer.contacts.first().mobile or ""), "caller-id"),
    ]:
        response = s.goto(path)
        assert response.status < 400, path
        _shot(page, screenshots / f"customers-phone-{name}.png", full_page=False)
        _shot(page, screenshots / f"customers-phone-{name}-full.png")
        _no_sideways_scroll(page, PHONE["width"])
    s.assert_clean()


def test_supervisor_pages(live_customers, open_session, screenshots):
    users, customer = live_customers
    s = open_session(viewport=DESKTOP, locale="zh-CN")
    page = s.login("supervisor")
    s.goto("/customers/")
    assert page.is_visible("#bulk-form")
    _shot(page, screenshots / "customers-supervisor-list.png")
    s.goto(f"/customers/{customer.pk}/")
    page.click("#assign")
    page.wait_for_selector("#assign-modal.show")
    page.wait_for_timeout(300)
    _shot(page, screenshots / "customers-supervisor-assign.png", full_page=False)
    from kehu.customers.models import ChurnCase

    case = ChurnCase.objects.filter(customer__owner=users["manager"]).order_by("pk").first()
    for path, name in [
        ("/customers/visits/", "visits"),
        ("/customers/churn/", "churn"),
        (f"/customers/churn/{case.pk}/", "churn-detail"),
        ("/customers/pool/", "pool"),
        ("/customers/activities/?unread=on", "activities-unread"),
        ("/customers/contacts/", "contacts"),
        (f"/customers/{customer.pk}/merge/?q=有限", "merge"),
    ]:
        response = s.goto(path)
        assert response.status < 400, path
        _shot(page, screenshots / f"customers-supervisor-{name}.png")
    s.assert_clean()
