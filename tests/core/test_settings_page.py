from django.urls import reverse

from kehu.core.registry import registry
from kehu.core.settings_store import get_setting


def test_admin_changes_a_system_setting_and_it_is_audited(demo, client_for):
    c = client_for("admin")
    page = c.get(reverse("core:settings")).content.decode()
    assert "customers.pool_claim_limit" in page
    data = {key: d.default for key, d in registry.settings.items()}  # every module's settings
    data.update(
        {"customers.pool_claim_limit": 3, "customers.pool_return_days": 45, "customers.churn_months": 6}
    )
    resp = c.post(reverse("core:settings"), data)
    assert resp.status_code == 302
    assert get_setting("customers.pool_claim_limit") == 3 and get_setting("customers.pool_return_days") == 45
    page = c.get(reverse("core:settings")).content.decode()
    assert "张伟" in page  # the history says who changed it


def test_a_value_out_of_range_is_refused(demo, client_for):
    c = client_for("admin")
    resp = c.post(
        reverse("core:settings"),
        {"customers.pool_claim_limit": -1, "customers.pool_return_days": 30, "customers.churn_months": 0},
    )
    assert resp.status_code == 200
    assert get_setting("customers.pool_claim_limit") == 10 and get_setting("customers.churn_months") == 6


def test_settings_need_the_right(demo, client_for):
    for user in ("supervisor", "manager", "executive"):
        assert client_for(user).get(reverse("core:settings")).status_code == 403
