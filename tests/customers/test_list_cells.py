"""The list cells written in Python give the same HTML as their templates."""

from __future__ import annotations

import pytest
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone

from kehu.customers import services
from kehu.customers.cells import FAST_CELLS
from kehu.customers.views import CUSTOMER_COLUMNS
from tests.customers.test_views_helpers import make_customer


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_fast_cells_match_their_templates(demo, lang):
    from django.utils import translation

    m = demo["manager"]
    plain = make_customer(m, "北京华夏科技有限公司", phone="010-6552 1234")
    person = make_customer(
        m, "张三 <b>&", kind="individual", short_name='老张 "x"', phone="", status="signed"
    )
    services.update_customer(person, by=m, tags=["老客户", "A&B <c>"])
    person.archived_at = timezone.now()
    columns = [c for c in CUSTOMER_COLUMNS if c.template in FAST_CELLS]
    assert {c.template for c in columns} == set(FAST_CELLS)
    with translation.override(lang):
        for obj in (plain, person):
            for c in columns:
                v = c.value(obj)
                url = f"/customers/{obj.pk}/"
                expected = get_template(c.template).template.render(
                    Context({"obj": obj, "value": v, "url": url}, autoescape=True)
                )
                assert FAST_CELLS[c.template](obj, v, url) == expected.strip(), c.template
