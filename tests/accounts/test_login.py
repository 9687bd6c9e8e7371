import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kehu.accounts.models import LoginLog

LOGIN = "/accounts/login/"


def test_login_success_is_logged_with_ip_and_lands_on_dashboard(demo, settings):
    settings.AXES_ENABLED = True
    c = Client(REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="pytest-browser")
    resp = c.post(LOGIN, {"username": "manager", "password": "kehu-demo"})
    assert resp.status_code == 302 and resp["Location"] == "/"
    assert c.get("/").status_code == 200
    entry = LoginLog.objects.get(event="success")
    assert (entry.username, entry.ip, entry.user_agent, entry.user) == (
        "manager",
        "10.1.2.3",
        "pytest-browser",
        demo["manager"],
    )


def test_wrong_password_is_refused_logged_and_locks_out_after_repeated_failures(demo, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    c = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(2):
        resp = c.post(LOGIN, {"username": "manager", "password": "wrong"})
        assert resp.status_code == 200
        assert 'id="login-error"' in resp.content.decode()
    resp = c.post(LOGIN, {"username": "manager", "password": "wrong"})
    assert resp.status_code == 429
    assert "locked-out" in resp.content.decode()
    # even the right password is refused while locked out
    resp = c.post(LOGIN, {"username": "manager", "password": "kehu-demo"})
    assert resp.status_code == 429
    assert "_auth_user_id" not in c.session
    events = list(LoginLog.objects.filter(username="manager").values_list("event", flat=True))
    assert events.count("failure") >= 3 and "locked" in events
    assert "success" not in events


def test_logout_is_logged(demo):
    c = Client()
    c.force_login(demo["manager"])
    resp = c.post(reverse("accounts:logout"))
    assert resp.status_code == 302
    assert LoginLog.objects.filter(event="logout", username="manager").exists()
    assert c.get("/").status_code == 302  # back to the login page


def test_pages_need_login(db):
    resp = Client().get("/accounts/users/")
    assert resp.status_code == 302 and resp["Location"].startswith(LOGIN)


def test_csrf_is_enforced_on_form_posts(demo):
    c = Client(enforce_csrf_checks=True)
    resp = c.post(LOGIN, {"username": "manager", "password": "kehu-demo"})
    assert resp.status_code == 403
    c.force_login(demo["admin"])
    resp = c.post(
        reverse("core:dict_create"), {"type": "region", "code": "x", "label_zh": "x", "label_en": "x"}
    )
    assert resp.status_code == 403


def test_password_change(demo, client_for):
    c = client_for("manager")
    resp = c.post(
        reverse("accounts:password_change"),
        {"old_password": "kehu-demo", "new_password1": "Qiang-2026-new", "new_password2": "Qiang-2026-new"},
    )
    assert resp.status_code == 302
    demo["manager"].refresh_from_db()
    assert demo["manager"].check_password("Qiang-2026-new")


def test_password_change_with_a_weak_password_shows_the_error(demo, client_for):
    resp = client_for("manager").post(
        reverse("accounts:password_change"),
        {"old_password": "kehu-demo", "new_password1": "123", "new_password2": "123"},
    )
    assert resp.status_code == 200
    assert "too short" in resp.content.decode()
    demo["manager"].refresh_from_db()
    assert demo["manager"].check_password("kehu-demo")


def test_password_reset_by_email(demo):
    c = Client()
    resp = c.post(reverse("accounts:password_reset"), {"email": "wangqiang@kehu-demo.cn"})
    assert resp.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = next(line for line in body.splitlines() if "/accounts/password/reset/" in line)
    path = link.split("testserver", 1)[1].strip()
    resp = c.get(path, follow=True)
    assert resp.status_code == 200
    form_url = resp.redirect_chain[-1][0]
    resp = c.post(form_url, {"new_password1": "Reset-2026-ok", "new_password2": "Reset-2026-ok"})
    assert resp.status_code == 302
    demo["manager"].refresh_from_db()
    assert demo["manager"].check_password("Reset-2026-ok")


@pytest.mark.parametrize("lang,expected", [("en", "en"), ("zh-hans", "zh-hans")])
def test_language_switch_is_remembered_for_the_user(demo, client_for, lang, expected):
    c = client_for("manager")
    resp = c.post(reverse("core:set_language"), {"language": lang, "next": "/accounts/profile/"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/profile/"
    assert f'<html lang="{expected}">' in c.get("/").content.decode()
    demo["manager"].refresh_from_db()
    assert demo["manager"].language == lang


def test_language_switch_refuses_foreign_redirects(demo, client_for):
    resp = client_for("manager").post(
        reverse("core:set_language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert resp["Location"] == "/"


def test_browser_language_decides_first(db):
    resp = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get(LOGIN)
    assert '<html lang="en">' in resp.content.decode()
    resp = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get(LOGIN)
    assert '<html lang="zh-hans">' in resp.content.decode()


def test_a_forged_forwarded_for_header_is_ignored_unless_behind_a_proxy(demo, settings):
    from auditlog.models import LogEntry

    from kehu.core.models import DictEntry

    c = Client(REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6")
    c.post(LOGIN, {"username": "admin", "password": "kehu-demo"})
    assert LoginLog.objects.get(event="success").ip == "10.1.1.1"
    c.post(
        reverse("core:dict_create"),
        {"type": "region", "code": "hk", "label_zh": "港澳台", "label_en": "HK", "order": 1, "enabled": "on"},
    )
    entry = DictEntry.objects.get(code="hk")
    assert LogEntry.objects.get_for_object(entry).get().remote_addr == "10.1.1.1"
    settings.KEHU_BEHIND_PROXY = True
    c.post(
        reverse("core:dict_edit", args=[entry.pk]),
        {"type": "region", "code": "hk", "label_zh": "港澳", "label_en": "HK", "order": 1, "enabled": "on"},
    )
    assert LogEntry.objects.get_for_object(entry).latest("timestamp").remote_addr == "6.6.6.6"
