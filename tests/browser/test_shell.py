"""The UI shell in a real browser: log-in, the sidebar each role gets, every menu page, 403 by URL,
the language switch, the phone layout, log-out and a wrong password.

Screenshots land in var/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM, PHONE

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser

DEMO_USERS = ["admin", "supervisor", "manager", "manager2", "executive", "warehouse", "finance", "service"]
TRANSPARENT = ("rgba(0, 0, 0, 0)", "transparent")


def shot_name(username: str, url_name: str) -> str:
    return f"{username}-{url_name.replace(':', '-')}.png"


@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_menu_page_opens(username, live_demo, open_session, screenshots):
    s = open_session()
    page = s.login(username)

    # Bootstrap's stylesheet really arrived: the top bar is painted, the sidebar sits beside the page.
    navbar_bg = page.eval_on_selector("nav.kehu-topbar", "el => getComputedStyle(el).backgroundColor")
    assert navbar_bg not in TRANSPARENT, "Bootstrap CSS did not load (transparent navbar)"
    assert page.is_visible("#sidebar"), "the sidebar is visible on a desktop"
    assert page.locator("h1").count() >= 1
    page.screenshot(path=screenshots / shot_name(username, "dashboard"), full_page=True)

    links = page.eval_on_selector_all(
        "a[data-menu]", "els => els.map(a => [a.dataset.menu, a.getAttribute('href')])"
    )
    assert links, f"{username} has an empty sidebar"
    menu = [name for name, _href in links]
    assert len(menu) == len(set(menu)), f"duplicate menu entries: {menu}"

    if username == "admin":
        assert "accounts:role_list" in menu
    if username in ("manager", "manager2"):
        assert "accounts:role_list" not in menu
        assert page.locator('a[data-menu="accounts:role_list"]').count() == 0

    for url_name, href in links:
        response = s.goto(href)
        assert response is not None
        assert response.status < 400, f"{username}: {url_name} ({href}) answered {response.status}"
        assert page.locator("h1").count() >= 1, f"{username}: {url_name} ({href}) has no h1"
        active = page.locator(f'a[data-menu="{url_name}"]')
        assert "active" in (active.get_attribute("class") or ""), f"{url_name} is not highlighted"
        page.screenshot(path=screenshots / shot_name(username, url_name), full_page=True)
    s.assert_clean()


def test_forbidden_page_by_url_shows_403(live_demo, open_session, screenshots):
    s = open_session()
    page = s.login("manager")
    response = s.goto("/accounts/roles/")
    assert response.status == 403
    assert page.locator("h1").count() == 1
    assert page.locator(".bi-shield-lock").count() == 1, "the 403 page of the shell is shown"
    assert page.is_visible("nav.kehu-topbar"), "a logged-in user keeps the shell on the 403 page"
    page.screenshot(path=screenshots / "manager-403.png")
    s.assert_clean()


def test_anonymous_user_is_sent_to_login(live_demo, open_session, screenshots):
    s = open_session(locale="en-US")
    page = s.page
    s.goto("/accounts/users/")
    assert page.url.startswith(s.url("/accounts/login/?next=/accounts/users/"))
    assert page.is_visible("#id_username")
    assert page.get_attribute("html", "lang") == "en", "an anonymous visitor gets the browser's language"
    # kehu.css arrived too: the log-in background is its gradient
    background = page.eval_on_selector(".kehu-login", "el => getComputedStyle(el).backgroundImage")
    assert "gradient" in background
    page.screenshot(path=screenshots / "login.png")

    # after logging in, the user lands where they were going
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "kehu-demo")
    with page.expect_navigation():
        page.click("#login")
    assert page.url == s.url("/accounts/users/")
    s.assert_clean()


def _switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("nav.kehu-topbar select[name=language]", code)


def test_language_switch_persists(live_demo, open_session):
    s = open_session(locale="zh-CN")
    page = s.login("admin")
    assert page.get_attribute("html", "lang") == "zh-hans", "the browser's language decides first"

    s.goto("/accounts/users/")
    _switch_language(page, "en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.url == s.url("/accounts/users/"), "the switch returns to the page it was made on"
    page.reload()
    assert page.get_attribute("html", "lang") == "en"
    s.goto("/")
    assert page.get_attribute("html", "lang") == "en"

    # The choice is the user's: a new browser that prefers Chinese still gets English after log-in.
    other = open_session(locale="zh-CN")
    assert other.login("admin").get_attribute("html", "lang") == "en"

    _switch_language(page, "zh-hans")
    assert page.get_attribute("html", "lang") == "zh-hans"
    page.reload()
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.eval_on_selector("nav.kehu-topbar select[name=language]", "el => el.value") == "zh-hans"
    s.assert_clean()


def test_phone_sidebar_opens_from_menu_button(live_demo, open_session, screenshots):
    s = open_session(viewport=PHONE)
    page = s.login("admin")
    page.screenshot(path=screenshots / "phone-admin-dashboard.png")
    assert not page.is_visible("#sidebar"), "the sidebar is tucked away on a phone"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"

    page.click('button[data-bs-target="#sidebar"]')
    entry = page.locator('#sidebar a[data-menu="accounts:user_list"]')
    entry.wait_for(state="visible")
    page.wait_for_selector("#sidebar.show")
    page.wait_for_timeout(350)  # let the slide-in finish before the picture
    page.screenshot(path=screenshots / "phone-admin-sidebar.png")

    with page.expect_navigation():
        entry.click()
    assert page.url == s.url("/accounts/users/")
    assert page.locator("h1").count() >= 1
    assert not page.is_visible("#sidebar"), "the sidebar closes again on the new page"
    page.screenshot(path=screenshots / "phone-admin-accounts-user_list.png", full_page=True)
    s.assert_clean()


def test_phone_login_page(live_demo, open_session, screenshots):
    s = open_session(viewport=PHONE)
    s.goto("/accounts/login/")
    s.page.screenshot(path=screenshots / "phone-login.png")
    width = s.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    s.assert_clean()


def test_logout_returns_to_login(live_demo, open_session):
    s = open_session()
    page = s.login("supervisor")
    page.click("#user-menu")
    page.wait_for_selector("#logout", state="visible")
    with page.expect_navigation():
        page.click("#logout")
    assert page.url.startswith(s.url("/accounts/login/"))
    assert page.is_visible("#id_username")
    # and the session is really gone
    s.goto("/")
    assert page.url.startswith(s.url("/accounts/login/"))
    s.assert_clean()


def test_wrong_password_shows_error(live_demo, open_session, screenshots):
    s = open_session(locale="zh-CN")
    s.goto("/accounts/login/")
    s.page.screenshot(path=screenshots / "login-zh.png")
    page = s.login("manager", "not-the-password", expect_success=False)
    assert page.url.startswith(s.url("/accounts/login/"))
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.is_visible("#login-error")
    assert page.input_value("#id_username") == "manager", "the user name is kept"
    assert page.input_value("#id_password") == "", "the password is not echoed back"
    page.screenshot(path=screenshots / "login-error.png")
    s.assert_clean()
