"""The list pages: counts capped (a COUNT of a broad filter on a big table costs more than the page),
fast selects, and the sidebar's active entry."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kehu.accounts.models import User
from kehu.core.ui import CappedPaginator, ListPage


def test_capped_paginator_counts_up_to_the_cap(demo):
    total = User.objects.count()
    assert total == 8
    small = CappedPaginator(User.objects.order_by("pk"), 2, cap=3)
    assert small.count == 4 and small.capped and small.num_pages == 2
    assert [u.pk for u in small.page(2).object_list] == list(
        User.objects.order_by("pk").values_list("pk", flat=True)[2:4]
    )
    big = CappedPaginator(User.objects.order_by("pk"), 2, cap=100)
    assert big.count == total and not big.capped


def test_list_page_says_more_than_the_cap(demo, client_for, monkeypatch):
    monkeypatch.setattr(ListPage, "count_cap", 3)
    page = client_for("admin").get(reverse("accounts:user_list")).content.decode()
    assert "More than 3 records" in page
    monkeypatch.setattr(ListPage, "count_cap", 10_000)
    page = client_for("admin").get(reverse("accounts:user_list")).content.decode()
    assert "8 records" in page


def test_ids_first_pages_equal_the_plain_pages_in_order_joins_and_count(demo):
    """A search's paginator reads the ids first: its pages hold the same rows, in the same order,
    with their select_related objects loaded, within and past the cap."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    qs = User.objects.select_related("department").order_by("-username", "-pk")
    expected = list(qs.values_list("pk", flat=True))
    for cap in (100, 3):  # within the cap (ids known), past it (the ordered query)
        p = CappedPaginator(qs, 3, cap=cap, ids_first=True)
        assert p.count == min(len(expected), cap + 1) and p.capped == (cap < len(expected))
        for number in range(1, p.num_pages + 1):
            page = p.page(number)
            top = min(number * 3, p.count)  # past the cap, the pages reach up to the cap
            assert [u.pk for u in page.object_list] == expected[(number - 1) * 3 : top]
            with CaptureQueriesContext(connection) as ctx:
                [u.department for u in page.object_list]
            assert len(ctx.captured_queries) == 0


def test_a_search_counts_up_to_its_own_cap(demo, client_for, monkeypatch):
    from kehu.customers import demo as customers_demo

    customers_demo.load(count=20)
    monkeypatch.setattr(ListPage, "search_count_cap", 2)
    url = reverse("customers:list")
    page = client_for("admin").get(url, {"q": "公司"}).content.decode()
    assert "More than 2 records" in page
    monkeypatch.setattr(ListPage, "search_count_cap", 1_000)
    page = client_for("admin").get(url, {"q": "公司"}).content.decode()
    assert "More than" not in page and re.search(r"\d+ records", page)


def test_fast_select_renders_the_same_html_as_django():
    from django import forms
    from django.utils.translation import gettext_lazy

    from kehu.core.widgets import FastSelect

    grouped = [("", "—"), ("1", "王强 <a&b>"), ("2", "李娜"), ("分组", [("3", "赵磊"), ("4", "孙丽")])]
    # flat choices take a shorter path: ints, None, a lazy label, quotes, a value given twice
    flat = [(None, gettext_lazy("All")), (1, 'O\'Neil "x"'), ("2", "李娜"), ("2", "again"), ("&", "<b>")]
    for choices in (grouped, flat):
        for value in ("2", 2, "", None, "4", "&", 1):
            slow = forms.Select(choices=choices, attrs={"class": "form-select", "data-x": "1"})
            fast = FastSelect(choices=choices, attrs={"class": "form-select", "data-x": "1"})
            expected = slow.render("owner", value, attrs={"id": "id_owner", "required": True})
            got = fast.render("owner", value, attrs={"id": "id_owner", "required": True})
            assert got == re.sub(r">\s+<", "><", expected.strip()), (choices, value)


def test_the_sidebar_marks_only_the_closest_menu_entry(demo, client_for):
    c = client_for("admin")
    for url, expected in (
        (reverse("customers:contact_list"), "customers:contact_list"),
        (reverse("customers:list"), "customers:list"),
        (reverse("sales:board"), "sales:board"),
        (reverse("customers:pool"), "customers:pool"),
        (reverse("customers:import"), "customers:import"),
    ):
        page = c.get(url).content.decode()
        active = re.findall(r'class="nav-link active"[^>]*data-menu="([^"]+)"', page)
        assert active == [expected], (url, active)


