"""The marketing pages in a real browser: the account manager drags a card across the pipeline
board (an illegal move snaps back with the error), works the development plan and wins the
opportunity; the supervisor's dashboard shows the forecast chart.

Screenshots land in var/screenshots/sales-*.png."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_sales(live_demo):
    from kehu.customers import demo as customers_demo
    from kehu.sales import demo as sales_demo
    from kehu.sales.seeds import seed_stages

    seed_stages()
    customers_demo.load(count=80)
    sales_demo.load()
    return live_demo


def _shot(page, path):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def test_board_drag_and_drop(open_session, live_sales, screenshots):
    from kehu.sales.models import Opportunity, Stage

    s = open_session()
    page = s.login("manager")
    page.goto(s.url("/sales/board/?owner=me"))
    stages = list(Stage.objects.order_by("order"))
    card = (
        Opportunity.objects.filter(assignee__username="manager", status="assigned", stage=stages[0])
        .order_by("-amount")
        .first()
    )
    assert card is not None
    _shot(page, str(screenshots / "sales-board.png"))
    target = f'section[data-stage="{stages[2].pk}"] .kehu-col-body'
    with page.expect_response(lambda r: "/move/" in r.url):
        page.drag_and_drop(f"#card-{card.pk}", target)
    page.wait_for_selector("#board-message.alert-success")
    card.refresh_from_db()
    assert card.stage == stages[2]
    assert page.locator(f"{target} #card-{card.pk}").count() == 1

    # someone else's card (the board shows the supervisor's scope to him only) — a won one snaps back
    won = (
        Opportunity.objects.filter(assignee__username="manager", status="assigned")
        .exclude(pk=card.pk)
        .first()
    )
    from kehu.sales import services

    services.win_opportunity(won, by=won.assignee, confirm_duplicate=True)
    page.goto(s.url("/sales/board/?owner=me"))
    # a stale board: put the (now won) card back as if the page were older, then drag it
    page.evaluate(
        """([id, url, stage]) => {
        const col = document.querySelector(`section[data-stage="${stage}"] .kehu-col-body`);
        const div = document.createElement('div'); div.className = 'kehu-kcard'; div.id = 'card-' + id;
        div.dataset.id = id; div.dataset.url = url; div.draggable = true; div.textContent = 'stale';
        col.appendChild(div); }""",
        [won.pk, f"/sales/{won.pk}/move/", stages[0].pk],
    )
    with page.expect_response(lambda r: "/move/" in r.url):
        page.drag_and_drop(f"#card-{won.pk}", f'section[data-stage="{stages[1].pk}"] .kehu-col-body')
    page.wait_for_selector("#board-message.alert-danger")
    assert page.locator(f'section[data-stage="{stages[0].pk}"] #card-{won.pk}').count() == 1  # snapped back
    _shot(page, str(screenshots / "sales-board-refused.png"))
    s.bad_responses = [r for r in s.bad_responses if not r.startswith("409 ")]  # the refused move itself
    s.assert_clean()


def test_plan_and_win(open_session, live_sales, screenshots):
    from kehu.sales.models import Opportunity

    o = Opportunity.objects.filter(
        assignee__username="manager", status="assigned", customer__isnull=True
    ).first()
    o = o or Opportunity.objects.filter(assignee__username="manager", status="assigned").first()
    s = open_session()
    page = s.login("manager")
    page.goto(s.url(f"/sales/{o.pk}/"))
    page.fill("#plan-form input[name=todo]", "带样品上门演示")
    page.click("#plan-add")
    page.wait_for_selector("text=带样品上门演示")
    item = page.locator("li", has_text="带样品上门演示").last
    item.locator("input[name=outcome]").fill("客户认可，准备签约")
    item.locator(".kehu-outcome-btn").click()
    page.wait_for_selector("text=客户认可，准备签约")
    _shot(page, str(screenshots / "sales-opportunity.png"))
    page.click("#win")
    page.wait_for_selector("#opp-status")
    o.refresh_from_db()
    assert o.status == "won" and o.customer is not None
    s.assert_clean()


def test_supervisor_dashboard_and_forecast(open_session, live_sales, screenshots):
    s = open_session()
    page = s.login("supervisor")
    page.wait_for_selector("#sales-forecast canvas")
    page.locator("#sales-forecast").screenshot(path=str(screenshots / "sales-dashboard-forecast.png"))
    page.goto(s.url("/sales/forecast/"))
    page.wait_for_selector("#forecast-chart canvas")
    _shot(page, str(screenshots / "sales-forecast.png"))
    page.goto(s.url("/sales/campaigns/"))
    page.click("text=秋季新品推介会")
    page.click("#mailings a")
    page.wait_for_selector("#recipients")
    _shot(page, str(screenshots / "sales-mailing.png"))
    s.assert_clean()
