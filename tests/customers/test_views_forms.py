"""Creating and editing customers and contacts: the duplicate warning, bad input, rights."""

from __future__ import annotations

from django.urls import reverse

from kehu.customers.models import Contact, Customer
from tests.customers.test_views_helpers import add_contact, entry, make_customer, text

CREATE = reverse("customers:create")


def form_data(**overrides) -> dict:
    data = {
        "kind": "company",
        "name": "北京华夏科技有限公司",
        "short_name": "",
        "status": "prospect",
        "stage": "1",
        "level": entry("customer_level", "key").pk,
        "region": entry("region", "north").pk,
        "phone": "010-6552 1234",
        "tax_number": "",
        "opening_receivable": "0",
        "tags": "老客户，政府项目, 高潜力",
    }
    data.update(overrides)
    return data


def test_create_company_with_tags(demo, client_for):
    c = client_for("manager")
    assert c.get(CREATE).status_code == 200
    resp = c.post(CREATE, form_data())
    assert resp.status_code == 302
    customer = Customer.objects.get()
    assert resp["Location"] == reverse("customers:detail", args=[customer.pk])
    assert customer.owner == demo["manager"] and customer.created_by == demo["manager"]
    assert customer.number and customer.pinyin.startswith("bjhx") and customer.phone_key == "01065521234"
    assert sorted(t.name for t in customer.tags.all()) == ["政府项目", "老客户", "高潜力"]
    assert customer.level.code == "key"


def test_individual_with_birthday(demo, client_for):
    resp = client_for("manager").post(
        CREATE, form_data(kind="individual", name="王小明", phone="13912345678", birthday="1985-06-01")
    )
    assert resp.status_code == 302
    person = Customer.objects.get()
    assert person.kind == "individual" and str(person.birthday) == "1985-06-01"


def test_duplicate_warning_then_save_anyway(demo, client_for):
    existing = make_customer(demo["manager2"], "北京华夏科技有限责任公司", phone="+86 10 6552 1234")
    c = client_for("manager")
    resp = c.post(CREATE, form_data())
    assert resp.status_code == 200
    page = text(resp)
    assert 'id="duplicate-alert"' in page
    assert existing.number in page and "北京华夏科技有限责任公司" in page
    assert "刘洋" in page, "the owner of the match is named"
    assert "same name" in page and "same phone" in page
    assert 'name="confirm_duplicate"' in page
    assert reverse("customers:detail", args=[existing.pk]) not in page, "no link to a customer out of scope"
    assert Customer.objects.count() == 1, "nothing saved"

    resp = c.post(CREATE, form_data(confirm_duplicate="on"))
    assert resp.status_code == 302
    assert Customer.objects.count() == 2


def test_live_duplicate_check_fragment(demo, client_for):
    existing = make_customer(demo["manager"], "北京华夏科技有限公司", tax_number="91110000MA01ABCD1X")
    c = client_for("manager")
    url = reverse("customers:duplicate_check")
    hit = text(
        c.get(
            url, {"name": "北京 华夏科技（有限公司）", "phone": "", "tax_number": ""}, HTTP_HX_REQUEST="true"
        )
    )
    assert existing.number in hit and "same name" in hit and "<html" not in hit
    by_tax = text(c.get(url, {"tax_number": "91110000ma01abcd1x"}))
    assert "same tax number" in by_tax
    assert text(c.get(url, {"name": "完全不同的公司"})).strip() == ""
    own = text(c.get(url, {"name": "北京华夏科技有限公司", "exclude": existing.pk}))
    assert existing.number not in own, "editing a customer does not match itself"


def test_malformed_phone_shows_the_field_error_and_saves_nothing(demo, client_for):
    resp = client_for("manager").post(CREATE, form_data(phone="abc-12"))
    assert resp.status_code == 200
    assert "is not a phone number" in text(resp) and "is-invalid" in text(resp)
    assert not Customer.objects.exists()


def test_missing_name_and_bad_rating(demo, client_for):
    resp = client_for("manager").post(CREATE, form_data(name="", credit_rating="9"))
    page = text(resp)
    assert resp.status_code == 200 and "This field is required" in page and "Select a valid choice" in page
    assert not Customer.objects.exists()


