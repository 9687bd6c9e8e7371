"""Archiving a contact who left the company, and removing a customer's document: in the UI and the
API, within the customer's scope."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.customers import services
from kehu.customers.models import Contact, CustomerDocument
from kehu.customers.selectors import caller_id_lookup
from tests.customers.test_views_helpers import add_contact, make_customer, text

API = "/api/v1"


@pytest.fixture
def hx(demo):
    c = make_customer(demo["manager"], "杭州华夏科技有限公司", phone="0571-8888 1234")
    add_contact(c, demo["manager"], name="张明", mobile="13800138000")
    add_contact(c, demo["manager"], name="李华", mobile="13900139000")
    return c


def test_archiving_the_primary_contact_hands_primary_on_and_restore_brings_it_back(hx, demo, client_for):
    zhang = Contact.objects.get(name="张明")
    assert zhang.is_primary
    assert [m["customer"] for m in caller_id_lookup(demo["manager"], "13800138000")["matches"]] == [hx]
    c = client_for("manager")
    resp = c.post(reverse("customers:contact_archive", args=[zhang.pk]), follow=True)
    assert "Archived the contact 张明." in text(resp)
    zhang.refresh_from_db()
    li = Contact.objects.get(name="李华")
    assert zhang.is_archived and not zhang.is_primary and li.is_primary
    page = text(c.get(reverse("customers:detail", args=[hx.pk])))
    assert "李华" in page and "13800138000" not in page, "archived contacts leave the 360° page"
    # Caller ID no longer finds the customer by the archived contact's mobile.
    assert caller_id_lookup(demo["manager"], "13800138000")["matches"] == []
    # The archived list links to the contact's page, which offers to restore it.
    archived = text(c.get(reverse("customers:contact_list") + "?archived=1"))
    edit = reverse("customers:contact_edit", args=[zhang.pk])
    assert edit in archived
    assert reverse("customers:contact_restore", args=[zhang.pk]) in text(c.get(edit))
    resp = c.post(reverse("customers:contact_restore", args=[zhang.pk]), follow=True)
    assert "Restored the contact 张明." in text(resp)
    zhang.refresh_from_db()
    assert not zhang.is_archived and not zhang.is_primary, "李华 stays the primary contact"


def test_contact_archive_checks_scope_and_rights(hx, client_for):
    zhang = Contact.objects.get(name="张明")
    url = reverse("customers:contact_archive", args=[zhang.pk])
    assert client_for("manager2").post(url).status_code == 404
    assert client_for("executive").post(url).status_code == 403
    assert client_for("manager").get(url).status_code == 405
    zhang.refresh_from_db()
    assert not zhang.is_archived


def test_contact_archive_and_restore_through_the_api(hx, api_for):
    zhang = Contact.objects.get(name="张明")
    resp = api_for("manager").post(f"{API}/contacts/{zhang.pk}/archive/")
    assert resp.status_code == 200, resp.content
    assert resp.json()["is_primary"] is False
    assert Contact.objects.get(name="李华").is_primary
    assert api_for("manager2").post(f"{API}/contacts/{zhang.pk}/restore/").status_code == 404
    resp = api_for("manager").post(f"{API}/contacts/{zhang.pk}/restore/")
    assert resp.status_code == 200
    zhang.refresh_from_db()
    assert zhang.archived_at is None


@pytest.fixture
def doc(hx, demo):
    return services.add_document(
        hx, upload=SimpleUploadedFile("合同.pdf", b"%PDF-1.4 contract"), by=demo["manager"]
    )


def test_remove_a_document_deletes_row_and_file_and_is_audited(
    doc, hx, client_for, django_capture_on_commit_callbacks
):
    storage, path = doc.file.storage, doc.file.name
    assert storage.exists(path)
    c = client_for("manager")
    url = reverse("customers:document_remove", args=[doc.pk])
    assert url in text(c.get(reverse("customers:detail", args=[hx.pk])))
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post(url, follow=True)
    assert "Removed the document 合同.pdf." in text(resp)
    assert not CustomerDocument.objects.exists()
    assert not storage.exists(path)
    assert LogEntry.objects.filter(object_repr="合同.pdf", action=LogEntry.Action.DELETE).exists()


def test_remove_document_out_of_scope_or_read_only_changes_nothing(doc, client_for):
    url = reverse("customers:document_remove", args=[doc.pk])
    assert client_for("manager2").post(url).status_code == 404
    assert client_for("executive").post(url).status_code == 403
    assert CustomerDocument.objects.filter(pk=doc.pk).exists()
    assert doc.file.storage.exists(doc.file.name)


def test_remove_document_through_the_api(doc, api_for, django_capture_on_commit_callbacks):
    assert api_for("manager2").delete(f"{API}/documents/{doc.pk}/").status_code == 404
    assert api_for("executive").delete(f"{API}/documents/{doc.pk}/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert api_for("manager").delete(f"{API}/documents/{doc.pk}/").status_code == 204
    assert not CustomerDocument.objects.exists()


def test_the_timeline_shows_the_latest_activities_and_links_to_all(hx, demo, client_for, monkeypatch):
    from kehu.customers import views
    from tests.customers.test_views_helpers import add_activity

    monkeypatch.setattr(views, "TIMELINE_LIMIT", 3)
    for i in range(5):
        add_activity(hx, demo["manager"], f"第{i}次回访")
    page = text(client_for("manager").get(reverse("customers:detail", args=[hx.pk])))
    shown = [i for i in range(5) if f"第{i}次回访" in page]
    assert len(shown) == 3
    assert "All 5 activities" in page


def test_caller_id_shows_on_a_pool_customer_only_the_callers_own_activities(demo):
    from kehu.customers.selectors import activities_visible_to
    from tests.customers.test_views_helpers import add_activity

    m, boss = demo["manager"], demo["admin"]
    c = make_customer(m, "宁波海通贸易有限公司", phone="0574-8765 4321")
    mine = add_activity(c, m, "我的电话")
    services.assign_customers([c], to=demo["manager2"], by=boss)
    theirs = add_activity(c, demo["manager2"], "同事的电话")
    services.release_to_pool(c, by=demo["manager2"])
    (match,) = caller_id_lookup(m, "0574 87654321")["matches"]
    assert match["customer"] == c
    assert [a.pk for a in match["activities"]] == [mine.pk]
    assert {a.pk for a in activities_visible_to(m).filter(customer=c)} == {mine.pk}, "the same rule"
    assert theirs.pk not in [a.pk for a in match["activities"]]
    # The colleague who owned it sees their own.
    (match,) = caller_id_lookup(demo["manager2"], "0574-87654321")["matches"]
    assert [a.pk for a in match["activities"]] == [theirs.pk]


def test_caller_id_follows_moves_shares_and_role_changes_after_a_first_lookup(demo, api_for):
    """Caller ID keeps the scope's SQL per process (customers.selectors._scope_where): each call
    still answers with the scope as it is now."""
    from kehu.accounts.models import Department, Role

    def found(username, number):
        resp = api_for(username).get(f"{API}/caller-id/", {"number": number})
        assert resp.status_code == 200
        return [m["customer"]["name"] for m in resp.json()["matches"]]

    c = make_customer(demo["manager2"], "温州瓯江电器有限公司", phone="0577-8888 6666")
    number = "+86 577 8888 6666"
    assert found("manager2", number) == ["温州瓯江电器有限公司"]
    assert found("supervisor", number) == [], "another department's customer"
    assert found("manager", number) == []
    # The owner moves into the supervisor's department, and out again.
    liu = demo["manager2"]
    liu.department = Department.objects.get(code="SALES")
    liu.save()
    assert found("supervisor", number) == ["温州瓯江电器有限公司"]
    liu.department = Department.objects.get(code="CHANNEL")
    liu.save()
    assert found("supervisor", number) == []
    # A share with the account manager, then taken back.
    share = services.share_customer(c, user=demo["manager"], can_edit=False, by=liu)
    assert found("manager", number) == ["温州瓯江电器有限公司"]
    share.delete()
    assert found("manager", number) == []
    # The account manager is made a supervisor (their department), then not.
    wang = demo["manager"]
    wang.roles.add(Role.objects.get(code="supervisor"))
    liu.department = wang.department
    liu.save()
    assert found("manager", number) == ["温州瓯江电器有限公司"]
    wang.roles.remove(Role.objects.get(code="supervisor"))
    assert found("manager", number) == []
    # Released to the public pool: everyone's caller ID finds it.
    services.release_to_pool(c, by=liu)
    assert found("manager", number) == ["温州瓯江电器有限公司"]