@pytest.mark.parametrize("walk_rows", [None, 7, 1_000])
def test_a_search_by_branches_pages_like_the_whole_query(demo, monkeypatch, walk_rows):
    """A customer search reads its matches, sorted, from the union of its branches (name, number,
    pinyin, phone, each with the list's own conditions): every sort order, with ties and empty
    values, gives the same pages as the whole query, within and past the cap, a customer matched
    by two branches once, and a page costs the same few queries.  With ``walk_rows``, every term
    counts as broad (``customer_search_walk``): the matches are read in the list's order, at most
    that many rows, and found through the branches when those rows hold too few."""
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from kehu.core.models import DictEntry
    from kehu.customers import demo as customers_demo
    from kehu.customers import filters as customer_filters
    from kehu.customers.filters import CustomerFilter
    from kehu.customers.models import Customer
    from kehu.customers.selectors import customers_visible_to

    if walk_rows is not None:
        monkeypatch.setattr(customer_filters, "name_piece_share", lambda value: 1.0)
        monkeypatch.setattr(CappedPaginator, "walk_rows", walk_rows)
    customers_demo.load(count=40)
    levels = list(DictEntry.objects.filter(type="customer_level"))
    target = Customer.objects.order_by("pk")[3]
    for i, c in enumerate(Customer.objects.order_by("pk")):
        c.level = levels[i % len(levels)] if i % 4 else None
        c.last_activity_at = None if i % 3 == 0 else c.last_activity_at
        c.save(update_fields=["level", "last_activity_at"])
    # matched by its name and by its number (two branches)
    Customer.objects.filter(pk=target.pk).update(name=target.number + "有限公司")
    request = RequestFactory().get("/")
    for username in ("admin", "supervisor", "manager"):
        request.user = demo[username]
        for term, sort in [
            ("公司", "-created_at"),
            ("公司", "level__order"),
            ("公司", "-last_activity_at"),
            ("公司", "owner__username"),
            ("公司", "name"),
            (target.number, "-created_at"),
            ("gs", "-pk"),
        ]:
            base = customers_visible_to(request.user).active().prefetch_related("tags")
            fs = CustomerFilter({"q": term}, queryset=base, request=request)
            assert fs.is_valid()
            qs = fs.qs.order_by(sort, "-pk")
            expected = list(qs.values_list("pk", flat=True))
            assert len(expected) == len(set(expected))
            assert (fs.search_parts[2] is not None) == (walk_rows is not None)
            for cap in (1_000, 5):
                p = CappedPaginator(qs, 4, cap=cap, ids_first=True, search=fs.search_parts)
                assert p.search is not None
                with CaptureQueriesContext(connection) as ctx:
                    assert p.count == min(len(expected), cap + 1)
                walked = any("kehu_match" in q["sql"] for q in ctx.captured_queries)
                union = any("UNION" in q["sql"] for q in ctx.captured_queries)
                indexed = sort.lstrip("-") in ("created_at", "last_activity_at", "pk")
                assert walked == (walk_rows is not None and indexed), (username, term, sort)
                if walked and walk_rows == 1_000 and cap == 5 and len(expected) > cap:
                    assert not union, "the walk found them all"
                for number in range(1, p.num_pages + 1):
                    with CaptureQueriesContext(connection) as ctx:
                        page = p.page(number)
                        [c.tags.all() for c in page.object_list]
                    top = min(number * 4, p.count)
                    assert [c.pk for c in page.object_list] == expected[(number - 1) * 4 : top], (
                        username,
                        term,
                        sort,
                        cap,
                        number,
                    )
                    assert len(ctx.captured_queries) <= 2


@pytest.mark.postgres
def test_broad_terms_are_read_in_list_order_by_the_statistics(demo, client_for):
    """On PostgreSQL a term counts as broad by the statistics of the name pieces' index (公司 in
    every name, a pinyin initial), and its matches are read in the list's order where the list's
    rows are dense in the table (an administrator's), not for an account manager's few."""
    from django.db import connection

    from kehu.core.ui import _dense
    from kehu.customers import filters
    from kehu.customers.models import Customer
    from kehu.customers.selectors import customers_visible_to
    from tests.customers.test_views_helpers import make_customer

    for i in range(120):
        make_customer(demo["manager2"], f"温州{i}号华星电器有限公司")
    for i in range(4):
        make_customer(demo["manager"], f"宁波{i}号海达模具有限公司")
    with connection.cursor() as cur:
        cur.execute("ANALYZE cst_customer")
    filters._PIECE_STATS.clear()
    assert filters.name_piece_share("公司") > 0.9
    assert filters.customer_search_walk("公司") is not None
    assert filters.customer_search_walk("b") is not None, "a pinyin initial"
    assert filters.customer_search_walk("海达模具") is None, "four customers of 124"
    assert _dense(customers_visible_to(demo["admin"]).filter(owner__isnull=False))
    assert not _dense(Customer.objects.filter(owner=demo["manager"]))
    # the page: every match in order, the first page the newest
    page = client_for("admin").get(reverse("customers:list"), {"q": "公司"}).content.decode()
    newest = Customer.objects.order_by("-created_at", "-pk").first()
    assert newest.name in page and "124" in page
    page = client_for("manager").get(reverse("customers:list"), {"q": "公司"}).content.decode()
    assert "宁波3号海达模具有限公司" in page and "华星" not in page
    # everywhere else a customer is searched (the top bar, pickers, other lists' customer filter),
    # a broad term is one plain condition: the same customers, the newest first
    from kehu.customers.search import search_customers

    newest = list(Customer.objects.order_by("-created_at", "-pk").values_list("name", flat=True)[:20])
    assert [h["title"] for h in search_customers(demo["admin"], "公司", 20)] == newest
    mine = [h["title"] for h in search_customers(demo["manager"], "公司", 20)]
    assert mine == [f"宁波{i}号海达模具有限公司" for i in (3, 2, 1, 0)]
    assert Customer.objects.filter(filters.customer_search_q("公司")).count() == 124
    assert Customer.objects.filter(filters.customer_search_q("海达")).count() == 4


def test_a_walk_needs_a_whole_table_index_on_the_first_sort_key():
    from kehu.core.ui import _indexed
    from kehu.customers.models import Customer

    assert _indexed(Customer, "-created_at") and _indexed(Customer, "number") and _indexed(Customer, "-pk")
    assert not _indexed(Customer, "name"), "no index"
    assert not _indexed(Customer, "level__order"), "another table's column"
    assert not _indexed(Customer, "-archived_at"), "a partial index holds the archived rows only"