def test_edit_keeps_number_and_records_history(demo, client_for):
    customer = make_customer(demo["manager"], "北京华夏科技有限公司", phone="010-6552 1234")
    c = client_for("manager")
    url = reverse("customers:edit", args=[customer.pk])
    page = text(c.get(url))
    assert 'value="北京华夏科技有限公司"' in page
    resp = c.post(url, form_data(name="北京华夏科技有限公司", status="signed", stage="", tags="老客户"))
    assert resp.status_code == 302
    customer.refresh_from_db()
    assert customer.status == "signed" and [t.name for t in customer.tags.all()] == ["老客户"]
    detail = text(c.get(reverse("customers:detail", args=[customer.pk])))
    assert 'id="history"' in detail and "Signed" in detail


def test_edit_rights_and_scope(demo, client_for):
    customer = make_customer(demo["manager"])
    url = reverse("customers:edit", args=[customer.pk])
    assert client_for("manager2").get(url).status_code == 404
    assert client_for("manager2").post(url, form_data()).status_code == 404
    assert client_for("executive").get(url).status_code == 403, "read-only: no edit form"
    assert client_for("executive").post(url, form_data(name="改名")).status_code == 403
    assert client_for("warehouse").post(url, form_data(name="改名")).status_code == 403
    assert client_for("executive").post(CREATE, form_data()).status_code == 403
    assert client_for("supervisor").get(url).status_code == 200, "the owner's supervisor may edit"
    customer.refresh_from_db()
    assert customer.name == "北京华夏科技有限公司"


def test_supervisor_creates_for_a_subordinate(demo, client_for):
    resp = client_for("supervisor").post(CREATE, form_data(owner=demo["manager"].pk))
    assert resp.status_code == 302
    assert Customer.objects.get().owner == demo["manager"]
    page = text(client_for("manager").get(CREATE))
    assert 'name="owner"' not in page, "an account manager creates for themselves"


def test_contact_create_edit_primary_and_errors(demo, client_for):
    m = demo["manager"]
    customer = make_customer(m)
    first = add_contact(customer, m, name="张明", mobile="13800138000")
    c = client_for("manager")
    url = reverse("customers:contact_create", args=[customer.pk])
    bad = c.post(url, {"contact-name": "李四", "contact-mobile": "12", "contact-email": "li@"})
    page = text(bad)
    assert bad.status_code == 200 and "is not a phone number" in page
    assert "Enter a valid email address" in page or "is not an e-mail address" in page
    assert Contact.objects.count() == 1
    resp = c.post(
        url, {"contact-name": "李四", "contact-mobile": "+86 139 1234 5678", "contact-email": "li@example.cn"}
    )
    assert resp.status_code == 302 and resp["Location"].endswith("#contacts")
    second = Contact.objects.get(name="李四")
    assert second.mobile_key == "13912345678" and not second.is_primary
    assert c.post(reverse("customers:contact_primary", args=[second.pk])).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_primary and not first.is_primary
    edit = reverse("customers:contact_edit", args=[first.pk])
    assert (
        c.post(
            edit, {"contact-name": "张明", "contact-title": "总经理", "contact-mobile": "13800138000"}
        ).status_code
        == 302
    )
    first.refresh_from_db()
    assert first.title == "总经理"
    detail = text(c.get(reverse("customers:detail", args=[customer.pk])))
    assert 'href="tel:13912345678"' in detail


def test_contact_pages_out_of_scope_and_read_only(demo, client_for):
    customer = make_customer(demo["manager"])
    contact = add_contact(customer, demo["manager"])
    other = client_for("manager2")
    assert other.get(reverse("customers:contact_edit", args=[contact.pk])).status_code == 404
    assert other.post(reverse("customers:contact_primary", args=[contact.pk])).status_code == 404
    assert other.get(reverse("customers:contact_create", args=[customer.pk])).status_code == 404
    assert (
        client_for("executive")
        .post(reverse("customers:contact_create", args=[customer.pk]), {"contact-name": "X"})
        .status_code
        == 403
    )
    assert Contact.objects.count() == 1
