"""The import in a real browser: upload, map a column by hand, check, import, watch the job.

Screenshots land in var/screenshots/import-*.png for a person to look at."""

from __future__ import annotations

import io
import os

import pytest

from tests.browser import conftest as _browser
from tests.browser.conftest import CHROMIUM, PHONE

# the browser fixtures live beside the browser tests
browser, live_demo, open_session, screenshots = (
    _browser.browser,
    _browser.live_demo,
    _browser.open_session,
    _browser.screenshots,
)

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _shot(page, path):
    """A full-page screenshot from the top (a scrolled page repeats the sticky top bar)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def test_an_account_manager_imports_a_workbook(live_demo, open_session, screenshots, settings, tmp_path):
    from kehu.customers.models import Customer

    settings.DATA_DIR = tmp_path / "data"
    path = tmp_path / "客户.xlsx"
    path.write_bytes(
        _xlsx(
            [
                ["公司全称", "电话", "等级", "联系人", "手机"],
                ["北京华夏科技有限公司", "010-6552 1234", "重点客户", "张明", "13800138000"],
                ["上海东方明珠科技有限公司", "021-5555 6666", "金牌", "李雷", "13900139000"],
                ["北京华夏科技有限责任公司", "010-1111 2222", "", "", ""],
            ]
        )
    )
    s = open_session()
    page = s.login("manager")
    page.goto(s.url("/customers/import/"))
    page.set_input_files("#id_customers_file", str(path))
    _shot(page, screenshots / "import-upload.png")
    with page.expect_navigation():
        page.click("#upload")
    # 公司全称 is not a heading Kehu knows: map it by hand, then check
    page.select_option("select[name=customers-0]", "name")
    with page.expect_navigation():
        page.click("#check")
    assert page.inner_text("#count-bad") == "2"
    table = page.inner_text("#error-table")
    assert "金牌" in table and "北京华夏科技有限责任公司" in table
    _shot(page, screenshots / "import-review.png")
    page.check("input[name=mode][value=valid]")
    with page.expect_navigation():
        page.click("#run")
    page.wait_for_selector("#job-status[data-status=succeeded]")
    assert page.locator("#job-progress .progress-bar.bg-success").count() == 1
    _shot(page, screenshots / "import-job.png")
    assert Customer.objects.get().name == "北京华夏科技有限公司"
    s.assert_clean()

    phone = open_session(viewport=PHONE)
    page = phone.login("manager")
    page.goto(phone.url("/customers/import/"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the upload page scrolls sideways ({width}px)"
    _shot(page, screenshots / "import-upload-phone.png")
