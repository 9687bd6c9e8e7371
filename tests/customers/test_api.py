"""The customer API under /api/v1/: scopes, rights, the error shape, and every write through the
services."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kehu.core.models import DictEntry
from kehu.core.settings_store import set_setting
from kehu.customers import services
from kehu.customers.models import ChurnCase, Contact, Customer, CustomerDocument, FieldVisit
from tests.factories import UserFactory

API = "/api/v1"
ERROR_KEYS = {"code", "message", "details"}


def ids(resp) -> set[int]:
    assert resp.status_code == 200, resp.json()
    return {row["id"] for row in resp.json()["results"]}


def error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.content[:500])
    body = resp.json()
    assert set(body) == ERROR_KEYS
    if code:
        assert body["code"] == code, body
    return body


def entry(type_, code):
    return DictEntry.objects.get(type=type_, code=code)


def make_world(demo) -> dict:
    """manager's customer (contact, activity, document, churn case, field visit), manager2's (the
    same), one in the pool, one of manager2 shared with manager, one of the supervisor."""
    m, m2, sup = demo["manager"], demo["manager2"], demo["supervisor"]
    w = {}
    w["mine"] = services.create_customer(
        by=m,
        name="北京华夏科技有限公司",
        phone="(010) 6552 1234",
        status="signed",
        level=entry("customer_level", "vip"),
        tags=["老客户"],
    )
    w["other"] = services.create_customer(
        by=m2, name="上海东方电子有限公司", phone="021-55550000", status="signed"
    )
    w["pool"] = services.create_customer(by=sup, name="广州瑞丰贸易有限公司", phone="020-88880000")
    services.release_to_pool(w["pool"], by=sup)
    w["shared"] = services.create_customer(by=m2, name="深圳金桥物流有限公司", phone="0755-66660000")
    services.share_customer(w["shared"], user=m, can_edit=False, by=m2)
    w["sup"] = services.create_customer(by=sup, name="杭州博远机械有限公司", phone="0571-77770000")
    for key, owner in (("mine", m), ("other", m2)):
        c = w[key]
        w[f"{key}_contact"] = services.save_contact(
            Contact(
                customer=c,
                name=f"联系人{key}",
                mobile="+86 138-0013-8000" if key == "mine" else "13900139000",
            ),
            by=owner,
        )
        w[f"{key}_activity"] = services.record_activity(
            customer=c, by=owner, kind=entry("activity_type", "call"), subject="电话沟通采购需求"
        )
        w[f"{key}_document"] = services.add_document(
            c, upload=SimpleUploadedFile(f"{key}.txt", b"contract text"), by=owner
        )
        w[f"{key}_case"] = ChurnCase.objects.create(
            customer=c, last_order_at=timezone.now() - timedelta(days=200)
        )
        w[f"{key}_visit"] = services.plan_field_visit(
            customer=c, by=owner, planned_on=timezone.localdate(), purpose="拜访采购经理"
        )
    return w


@pytest.fixture
def world(demo):
    return make_world(demo)


# --- lists and scopes ---------------------------------------------------------------------------


def test_customer_lists_follow_the_data_scope(world, api_for):
    w = {k: v.pk for k, v in world.items()}
    assert ids(api_for("manager").get(f"{API}/customers/")) == {w["mine"], w["pool"], w["shared"]}
    assert ids(api_for("manager2").get(f"{API}/customers/")) == {w["other"], w["pool"], w["shared"]}
    # the supervisor's department (SALES) holds the manager, not manager2 (CHANNEL)
    assert ids(api_for("supervisor").get(f"{API}/customers/")) == {w["mine"], w["pool"], w["sup"]}
    assert ids(api_for("executive").get(f"{API}/customers/")) == {
        w["mine"],
        w["other"],
        w["pool"],
        w["shared"],
        w["sup"],
    }
    assert ids(api_for("manager").get(f"{API}/customers/pool/")) == {w["pool"]}


@pytest.mark.parametrize(
    "resource,key",
    [
        ("contacts", "contact"),
        ("activities", "activity"),
        ("documents", "document"),
        ("churn-cases", "case"),
        ("field-visits", "visit"),
    ],
)
def test_related_lists_follow_the_data_scope(world, api_for, resource, key):
    mine, other = world[f"mine_{key}"].pk, world[f"other_{key}"].pk
    assert mine in ids(api_for("manager").get(f"{API}/{resource}/")) - {other}
    assert other not in ids(api_for("manager").get(f"{API}/{resource}/"))
    assert other in ids(api_for("manager2").get(f"{API}/{resource}/"))
    assert {mine, other} <= ids(api_for("executive").get(f"{API}/{resource}/"))
    assert mine in ids(api_for("supervisor").get(f"{API}/{resource}/"))
    assert other not in ids(api_for("supervisor").get(f"{API}/{resource}/"))


@pytest.mark.parametrize(
    "resource,key",
    [
        ("customers", "other"),
        ("contacts", "other_contact"),
        ("activities", "other_activity"),
        ("documents", "other_document"),
        ("churn-cases", "other_case"),
        ("field-visits", "other_visit"),
    ],
)
def test_out_of_scope_ids_answer_404(world, api_for, resource, key):
    c = api_for("manager")
    error(c.get(f"{API}/{resource}/{world[key].pk}/"), 404, "not_found")
    error(c.get(f"{API}/{resource}/999999/"), 404, "not_found")
    assert api_for("manager2").get(f"{API}/{resource}/{world[key].pk}/").status_code == 200


def test_out_of_scope_actions_answer_404_and_change_nothing(world, api_for, demo):
    c = api_for("manager")
    other = world["other"]
    error(c.patch(f"{API}/customers/{other.pk}/", {"notes": "x"}, format="json"), 404)
    error(c.post(f"{API}/customers/{other.pk}/release/", {}, format="json"), 404)
    error(c.post(f"{API}/customers/{other.pk}/archive/", {}, format="json"), 404)
    error(c.post(f"{API}/contacts/{world['other_contact'].pk}/set-primary/"), 404)
    error(c.get(f"{API}/documents/{world['other_document'].pk}/download/"), 404)
    error(c.post(f"{API}/churn-cases/{world['other_case'].pk}/recover/"), 404)
    error(c.post(f"{API}/field-visits/{world['other_visit'].pk}/cancel/"), 404)
    other.refresh_from_db()
    assert other.owner == demo["manager2"] and other.notes == "" and not other.is_archived


def test_executive_reads_everything_and_writes_nothing(world, api_for):
    c = api_for("executive")
    mine = world["mine"]
    assert c.get(f"{API}/customers/{mine.pk}/").status_code == 200
    assert c.get(f"{API}/caller-id/", {"number": "13800138000"}).status_code == 200
    writes = [
        c.post(f"{API}/customers/", {"name": "高管新建"}, format="json"),
        c.patch(f"{API}/customers/{mine.pk}/", {"notes": "x"}, format="json"),
        c.post(f"{API}/customers/{mine.pk}/release/", {}, format="json"),
        c.post(f"{API}/customers/{world['pool'].pk}/claim/"),
        c.post(f"{API}/contacts/", {"customer": mine.pk, "name": "x"}, format="json"),
        c.post(f"{API}/activities/", {"customer": mine.pk, "type": "call", "subject": "x"}, format="json"),
        c.post(f"{API}/activities/{world['mine_activity'].pk}/comment/", {"comment": "x"}, format="json"),
        c.post(f"{API}/churn-cases/{world['mine_case'].pk}/recover/"),
        c.post(f"{API}/field-visits/", {"customer": mine.pk, "planned_on": "2030-01-01", "purpose": "x"}),
    ]
    for resp in writes:
        error(resp, 403, "permission_denied")
    mine.refresh_from_db()
    assert (
        mine.notes == "" and mine.owner is not None and not Customer.objects.filter(name="高管新建").exists()
    )


def test_anonymous_gets_the_error_shape(db):
    from rest_framework.test import APIClient

    for url in ("customers/", "contacts/", "activities/", "caller-id/?number=13800138000"):
        resp = APIClient().get(f"{API}/{url}")
        assert resp.status_code in (401, 403) and set(resp.json()) == ERROR_KEYS


def test_lists_match_the_selectors_on_the_demo_data(demo, api_for):
    from kehu.customers import demo as customers_demo
    from kehu.customers.selectors import customers_visible_to

    customers_demo.load(count=60)
    for who in ("manager", "supervisor", "executive"):
        body = api_for(who).get(f"{API}/customers/", {"page_size": 200}).json()
        expected = set(customers_visible_to(demo[who]).active().values_list("pk", flat=True))
        assert body["count"] == len(expected) and {r["id"] for r in body["results"]} == expected
    owners = {
        r["owner"] for r in api_for("manager").get(f"{API}/customers/", {"page_size": 200}).json()["results"]
    }
    assert owners <= {demo["manager"].pk, None}


def test_page_size_is_capped(demo, api_for):
    from kehu.customers import demo as customers_demo

    customers_demo.load(count=250)
    body = api_for("admin").get(f"{API}/customers/", {"page_size": 500}).json()
    assert len(body["results"]) == 200 and body["next"]


# --- customers: create, read, update ------------------------------------------------------------


def test_create_with_codes_reads_codes_and_labels(demo, api_for):
    c = api_for("manager")
    resp = c.post(
        f"{API}/customers/",
        {
            "name": "南京中科信息技术有限公司",
            "short_name": "南京中科",
            "level": "vip",
            "region": "east",
            "industry": "it",
            "source": "web",
            "phone": "+86 25 8888 1234",
            "tags": ["高潜力", "政府项目"],
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["number"] and body["owner"] == demo["manager"].pk and body["owner_name"] == "王强"
    assert (body["level"], body["region"], body["industry"], body["source"]) == ("vip", "east", "it", "web")
    assert body["level_detail"] == {"code": "vip", "label": "Strategic"}
    assert body["status"] == "prospect" and body["status_label"] == "Prospect"
    assert sorted(body["tags"]) == ["政府项目", "高潜力"] and body["pinyin"] == "njzkxxjsyxgs"
    assert "confirm_duplicate" not in body
    zh = c.get(f"{API}/customers/{body['id']}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert zh["level"] == "vip" and zh["level_detail"]["label"] == "战略客户"


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "x", "level": "gold"}, "level"),
        ({"name": "x", "region": "mars"}, "region"),
        ({"name": "x", "status": "happy"}, "status"),
        ({"name": "x", "credit_rating": "many"}, "credit_rating"),
        ({"short_name": "x"}, "name"),
    ],
)
def test_bad_customer_fields_answer_400_with_the_field(demo, api_for, payload, field):
    body = error(api_for("manager").post(f"{API}/customers/", payload, format="json"), 400, "invalid")
    assert field in body["details"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("phone", ["12ab", "123", "电话"])
def test_malformed_phone_answers_400_naming_the_field(demo, api_for, phone):
    body = error(
        api_for("manager").post(f"{API}/customers/", {"name": "宁波海纳", "phone": phone}, format="json"),
        400,
        "invalid",
    )
    assert body["details"] == {"field": "phone"} and phone in body["message"]
    assert not Customer.objects.exists()


def test_malformed_contact_email_and_mobile_answer_400(world, api_for):
    c = api_for("manager")
    url = f"{API}/contacts/"
    body = error(
        c.post(url, {"customer": world["mine"].pk, "name": "李四", "email": "li@"}, format="json"), 400
    )
    assert "email" in body["details"]
    body = error(
        c.post(url, {"customer": world["mine"].pk, "name": "李四", "mobile": "1380013"}, format="json"), 400
    )
    assert body["details"] == {"field": "mobile"}
    assert world["mine"].contacts.count() == 1


def test_duplicate_answers_409_with_the_matches_then_confirm_saves(world, api_for):
    c = api_for("manager2")
    payload = {"name": "北京华夏科技有限责任公司", "phone": "13600136000"}
    body = error(c.post(f"{API}/customers/", payload, format="json"), 409, "duplicate")
    dup = body["details"]["duplicates"][0]
    assert dup["id"] == world["mine"].pk and dup["number"] == world["mine"].number and dup["reasons"]
    assert world["mine"].number in body["message"]
    # a contact's mobile counts too
    body = error(c.post(f"{API}/customers/", {"name": "别的", "phone": "138 0013 8000"}, format="json"), 409)
    assert body["details"]["duplicates"][0]["id"] == world["mine"].pk
    count = Customer.objects.count()
    resp = c.post(f"{API}/customers/", {**payload, "confirm_duplicate": True}, format="json")
    assert resp.status_code == 201, resp.json()
    assert Customer.objects.count() == count + 1


def test_partial_update_goes_through_the_service(world, api_for):
    c = api_for("manager")
    mine = world["mine"]
    resp = c.patch(
        f"{API}/customers/{mine.pk}/",
        {"level": "key", "phone": "010 6552 9999", "tags": ["需要发票"], "credit_rating": 4},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["level"] == "key" and body["tags"] == ["需要发票"] and body["credit_rating"] == 4
    mine.refresh_from_db()
    assert mine.phone_key == "01065529999" and mine.level.code == "key"
    # clearing a dictionary field, and the owner cannot be changed here
    resp = c.patch(f"{API}/customers/{mine.pk}/", {"level": None, "owner": 1}, format="json")
    assert resp.status_code == 200 and resp.json()["level"] is None and resp.json()["level_detail"] is None
    assert resp.json()["owner"] == world["mine"].owner_id
    # renaming into a duplicate needs a confirmation
    error(c.patch(f"{API}/customers/{mine.pk}/", {"name": "上海东方电子"}, format="json"), 409, "duplicate")
    assert (
        c.patch(
            f"{API}/customers/{mine.pk}/", {"name": "上海东方电子", "confirm_duplicate": True}, format="json"
        ).status_code
        == 200
    )
    assert c.put(f"{API}/customers/{mine.pk}/", {"name": "x"}, format="json").status_code == 405


def test_read_only_share_and_pool_customers_cannot_be_edited(world, api_for):
    c = api_for("manager")
    error(
        c.patch(f"{API}/customers/{world['shared'].pk}/", {"notes": "x"}, format="json"),
        403,
        "permission_denied",
    )
    error(
        c.patch(f"{API}/customers/{world['pool'].pk}/", {"notes": "x"}, format="json"),
        403,
        "permission_denied",
    )


def test_only_a_supervisor_creates_for_someone_else(demo, api_for):
    resp = api_for("supervisor").post(
        f"{API}/customers/", {"name": "西安卓越", "owner": demo["manager"].pk}, format="json"
    )
    assert resp.status_code == 201 and resp.json()["owner"] == demo["manager"].pk
    # outside the supervisor's department the user "does not exist"
    body = error(
        api_for("supervisor").post(
            f"{API}/customers/", {"name": "西安二", "owner": demo["manager2"].pk}, format="json"
        ),
        400,
    )
    assert "owner" in body["details"]
    body = error(
        api_for("manager").post(
            f"{API}/customers/", {"name": "西安三", "owner": demo["manager2"].pk}, format="json"
        ),
        400,
    )
    assert "owner" in body["details"]


def test_filters_and_ordering(world, api_for, demo):
    c = api_for("executive")
    w = {k: v.pk for k, v in world.items()}

    def found(**params):
        return ids(c.get(f"{API}/customers/", params))

    assert found(q="华夏") == {w["mine"]}
    assert found(q="bjhx") == {w["mine"]}
    assert found(q="+86 138-0013-8000") == {w["mine"]}  # the contact's mobile
    assert found(q="(010) 6552-1234 转 8") == {w["mine"]}  # the company line
    assert found(q=world["other"].number) == {w["other"]}
    assert found(level="vip") == {w["mine"]}
    assert found(level="vip,key") == {w["mine"]}
    assert found(status="signed") == {w["mine"], w["other"]}
    assert found(owner=demo["manager2"].pk) == {w["other"], w["shared"]}
    assert found(tag="老客户") == {w["mine"]}
    today = timezone.localdate().isoformat()
    assert found(created_after=today) == {w[k] for k in ("mine", "other", "pool", "shared", "sup")}
    assert found(created_before="2000-01-01") == set()
    assert found(last_contact_after=today) == {w["mine"], w["other"]}
    assert found(last_contact_before="2000-01-01") == set()
    names = [r["name"] for r in c.get(f"{API}/customers/", {"ordering": "name"}).json()["results"]]
    assert names == sorted(names)
    body = error(c.get(f"{API}/customers/", {"created_after": "yesterday"}), 400, "invalid")
    assert "created_after" in body["details"]


def test_archive_and_restore(world, api_for):
    c = api_for("manager")
    mine = world["mine"]
    assert c.post(f"{API}/customers/{mine.pk}/archive/").json()["archived_at"]
    assert mine.pk not in ids(c.get(f"{API}/customers/"))
    assert ids(c.get(f"{API}/customers/", {"archived": "true"})) == {mine.pk}
    assert c.get(f"{API}/customers/{mine.pk}/").status_code == 200  # the detail still answers
    error(api_for("manager").post(f"{API}/customers/{world['shared'].pk}/archive/"), 403)
    assert c.post(f"{API}/customers/{mine.pk}/restore/").json()["archived_at"] is None
    assert mine.pk in ids(c.get(f"{API}/customers/"))


# --- ownership --------------------------------------------------------------------------------


def test_supervisor_assigns_manager_may_not(world, api_for, demo):
    mine = world["mine"]
    error(
        api_for("manager").post(
            f"{API}/customers/{mine.pk}/assign/", {"to": demo["manager2"].pk}, format="json"
        ),
        403,
        "permission_denied",
    )
    resp = api_for("supervisor").post(
        f"{API}/customers/{mine.pk}/assign/", {"to": demo["supervisor"].pk}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["owner"] == demo["supervisor"].pk
    body = error(
        api_for("supervisor").post(f"{API}/customers/{mine.pk}/assign/", {"to": 999999}, format="json"), 400
    )
    assert "to" in body["details"]


def test_two_supervisors_transferring_the_same_customer_conflict(world, api_for, demo):
    from kehu.accounts.models import Department

    UserFactory(username="supervisor2", department=Department.objects.get(code="SALES"), roles=["supervisor"])
    demo["supervisor2"] = type(demo["supervisor"]).objects.get(username="supervisor2")
    mine = world["mine"]
    seen = demo["manager"].pk  # both opened the page while the manager owned it
    first = api_for("supervisor").post(
        f"{API}/customers/{mine.pk}/assign/",
        {"to": demo["supervisor"].pk, "expected_owner": seen},
        format="json",
    )
    assert first.status_code == 200, first.json()
    second = api_for("supervisor2").post(
        f"{API}/customers/{mine.pk}/assign/",
        {"to": demo["supervisor2"].pk, "expected_owner": seen},
        format="json",
    )
    body = error(second, 409, "conflict")
    assert mine.name in body["message"]
    mine.refresh_from_db()
    assert mine.owner == demo["supervisor"]
    # the second one, reloaded, sees the new owner and may go on
    again = api_for("supervisor2").post(
        f"{API}/customers/{mine.pk}/assign/",
        {"to": demo["supervisor2"].pk, "expected_owner": demo["supervisor"].pk},
        format="json",
    )
    assert again.status_code == 200 and again.json()["owner"] == demo["supervisor2"].pk


def test_bulk_assign(world, api_for, demo):
    c = api_for("supervisor")
    mine, pool = world["mine"], world["pool"]
    payload = {
        "ids": [mine.pk, pool.pk],
        "to": demo["supervisor"].pk,
        "expected_owner_ids": {str(mine.pk): demo["manager"].pk, str(pool.pk): None},
    }
    resp = c.post(f"{API}/customers/bulk-assign/", payload, format="json")
    assert resp.status_code == 200 and resp.json() == {"assigned": 2}
    assert set(Customer.objects.filter(pk__in=[mine.pk, pool.pk]).values_list("owner", flat=True)) == {
        demo["supervisor"].pk
    }
    error(c.post(f"{API}/customers/bulk-assign/", payload, format="json"), 409, "conflict")
    body = error(
        c.post(
            f"{API}/customers/bulk-assign/", {"ids": [mine.pk, world["other"].pk], "to": demo["manager"].pk}
        ),
        400,
        "invalid",
    )
    assert body["details"] == {"ids": [world["other"].pk]}
    error(api_for("manager").post(f"{API}/customers/bulk-assign/", payload, format="json"), 403)


def test_share_and_unshare(world, api_for, demo):
    mine = world["mine"]
    resp = api_for("manager").post(
        f"{API}/customers/{mine.pk}/share/", {"user": demo["manager2"].pk, "can_edit": True}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["can_edit"] is True
    c2 = api_for("manager2")
    assert c2.get(f"{API}/customers/{mine.pk}/").status_code == 200
    assert world["mine_activity"].pk in ids(c2.get(f"{API}/activities/", {"customer": mine.pk}))
    assert c2.patch(f"{API}/customers/{mine.pk}/", {"notes": "共同跟进"}, format="json").status_code == 200
    error(c2.post(f"{API}/customers/{mine.pk}/share/", {"user": demo["supervisor"].pk}, format="json"), 403)
    resp = api_for("manager").post(f"{API}/customers/{mine.pk}/unshare/", {"user": demo["manager2"].pk})
    assert resp.status_code == 204
    error(c2.get(f"{API}/customers/{mine.pk}/"), 404)


def test_release_claim_and_the_daily_limit(world, api_for, demo):
    set_setting("customers.pool_claim_limit", 1, by=demo["admin"])
    mine, pool = world["mine"], world["pool"]
    resp = api_for("manager").post(f"{API}/customers/{mine.pk}/release/", {"reason": "无需求"}, format="json")
    assert resp.status_code == 200 and resp.json()["owner"] is None and resp.json()["in_pool"] is True
    error(api_for("manager").post(f"{API}/customers/{mine.pk}/release/"), 409, "illegal_transition")
    c2 = api_for("manager2")
    assert ids(c2.get(f"{API}/customers/pool/")) == {mine.pk, pool.pk}
    resp = c2.post(f"{API}/customers/{mine.pk}/claim/")
    assert resp.status_code == 200 and resp.json()["owner"] == demo["manager2"].pk
    body = error(c2.post(f"{API}/customers/{pool.pk}/claim/"), 409, "claim_limit")
    assert "limit" in body["message"]
    error(api_for("manager").post(f"{API}/customers/{mine.pk}/claim/"), 404)  # manager2's now
    pool.refresh_from_db()
    assert pool.owner is None


def test_merge(world, api_for, demo):
    sup = api_for("supervisor")
    mine = world["mine"]
    body = error(
        sup.post(f"{API}/customers/{mine.pk}/merge/", {"into": mine.pk}, format="json"), 400, "invalid"
    )
    assert "itself" in body["message"]
    dup = services.create_customer(
        by=demo["manager"], name="北京华夏科技", phone="010-6552 7777", confirm_duplicate=True
    )
    error(api_for("manager").post(f"{API}/customers/{dup.pk}/merge/", {"into": mine.pk}, format="json"), 403)
    body = error(
        sup.post(f"{API}/customers/{dup.pk}/merge/", {"into": world["other"].pk}, format="json"), 400
    )
    assert "into" in body["details"]  # out of scope: "does not exist"
    resp = sup.post(f"{API}/customers/{dup.pk}/merge/", {"into": mine.pk}, format="json")
    assert resp.status_code == 200 and resp.json()["id"] == mine.pk
    dup.refresh_from_db()
    assert dup.is_archived


# --- contacts -------------------------------------------------------------------------------------


def test_contacts_create_update_and_primary(world, api_for):
    c = api_for("manager")
    mine = world["mine"]
    first = world["mine_contact"]
    resp = c.post(
        f"{API}/contacts/",
        {
            "customer": mine.pk,
            "name": "李四",
            "mobile": "139 0000 1111",
            "email": "li@example.cn",
            "gender": "m",
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    second = resp.json()
    assert second["is_primary"] is False and second["gender_label"] == "Male"
    resp = c.patch(f"{API}/contacts/{second['id']}/", {"title": "采购经理", "customer": 1}, format="json")
    assert (
        resp.status_code == 200 and resp.json()["title"] == "采购经理" and resp.json()["customer"] == mine.pk
    )
    resp = c.post(f"{API}/contacts/{second['id']}/set-primary/")
    assert resp.status_code == 200 and resp.json()["is_primary"] is True
    first.refresh_from_db()
    assert not first.is_primary
    listed = c.get(f"{API}/contacts/", {"customer": mine.pk}).json()["results"]
    assert [r["id"] for r in listed] == [second["id"], first.pk]
    assert ids(c.get(f"{API}/contacts/", {"search": "李四"})) == {second["id"]}
    # a customer outside the scope "does not exist"; a read-only share may not add contacts
    body = error(c.post(f"{API}/contacts/", {"customer": world["other"].pk, "name": "x"}, format="json"), 400)
    assert "customer" in body["details"]
    error(c.post(f"{API}/contacts/", {"customer": world["shared"].pk, "name": "x"}, format="json"), 403)


# --- activities -----------------------------------------------------------------------------------


def test_activities_record_comment_and_unread(world, api_for, demo):
    c = api_for("manager")
    mine = world["mine"]
    body_time = timezone.now() - timedelta(hours=1)
    happened = body_time.isoformat()
    resp = c.post(
        f"{API}/activities/",
        {
            "customer": mine.pk,
            "contact": world["mine_contact"].pk,
            "type": "visit",
            "subject": "技术交流会",
            "happened_at": happened,
            "next_follow_up": (timezone.localdate() + timedelta(days=3)).isoformat(),
            "field_visit": world["mine_visit"].pk,
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert (
        body["type"] == "visit"
        and body["type_detail"]["label"] == "Visit"
        and body["author"] == demo["manager"].pk
    )
    assert FieldVisit.objects.get(pk=world["mine_visit"].pk).status == "done"
    error(
        c.post(f"{API}/activities/", {"customer": mine.pk, "type": "fax", "subject": "x"}, format="json"), 400
    )
    error(
        c.post(
            f"{API}/activities/",
            {"customer": mine.pk, "type": "call", "subject": "x", "happened_at": "2999-01-01T00:00:00Z"},
            format="json",
        ),
        400,
    )
    error(c.post(f"{API}/activities/", {"customer": world["pool"].pk, "type": "call", "subject": "x"}), 403)
    # the supervisor comments, the manager may not
    error(c.post(f"{API}/activities/{body['id']}/comment/", {"comment": "好"}, format="json"), 403)
    resp = api_for("supervisor").post(f"{API}/activities/{body['id']}/comment/", {"comment": "抓紧报价"})
    assert resp.status_code == 200 and resp.json()["comment"] == "抓紧报价"
    assert ids(c.get(f"{API}/activities/", {"unread_comments": "true"})) == {body["id"]}
    assert c.post(f"{API}/activities/mark-comments-read/").json() == {"marked": 1}
    assert ids(c.get(f"{API}/activities/", {"unread_comments": "true"})) == set()
    # filters
    assert ids(c.get(f"{API}/activities/", {"type": "visit"})) == {body["id"]}
    assert ids(c.get(f"{API}/activities/", {"customer": mine.pk, "author": demo["manager"].pk})) == {
        body["id"],
        world["mine_activity"].pk,
    }
    assert ids(c.get(f"{API}/activities/", {"happened_before": "2000-01-01"})) == set()
    assert body["id"] in ids(
        c.get(f"{API}/activities/", {"happened_after": timezone.localtime(body_time).date().isoformat()})
    )


# --- field visits ---------------------------------------------------------------------------------


def test_field_visits_plan_and_cancel(world, api_for):
    c = api_for("manager")
    resp = c.post(
        f"{API}/field-visits/",
        {"customer": world["mine"].pk, "planned_on": timezone.localdate().isoformat(), "purpose": "送样品"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    vid = resp.json()["id"]
    resp = c.post(f"{API}/field-visits/{vid}/cancel/")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    error(c.post(f"{API}/field-visits/{vid}/cancel/"), 409, "illegal_transition")
    body = error(
        c.post(f"{API}/field-visits/", {"customer": world["mine"].pk, "planned_on": "2001-01-01"}), 400
    )
    assert "purpose" in body["details"]


# --- documents ------------------------------------------------------------------------------------


def test_documents_upload_list_and_download_in_scope(world, api_for):
    c = api_for("manager")
    mine = world["mine"]
    upload = SimpleUploadedFile("营业执照.pdf", b"%PDF-1.4 licence", content_type="application/pdf")
    resp = c.post(f"{API}/documents/", {"customer": mine.pk, "file": upload}, format="multipart")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["name"] == "营业执照.pdf" and body["size"] == len(b"%PDF-1.4 licence")
    assert body["download_url"].endswith(f"/api/v1/documents/{body['id']}/download/")
    assert ids(c.get(f"{API}/documents/", {"customer": mine.pk})) == {body["id"], world["mine_document"].pk}
    resp = c.get(f"{API}/documents/{body['id']}/download/", HTTP_ACCEPT="application/pdf")
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == b"%PDF-1.4 licence"
    assert "attachment" in resp["Content-Disposition"]
    error(api_for("manager2").get(f"{API}/documents/{body['id']}/download/"), 404)
    error(
        c.get(f"{API}/documents/{world['other_document'].pk}/download/", HTTP_ACCEPT="application/pdf"), 404
    )
    # a read-only share may read but not upload
    again = SimpleUploadedFile("a.txt", b"x")
    error(
        c.post(f"{API}/documents/", {"customer": world["shared"].pk, "file": again}, format="multipart"), 403
    )
    assert CustomerDocument.objects.filter(customer=world["shared"]).count() == 0


# --- churn ------------------------------------------------------------------------------------------


def test_churn_cases_defer_confirm_recover(world, api_for):
    c = api_for("manager")
    case = world["mine_case"]
    resp = c.post(
        f"{API}/churn-cases/{case.pk}/defer/",
        {"measure": "总经理上门拜访", "follow_up_on": (timezone.localdate() + timedelta(days=7)).isoformat()},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["status"] == "deferred" and resp.json()["measures"][0]["measure"] == "总经理上门拜访"
    body = error(c.post(f"{API}/churn-cases/{case.pk}/confirm/", {"reason": "nope"}, format="json"), 400)
    assert "reason" in body["details"]
    resp = c.post(f"{API}/churn-cases/{case.pk}/confirm/", {"reason": "competitor"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "confirmed"
    assert (
        resp.json()["reason"] == "competitor"
        and resp.json()["reason_detail"]["label"] == "Lost to a competitor"
    )
    world["mine"].refresh_from_db()
    assert world["mine"].status == "lost"
    error(c.post(f"{API}/churn-cases/{case.pk}/recover/"), 409, "illegal_transition")
    assert ids(c.get(f"{API}/churn-cases/", {"status": "confirmed"})) == {case.pk}
    other = world["other_case"]
    assert api_for("manager2").post(f"{API}/churn-cases/{other.pk}/recover/").json()["status"] == "recovered"


# --- caller ID --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number,key,contact",
    [
        ("+86 138-0013-8000", "13800138000", True),
        ("0086 138 0013 8000", "13800138000", True),
        ("008613800138000", "13800138000", True),
        ("13800138000", "13800138000", True),
        ("(010) 6552 1234 转 808", "01065521234", False),
        ("010-65521234 ext. 12", "01065521234", False),
        ("+86 10 6552 1234", "01065521234", False),
    ],
)
def test_caller_id_normalises_the_number(world, api_for, number, key, contact):
    resp = api_for("manager").get(f"{API}/caller-id/", {"number": number})
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["number"] == key
    [match] = body["matches"]
    assert match["customer"]["id"] == world["mine"].pk and match["customer"]["level"] == "vip"
    if contact:
        assert match["contact"]["id"] == world["mine_contact"].pk
    else:
        assert match["contact"] is None
    assert [a["id"] for a in match["activities"]] == [world["mine_activity"].pk]


@pytest.mark.parametrize("number", ["abc", "123", "转 808", ""])
def test_caller_id_refuses_what_is_not_a_phone_number(world, api_for, number):
    body = error(api_for("manager").get(f"{API}/caller-id/", {"number": number}), 400, "invalid")
    assert "number" in body["details"]


def test_caller_id_unknown_number_has_no_matches(world, api_for):
    resp = api_for("manager").get(f"{API}/caller-id/", {"number": "0512-6666 0000"})
    assert resp.status_code == 200 and resp.json() == {"number": "051266660000", "matches": []}


def test_caller_id_never_shows_another_managers_customer(world, api_for):
    other_mobile = "13900139000"  # manager2's contact
    assert api_for("manager").get(f"{API}/caller-id/", {"number": other_mobile}).json()["matches"] == []
    assert api_for("manager").get(f"{API}/caller-id/", {"number": "021-5555 0000"}).json()["matches"] == []
    [match] = api_for("manager2").get(f"{API}/caller-id/", {"number": other_mobile}).json()["matches"]
    assert match["customer"]["id"] == world["other"].pk
    # the supervisor's department does not include manager2 either; the executive sees all
    assert api_for("supervisor").get(f"{API}/caller-id/", {"number": other_mobile}).json()["matches"] == []
    assert len(api_for("executive").get(f"{API}/caller-id/", {"number": other_mobile}).json()["matches"]) == 1
    # shared and pool customers are in scope
    [match] = api_for("manager").get(f"{API}/caller-id/", {"number": "0755-6666 0000"}).json()["matches"]
    assert match["customer"]["id"] == world["shared"].pk
    [match] = api_for("manager").get(f"{API}/caller-id/", {"number": "020 8888 0000"}).json()["matches"]
    assert match["customer"]["id"] == world["pool"].pk and match["customer"]["in_pool"] is True


def test_caller_id_leaves_archived_customers_out(world, api_for, demo):
    from kehu.core.services import archive

    archive(world["mine"], by=demo["manager"])
    assert api_for("manager").get(f"{API}/caller-id/", {"number": "13800138000"}).json()["matches"] == []


def test_caller_id_answer_equals_the_documented_serializer(world, api_for, demo):
    """The view builds the card directly; it must say exactly what CallerIdResultSerializer says,
    in both languages, for several matches, a pool customer, a company line and no level."""
    from django.test import RequestFactory
    from django.utils import translation

    from kehu.customers.models import Customer
    from kehu.customers.selectors import caller_id_lookup
    from kehu.customers.serializers import CallerIdResultSerializer

    shared_number = "0755-6666 0000"
    Customer.objects.filter(pk=world["mine"].pk).update(phone="0755 6666 0000", phone_key="075566660000")
    Customer.objects.filter(pk=world["pool"].pk).update(
        phone="0755-66660000", phone_key="075566660000", level=None
    )
    request = RequestFactory().get("/")
    request.user = demo["manager"]
    for number in (shared_number, "13800138000", "020 8888 0000", "0512-6666 0000"):
        for lang in ("zh-hans", "en"):
            with translation.override(lang):
                result = caller_id_lookup(demo["manager"], number)
                expected = CallerIdResultSerializer(result, context={"request": request}).data
                body = (
                    api_for("manager")
                    .get(f"{API}/caller-id/", {"number": number}, HTTP_ACCEPT_LANGUAGE=lang)
                    .json()
                )
            assert body == json.loads(json.dumps(expected)), (number, lang)
    many = api_for("manager").get(f"{API}/caller-id/", {"number": shared_number}).json()["matches"]
    assert len(many) == 3 and any(m["customer"]["level"] is None for m in many)
    assert any(m["activities"] for m in many)


# --- schema -----------------------------------------------------------------------------------------


def test_the_schema_lists_the_customer_endpoints(demo, client_for):
    paths = client_for("manager").get("/api/schema/", {"format": "json"}).json()["paths"]
    for p in (
        "/api/v1/customers/",
        "/api/v1/customers/pool/",
        "/api/v1/customers/{id}/assign/",
        "/api/v1/customers/bulk-assign/",
        "/api/v1/contacts/{id}/set-primary/",
        "/api/v1/activities/{id}/comment/",
        "/api/v1/field-visits/{id}/cancel/",
        "/api/v1/documents/{id}/download/",
        "/api/v1/churn-cases/{id}/confirm/",
        "/api/v1/caller-id/",
    ):
        assert p in paths, p


@pytest.mark.parametrize("resource", ["customers", "contacts", "activities"])
def test_a_page_costs_a_fixed_number_of_queries(demo, api_for, resource):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kehu.customers import demo as customers_demo

    customers_demo.load(count=60)
    c = api_for("supervisor")
    c.get(f"{API}/{resource}/", {"page_size": 1})  # the first request caches the user's rights
    counts = []
    for size in (5, 40):
        with CaptureQueriesContext(connection) as ctx:
            resp = c.get(f"{API}/{resource}/", {"page_size": size})
        assert resp.status_code == 200 and len(resp.json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_caller_id_costs_two_queries_with_shares_in_scope(world, demo, django_assert_num_queries):
    """The customers (with level, owner, matched contact, the user's shares inside the statement)
    and their latest activities: two queries; a number nobody has: one."""
    from kehu.customers.selectors import caller_id_lookup

    m = demo["manager"]
    m.refresh_from_db()
    assert m.data_scope == "own"  # roles and rights read here, not part of the lookup
    with django_assert_num_queries(2):
        shared = caller_id_lookup(m, "0755 6666 0000")["matches"]
    assert [x["customer"] for x in shared] == [world["shared"]] and shared[0]["contact"] is None
    with django_assert_num_queries(2):
        (mine,) = caller_id_lookup(m, "13800138000")["matches"]
    assert mine["customer"] == world["mine"] and mine["contact"] == world["mine_contact"]
    assert mine["contact"].name == "联系人mine" and mine["activities"]
    with django_assert_num_queries(1):
        assert caller_id_lookup(m, "13900139000")["matches"] == []  # manager2's contact: not in scope
