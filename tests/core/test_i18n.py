from pathlib import Path

import polib
from django.test import Client

PO = Path(__file__).resolve().parents[2] / "kehu" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_the_chinese_catalogue_is_complete():
    po = polib.pofile(str(PO))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []


def test_pages_speak_chinese_when_asked(demo, client_for):
    c = client_for("admin")
    c.post("/language/", {"language": "zh-hans"})
    page = c.get("/").content.decode()
    assert "工作台" in page and "系统管理" in page and "数据字典" in page
    page = c.get("/accounts/users/").content.decode()
    assert "导出 Excel" in page and "用户名" in page


def test_login_page_in_english_for_an_english_browser(db):
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/login/").content.decode()
    assert "Forgot your password?" in page
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/accounts/login/").content.decode()
    assert "忘记密码？" in page
