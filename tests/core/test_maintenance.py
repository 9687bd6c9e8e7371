"""The search indexes' pending lists are merged after an import and every night
(kehu.core.maintenance)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.maintenance import flush_search_indexes
from kehu.core.registry import registry
from kehu.core.tasks import flush_search_indexes as nightly
from kehu.customers import importing
from tests.customers.test_import import csv_file
from tests.customers.test_views_helpers import add_contact, make_customer


def test_the_flush_runs_every_night_and_is_harmless_anywhere(demo):
    assert registry.periodic["flush-search-indexes"]["task"] == "kehu.core.flush_search_indexes"
    make_customer(demo["manager"], "台州东海机电有限公司")
    assert nightly() >= 0


@pytest.mark.postgres
def test_new_customers_wait_in_the_pending_list_until_flushed_and_are_found_before_and_after(
    demo, client_for
):
    m = demo["manager"]
    for i in range(5):
        c = make_customer(m, f"嘉兴南湖{i}号纺织有限公司")
        add_contact(c, m, name=f"沈{i}", mobile=f"1390000000{i}")
    page = client_for("manager").get(reverse("customers:list"), {"q": "南湖"}).content.decode()
    assert page.count("南湖") >= 5
    assert flush_search_indexes("cst_customer") > 0, "the new names were pending"
    assert flush_search_indexes("cst_customer") == 0
    assert flush_search_indexes() > 0, "the contacts' names too, with every other table's"
    assert flush_search_indexes() == 0
    page = client_for("manager").get(reverse("customers:list"), {"q": "南湖"}).content.decode()
    assert page.count("南湖") >= 5, "found from the index itself"


@pytest.mark.postgres
def test_an_import_leaves_no_pending_search_entries(demo):
    by = demo["manager"]
    flush_search_indexes()
    rows = [["客户名称", "联系人", "手机"]] + [
        [f"绍兴鉴湖{i}酿造有限公司", f"陆{i}", f"1370000000{i}"] for i in range(8)
    ]
    session = importing.ImportSession.start(user=by, files={"customers": csv_file(rows)})
    result = session.execute(by=by, mode=importing.ALL_OR_NOTHING)
    assert result["customers"] == 8 and result["contacts"] == 8
    assert flush_search_indexes("cst_customer", "cst_linkman") == 0
