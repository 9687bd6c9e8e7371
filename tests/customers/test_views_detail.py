"""The customer's 360° page and what is done from it: activities and comments, documents, field
visits, shares, ownership (assign, transfer, release, claim), merge, archive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.customers import services, views
from kehu.customers.models import Activity, ChurnCase, Customer, CustomerDocument, CustomerShare, FieldVisit
from tests.customers.test_views_helpers import (
    add_activity,
    add_contact,
    entry,
    make_customer,
    make_pool_customer,
    text,
)


def detail(customer) -> str:
    return reverse("customers:detail", args=[customer.pk])


@pytest.fixture
def hx(demo):
    c = make_customer(demo["manager"], "北京华夏科技有限公司", phone="010-6552 1234", status="signed")
    add_contact(c, demo["manager"], name="张明", mobile="+86 138-0013-8000")
    return c


# --- the page ---------------------------------------------------------------------------------------


def _filled(demo, name, n):
    m = demo["manager"]
    c = make_customer(m, name, phone="021-5555 0000")
    services.update_customer(c, by=m, tags=["老客户", "政府项目"])
    when = timezone.now() - timedelta(days=n + 1)
    for i in range(n):
        ct = add_contact(c, m, name=f"联系人{i}", mobile=f"1390000{i:04d}")
        add_activity(c, m, f"第{i}次沟通", contact=ct, happened_at=when + timedelta(days=i))
        services.plan_field_visit(customer=c, by=m, planned_on=timezone.localdate(), purpose=f"拜访{i}")
        services.add_document(c, upload=SimpleUploadedFile(f"合同{i}.pdf", b"%PDF-1.4"), by=m)
        services.comment_activity(
            Activity.objects.filter(customer=c).first(), comment="好", by=demo["supervisor"]
        )
    services.share_customer(c, user=demo["service"], can_edit=False, by=m)
    case = ChurnCase.objects.create(customer=c)
    services.defer_churn(case, measure="回访", follow_up_on=None, by=m)
    Activity.objects.filter(customer=c).update(comment_read_at=timezone.now())
    return c


def test_360_page_costs_the_same_number_of_queries_for_1_and_30_records(
    demo, client_for, django_assert_max_num_queries
):
    small = _filled(demo, "一号客户有限公司", 1)
    big = _filled(demo, "三十号客户有限公司", 30)
    c = client_for("manager")
    c.get(detail(small))  # warm the caches (content types, session)

    def count(customer):
        with CaptureQueriesContext(connection) as ctx:
            resp = c.get(detail(customer))
        assert resp.status_code == 200
        return len(ctx.captured_queries), text(resp)

    n_small, _page = count(small)
    n_big, page = count(big)
    assert n_small == n_big, f"1 record: {n_small} queries, 30 records: {n_big}"
    assert page.count('class="kehu-tl-icon"') == 30 and "联系人29" in page and "合同29.pdf" in page
    with django_assert_max_num_queries(n_small):
        c.get(detail(big))


def test_header_shows_number_status_owner_tel_and_tags(hx, demo, client_for):
    services.update_customer(hx, by=demo["manager"], tags=["老客户"])
    page = text(client_for("manager").get(detail(hx)))
    assert hx.number in page and "Signed" in page and "王强" in page
    assert 'href="tel:01065521234"' in page and 'href="tel:13800138000"' in page
    assert "老客户" in page
    assert 'id="edit"' in page and 'id="record-activity"' in page
    assert 'id="assign"' not in page, "an account manager does not transfer"
    sup = text(client_for("supervisor").get(detail(hx)))
    assert 'id="assign"' in sup and 'id="merge"' in sup
    ro = text(client_for("executive").get(detail(hx)))
    assert 'id="edit"' not in ro and 'id="record-activity"' not in ro and 'id="release"' not in ro


def test_out_of_scope_ids_answer_404(hx, demo, client_for):
    doc = services.add_document(hx, upload=SimpleUploadedFile("a.txt", b"x"), by=demo["manager"])
    activity = add_activity(hx, demo["manager"])
    case = ChurnCase.objects.create(customer=hx)
    visit = services.plan_field_visit(
        customer=hx, by=demo["manager"], planned_on=timezone.localdate(), purpose="拜访"
    )
    c = client_for("manager2")
    for url in [
        detail(hx),
        reverse("customers:edit", args=[hx.pk]),
        reverse("customers:contact_create", args=[hx.pk]),
        reverse("customers:activity_create", args=[hx.pk]),
        reverse("customers:visit_create", args=[hx.pk]),
        reverse("customers:document_download", args=[doc.pk]),
        reverse("customers:churn_detail", args=[case.pk]),
        reverse("customers:detail", args=[999999]),
    ]:
        assert c.get(url).status_code == 404, url
    for url in [
        reverse("customers:document_upload", args=[hx.pk]),
        reverse("customers:release", args=[hx.pk]),
        reverse("customers:archive", args=[hx.pk]),
        reverse("customers:share", args=[hx.pk]),
        reverse("customers:visit_cancel", args=[visit.pk]),
        reverse("customers:claim", args=[hx.pk]),
    ]:
        assert c.post(url).status_code == 404, url
    assert (
        client_for("supervisor")
        .post(reverse("customers:activity_comment", args=[activity.pk]), {"comment": "x"})
        .status_code
        == 302
    )
    assert client_for("manager2").get(reverse("customers:activity_list")).status_code == 200


def test_executive_reads_everything_but_every_write_is_403(hx, demo, client_for):
    activity = add_activity(hx, demo["manager"])
    c = client_for("executive")
    assert c.get(detail(hx)).status_code == 200
    for url, data in [
        (reverse("customers:activity_create", args=[hx.pk]), {"subject": "x"}),
        (reverse("customers:activity_comment", args=[activity.pk]), {"comment": "x"}),
        (reverse("customers:release", args=[hx.pk]), {}),
        (reverse("customers:assign", args=[hx.pk]), {"to": demo["manager2"].pk}),
        (reverse("customers:share", args=[hx.pk]), {"user": demo["manager2"].pk}),
        (reverse("customers:archive", args=[hx.pk]), {}),
        (reverse("customers:merge", args=[hx.pk]), {"target": hx.pk}),
        (reverse("customers:visit_create", args=[hx.pk]), {"purpose": "x"}),
    ]:
        assert c.post(url, data).status_code == 403, url
    hx.refresh_from_db()
    assert hx.owner == demo["manager"] and not hx.is_archived


def test_empty_slot_registry_shows_nothing_and_a_registered_panel_shows(hx, client_for, monkeypatch):
    c = client_for("manager")
    monkeypatch.setattr(views, "CUSTOMER_360_SLOTS", [])
    assert 'id="panel-' not in text(c.get(detail(hx)))
    views.register_customer_panel(
        views.CustomerPanel("orders", "Orders", "customers/_fact.html", context=lambda r, cu: {"n": 1})
    )
    page = text(c.get(detail(hx)))
    assert 'id="panel-orders"' in page


# --- activities and comments ------------------------------------------------------------------------


def test_record_activity_shows_in_the_timeline(hx, demo, client_for):
    c = client_for("manager")
    contact = hx.contacts.get()
    resp = c.post(
        reverse("customers:activity_create", args=[hx.pk]),
        {
            "kind": entry("activity_type", "visit").pk,
            "happened_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "contact": contact.pk,
            "subject": "技术交流会",
            "place": "客户会议室",
            "summary": "演示了新产品",
            "next_follow_up": (timezone.localdate() + timedelta(days=3)).isoformat(),
        },
    )
    assert resp.status_code == 302 and resp["Location"].endswith("#activities")
    a = Activity.objects.get()
    assert a.author == demo["manager"] and a.contact == contact and a.kind.code == "visit"
    page = text(c.get(detail(hx)))
    assert "技术交流会" in page and "演示了新产品" in page and "客户会议室" in page


def test_bad_activity_input_changes_nothing(hx, client_for):
    c = client_for("manager")
    url = reverse("customers:activity_create", args=[hx.pk])
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    resp = c.post(url, {"kind": entry("activity_type", "call").pk, "happened_at": future, "subject": "未来"})
    assert resp.status_code == 200 and "cannot happen in the future" in text(resp)
    resp = c.post(url, {"kind": entry("activity_type", "call").pk, "happened_at": "", "subject": ""})
    assert resp.status_code == 200 and "This field is required" in text(resp)
    assert not Activity.objects.exists()


def test_supervisor_comments_and_the_author_sees_it_once(hx, demo, client_for):
    a = add_activity(hx, demo["manager"], "电话沟通")
    sup = client_for("supervisor")
    comment_url = reverse("customers:activity_comment", args=[a.pk])
    assert comment_url in text(sup.get(detail(hx)))
    resp = sup.post(reverse("customers:activity_comment", args=[a.pk]), {"comment": "下周带方案上门"})
    assert resp.status_code == 302 and resp["Location"].endswith(f"#activity-{a.pk}")
    a.refresh_from_db()
    assert (
        a.comment == "下周带方案上门" and a.commented_by == demo["supervisor"] and a.comment_read_at is None
    )

    author = client_for("manager")
    assert "下周带方案上门" in text(author.get("/")), "the dashboard reminds the author"
    page = text(author.get(detail(hx)))
    assert "下周带方案上门" in page and 'data-unread="1"' in page, "highlighted the first time"
    assert comment_url not in page, "the author does not comment on their own activity"
    a.refresh_from_db()
    assert a.comment_read_at is not None, "visiting the page marks it read"
    assert 'data-unread="1"' not in text(author.get(detail(hx)))
    # a supervisor's page view marks nothing
    b = add_activity(hx, demo["manager"], "第二次")
    services.comment_activity(b, comment="好", by=demo["supervisor"])
    sup.get(detail(hx))
    b.refresh_from_db()
    assert b.comment_read_at is None


def test_comment_rights(hx, demo, client_for):
    a = add_activity(hx, demo["manager"])
    resp = client_for("manager").post(reverse("customers:activity_comment", args=[a.pk]), {"comment": "x"})
    assert resp.status_code == 403, "no customers.assign"
    resp = client_for("supervisor").post(
        reverse("customers:activity_comment", args=[a.pk]), {"comment": " "}, follow=True
    )
    assert "Write a comment" in text(resp)
    a.refresh_from_db()
    assert a.comment == ""


# --- documents ----------------------------------------------------------------------------------------


def test_document_upload_and_download_within_scope(hx, demo, client_for):
    c = client_for("manager")
    upload = SimpleUploadedFile("营业执照.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    resp = c.post(reverse("customers:document_upload", args=[hx.pk]), {"file": upload})
    assert resp.status_code == 302 and resp["Location"].endswith("#documents")
    doc = CustomerDocument.objects.get()
    assert (
        doc.name == "营业执照.pdf"
        and doc.size == len(b"%PDF-1.4 test")
        and doc.uploaded_by == demo["manager"]
    )
    url = reverse("customers:document_download", args=[doc.pk])
    assert url in text(c.get(detail(hx)))
    assert doc.file.url not in text(c.get(detail(hx))), "never the media URL"
    resp = c.get(url)
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == b"%PDF-1.4 test"
    assert "attachment" in resp["Content-Disposition"]
    assert client_for("supervisor").get(url).status_code == 200
    assert client_for("manager2").get(url).status_code == 404
    assert client_for("executive").get(url).status_code == 200
    assert (
        client_for("executive")
        .post(reverse("customers:document_upload", args=[hx.pk]), {"file": SimpleUploadedFile("x.txt", b"x")})
        .status_code
        == 403
    )


def test_document_too_big_is_refused(hx, client_for, monkeypatch):
    monkeypatch.setattr(services, "MAX_DOCUMENT_BYTES", 10)
    resp = client_for("manager").post(
        reverse("customers:document_upload", args=[hx.pk]),
        {"file": SimpleUploadedFile("big.bin", b"x" * 11)},
        follow=True,
    )
    assert "at most 20 MB" in text(resp)
    assert not CustomerDocument.objects.exists()


# --- field visits ---------------------------------------------------------------------------------------


def test_plan_a_visit_then_complete_it_with_an_activity(hx, demo, client_for):
    c = client_for("manager")
    today = timezone.localdate()
    resp = c.post(
        reverse("customers:visit_create", args=[hx.pk]),
        {"planned_on": today.isoformat(), "purpose": "送样品", "place": "客户工厂"},
    )
    assert resp.status_code == 302
    visit = FieldVisit.objects.get()
    assert visit.status == "planned" and visit.user == demo["manager"]
    form = text(c.get(reverse("customers:activity_create", args=[hx.pk]) + f"?visit={visit.pk}"))
    assert f'<option value="{visit.pk}" selected>' in form
    resp = c.post(
        reverse("customers:activity_create", args=[hx.pk]),
        {
            "kind": entry("activity_type", "visit").pk,
            "happened_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            "subject": "送样品到厂",
            "field_visit": visit.pk,
        },
    )
    assert resp.status_code == 302
    visit.refresh_from_db()
    assert visit.status == "done" and visit.activity.subject == "送样品到厂"


def test_cancel_a_visit_and_bad_input(hx, demo, client_for):
    c = client_for("manager")
    resp = c.post(
        reverse("customers:visit_create", args=[hx.pk]), {"planned_on": "2000-01-01", "purpose": "x"}
    )
    assert resp.status_code == 200 and "this week or later" in text(resp)
    assert not FieldVisit.objects.exists()
    visit = services.plan_field_visit(
        customer=hx, by=demo["manager"], planned_on=timezone.localdate(), purpose="拜访"
    )
    resp = client_for("supervisor").post(reverse("customers:visit_cancel", args=[visit.pk]), follow=True)
    visit.refresh_from_db()
    assert visit.status == "planned", "only the one who planned it cancels"
    assert c.post(reverse("customers:visit_cancel", args=[visit.pk])).status_code == 302
    visit.refresh_from_db()
    assert visit.status == "cancelled"


# --- shares ---------------------------------------------------------------------------------------------


def test_owner_shares_and_unshares(hx, demo, client_for):
    c = client_for("manager")
    colleague = demo["supervisor"]
    resp = c.post(reverse("customers:share", args=[hx.pk]), {"user": colleague.pk, "can_edit": "on"})
    assert resp.status_code == 302 and resp["Location"].endswith("#shares")
    share = CustomerShare.objects.get()
    assert share.user == colleague and share.can_edit
    c.post(reverse("customers:unshare", args=[hx.pk, colleague.pk]))
    assert not CustomerShare.objects.exists()


def test_shared_customer_becomes_visible(hx, demo, client_for):
    m2 = client_for("manager2")
    assert m2.get(detail(hx)).status_code == 404
    services.share_customer(hx, user=demo["manager2"], can_edit=False, by=demo["manager"])
    assert m2.get(detail(hx)).status_code == 200
    assert m2.get(reverse("customers:edit", args=[hx.pk])).status_code == 403, "shared to read only"


# --- ownership ------------------------------------------------------------------------------------------


def test_supervisor_transfers_with_the_owner_seen(hx, demo, client_for):
    c = client_for("supervisor")
    page = text(c.get(detail(hx)))
    assert f'name="expected_owner" value="{demo["manager"].pk}"' in page
    resp = c.post(
        reverse("customers:assign", args=[hx.pk]),
        {"to": demo["supervisor"].pk, "expected_owner": demo["manager"].pk},
        follow=True,
    )
    assert "now belongs to" in text(resp)
    hx.refresh_from_db()
    assert hx.owner == demo["supervisor"]


def test_transfer_conflict_when_the_owner_changed_meanwhile(hx, demo, client_for):
    services.assign_customers([hx], to=demo["supervisor"], by=demo["admin"])
    resp = client_for("supervisor").post(
        reverse("customers:assign", args=[hx.pk]),
        {"to": demo["manager"].pk, "expected_owner": demo["manager2"].pk},
        follow=True,
    )
    assert "transferred by someone else meanwhile" in text(resp)
    hx.refresh_from_db()
    assert hx.owner == demo["supervisor"]


def test_account_manager_may_not_assign(hx, demo, client_for):
    resp = client_for("manager").post(
        reverse("customers:assign", args=[hx.pk]), {"to": demo["supervisor"].pk}
    )
    assert resp.status_code == 403


def test_release_then_claim_from_the_detail_page(hx, demo, client_for):
    c = client_for("manager")
    resp = c.post(reverse("customers:release", args=[hx.pk]), {"reason": "没有需求"}, follow=True)
    assert "public pool now" in text(resp)
    hx.refresh_from_db()
    assert hx.owner is None
    other = client_for("manager2")
    page = text(other.get(detail(hx)))
    assert 'id="claim"' in page and "Claim this customer" in page
    assert other.post(reverse("customers:claim", args=[hx.pk])).status_code == 302
    hx.refresh_from_db()
    assert hx.owner == demo["manager2"]
    assert c.get(detail(hx)).status_code == 404, "gone from the former owner's scope"


def test_release_by_someone_else_is_refused(demo, client_for):
    shared = make_customer(demo["manager"], "共享客户有限公司")
    services.share_customer(shared, user=demo["manager2"], can_edit=True, by=demo["manager"])
    resp = client_for("manager2").post(reverse("customers:release", args=[shared.pk]), follow=True)
    assert "Only the owner or a supervisor" in text(resp)
    shared.refresh_from_db()
    assert shared.owner == demo["manager"]


def test_claim_limit_message(demo, client_for):
    from kehu.core.settings_store import set_setting

    set_setting("customers.pool_claim_limit", 0, by=demo["admin"])
    pooled = make_pool_customer(demo["manager2"])
    resp = client_for("manager").post(reverse("customers:claim", args=[pooled.pk]), follow=True)
    assert "daily limit" in text(resp)
    pooled.refresh_from_db()
    assert pooled.owner is None


# --- merge and archive ----------------------------------------------------------------------------------


def test_merge_search_confirm_and_merge(hx, demo, client_for):
    m = demo["manager"]
    dup = make_customer(m, "北京华夏科技有限责任公司", phone="010-6552 1234")
    add_activity(dup, m, "重复客户的记录")
    c = client_for("supervisor")
    url = reverse("customers:merge", args=[dup.pk])
    search = text(c.get(url, {"q": hx.number}))
    assert f"?target={hx.pk}" in search and f"?target={dup.pk}" not in search
    confirm = text(c.get(url, {"target": hx.pk}))
    assert 'id="confirm-merge"' in confirm and "1 activities" in confirm
    resp = c.post(url, {"target": hx.pk})
    assert resp.status_code == 302 and resp["Location"] == detail(hx)
    dup.refresh_from_db()
    assert dup.is_archived
    assert Activity.objects.get(subject="重复客户的记录").customer == hx


def test_merge_into_itself_is_refused_with_a_message(hx, client_for):
    c = client_for("supervisor")
    resp = c.post(reverse("customers:merge", args=[hx.pk]), {"target": hx.pk}, follow=True)
    assert "cannot be merged into itself" in text(resp)
    hx.refresh_from_db()
    assert not hx.is_archived


def test_merge_needs_the_right(hx, demo, client_for):
    other = make_customer(demo["manager"], "另一家有限公司")
    assert client_for("manager").get(reverse("customers:merge", args=[hx.pk])).status_code == 403
    assert (
        client_for("manager").post(reverse("customers:merge", args=[hx.pk]), {"target": other.pk}).status_code
        == 403
    )
    assert (
        client_for("supervisor")
        .post(reverse("customers:merge", args=[hx.pk]), {"target": 999999})
        .status_code
        == 404
    )


def test_archive_and_restore_from_the_page(hx, client_for):
    c = client_for("manager")
    c.post(reverse("customers:archive", args=[hx.pk]))
    hx.refresh_from_db()
    assert hx.is_archived
    page = text(c.get(detail(hx)))
    assert 'id="restore"' in page and "Archived" in page
    c.post(reverse("customers:restore", args=[hx.pk]))
    hx.refresh_from_db()
    assert not hx.is_archived
    assert client_for("manager2").post(reverse("customers:archive", args=[hx.pk])).status_code == 404
    assert Customer.objects.count() == 1
