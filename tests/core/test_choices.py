"""Choice lists of the list pages come from the cache (kehu.core.choices): the page reads them once,
and any change to what they show is on the next page, in the user's language and scope."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kehu.core.models import DictEntry


def _options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, name
    return re.findall(r"<option [^>]*>([^<]*)</option>", select.group(1))


def _get(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(url, params).content.decode()
    return page, [q["sql"] for q in ctx.captured_queries]


def test_the_list_reads_its_choices_once_and_shows_every_change_on_the_next_page(demo, client_for):
    from kehu.accounts.models import User
    from kehu.customers import demo as customers_demo
    from kehu.customers.models import Tag

    customers_demo.load(count=5)  # the assign form shows with rows
    c = client_for("admin")
    url = reverse("customers:list")
    first, queries = _get(c, url)
    assert any("core_dictentry" in q for q in queries)
    again, queries = _get(c, url)
    for name in ("level", "region", "industry", "tag", "owner", "to"):
        assert _options(again, name) == _options(first, name)
    choice_reads = [
        q for q in queries if re.search(r'FROM "(core_dictentry|cst_tag)"', q) and "_prefetch" not in q
    ]
    assert not choice_reads, choice_reads
    people = [q for q in queries if 'FROM "accounts_user"' in q]
    assert len(people) == 1, people  # the request's user, no list of colleagues
    assert "Strategic" in _options(again, "level")

    # a new dictionary entry, a renamed one, a new tag, a new colleague, a colleague who left
    DictEntry.objects.create(
        type="customer_level", code="gold", label_zh="金牌客户", label_en="Gold", order=0
    )
    vip = DictEntry.objects.get(type="customer_level", code="vip")
    vip.label_en = "Strategic partner"
    vip.save()
    Tag.objects.create(name="展会客户")
    User.objects.create_user("newbie", full_name="吴新", password="x-12345678")
    leaver = demo["manager2"]
    leaver.is_active = False
    leaver.save()

    page, _queries = _get(c, url)
    levels = _options(page, "level")
    assert "Gold" in levels and "Strategic partner" in levels and "Strategic" not in levels
    assert "展会客户" in _options(page, "tag")
    owners = _options(page, "owner")
    assert "吴新" in owners and str(leaver) not in owners


def test_choices_follow_the_language_and_the_scope(demo, client_for):
    c = client_for("admin")
    url = reverse("customers:list")
    english, _q = _get(c, url)
    assert "Strategic" in _options(english, "level")
    c.cookies.load({"django_language": "zh-hans"})
    chinese = c.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "战略客户" in _options(chinese, "level")

    # the account manager's owner filter holds only themselves; the administrator's everybody
    mine = _options(client_for("manager").get(url).content.decode(), "owner")
    everybody = _options(c.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode(), "owner")
    assert str(demo["manager"]) in mine and str(demo["supervisor"]) not in mine
    assert str(demo["supervisor"]) in everybody


def test_a_change_made_in_another_process_shows_here(settings, tmp_path, db):
    """Without Redis the version is a stamp file in the data folder: a web worker that renews it
    (another process) makes every other worker read the lists again."""
    import os
    import subprocess
    import sys

    from kehu.core import choices
    from kehu.customers.models import Tag

    settings.DATA_DIR = tmp_path
    settings.REDIS_URL = ""
    calls = []

    def build():
        calls.append(1)
        return [(t.pk, t.name) for t in Tag.objects.all()]

    qs = Tag.objects.order_by("name")
    assert choices.cached_choices(qs, build) == choices.cached_choices(qs, build) == []
    assert len(calls) == 1
    code = "import django; django.setup(); from kehu.core import choices; choices.renew()"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kehu.settings", "KEHU_DATA_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    choices.cached_choices(qs, build)
    assert len(calls) == 2


def test_a_log_in_keeps_the_cached_lists(demo, client_for, settings, tmp_path):
    """Every log-in saves the user's last_login: that shows in no list and renews nothing; any other
    change to a user does."""
    from django.contrib.auth.models import update_last_login

    from kehu.core import choices

    settings.DATA_DIR = tmp_path
    version = choices._version()
    user = demo["manager"]
    update_last_login(None, user)
    user.language = "en"
    user.save(update_fields=["language"])
    assert choices._version() == version
    user.full_name = "王强强"
    user.save(update_fields=["full_name"])
    assert choices._version() != version
