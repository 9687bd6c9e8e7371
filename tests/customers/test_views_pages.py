"""Every customer page opens for every role that may open it, with the demo customers loaded."""

import pytest
from django.urls import reverse

from kehu.customers import demo as customers_demo
from kehu.customers.models import ChurnCase, Contact, Customer

PAGES = [
    "customers:list",
    "customers:contact_list",
    "customers:activity_list",
    "customers:visit_list",
    "customers:pool",
    "customers:churn_list",
    "customers:caller_id",
]


@pytest.fixture
def demo_customers(demo):
    customers_demo.load()
    return demo


@pytest.mark.parametrize(
    "username", ["admin", "supervisor", "manager", "manager2", "executive", "warehouse", "finance", "service"]
)
def test_every_page_opens_for_every_role_with_the_right(demo_customers, client_for, username):
    c = client_for(username)
    for name in PAGES:
        resp = c.get(reverse(name))
        assert resp.status_code == 200, (username, name)
    owned = (
        Customer.objects.filter(owner__username="manager").first()
        if username in ("admin", "supervisor", "manager", "executive", "warehouse", "finance", "service")
        else None
    )
    if owned is not None:
        ChurnCase.objects.create(customer=owned)
        resp = c.get(reverse("customers:detail", args=[owned.pk]))
        assert resp.status_code == 200, username
        case = ChurnCase.objects.get(customer=owned)
        assert c.get(reverse("customers:churn_detail", args=[case.pk])).status_code == 200
        contact = Contact.objects.filter(customer=owned).first()
        if contact and username in ("admin", "supervisor", "manager"):
            assert c.get(reverse("customers:contact_edit", args=[contact.pk])).status_code == 200
            assert c.get(reverse("customers:edit", args=[owned.pk])).status_code == 200
            assert c.get(reverse("customers:visit_create", args=[owned.pk])).status_code == 200
            assert c.get(reverse("customers:activity_create", args=[owned.pk])).status_code == 200
    assert c.get("/").status_code == 200


def test_pages_in_chinese(demo_customers, client_for):
    c = client_for("supervisor")
    c.post(reverse("core:set_language"), {"language": "zh-hans"})
    for name in PAGES + ["customers:create"]:
        assert c.get(reverse(name)).status_code == 200, name
    customer = Customer.objects.filter(owner__username="manager").first()
    assert c.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
