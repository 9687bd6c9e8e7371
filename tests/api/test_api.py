import pytest
from rest_framework.test import APIClient

from kehu.core.models import DictEntry


def test_token_is_issued_for_the_right_password_and_used(demo):
    c = APIClient()
    resp = c.post("/api/v1/auth/token/", {"username": "manager", "password": "kehu-demo"}, format="json")
    assert resp.status_code == 200 and len(resp.json()["token"]) == 40
    from kehu.accounts.models import LoginLog

    assert LoginLog.objects.filter(event="success", username="manager", channel="api").count() == 1
    c.credentials(HTTP_AUTHORIZATION=f"Token {resp.json()['token']}")
    me = c.get("/api/v1/me/").json()
    assert me["username"] == "manager" and me["data_scope"] == "own" and me["roles"] == ["account_manager"]


def test_wrong_password_gets_the_error_shape(demo):
    resp = APIClient().post("/api/v1/auth/token/", {"username": "manager", "password": "nope"}, format="json")
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "invalid"


def test_anonymous_requests_are_refused_with_the_error_shape(db):
    resp = APIClient().get("/api/v1/users/")
    assert resp.status_code in (401, 403)
    assert set(resp.json()) == {"code", "message", "details"}


def test_unknown_id_and_out_of_scope_id_both_answer_404(demo, api_for):
    c = api_for("supervisor")
    assert c.get(f"/api/v1/users/{demo['manager'].pk}/").status_code == 200
    resp = c.get(f"/api/v1/users/{demo['manager2'].pk}/")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert c.get("/api/v1/users/999999/").status_code == 404


def test_list_is_scoped_paginated_searchable_and_ordered(demo, api_for):
    c = api_for("supervisor")
    body = c.get("/api/v1/users/", {"ordering": "-username"}).json()
    assert {"count", "next", "previous", "results"} <= set(body)
    assert [u["username"] for u in body["results"]] == ["supervisor", "manager"]
    assert [u["username"] for u in c.get("/api/v1/users/", {"search": "王"}).json()["results"]] == ["manager"]
    page = api_for("admin").get("/api/v1/users/", {"page_size": 3, "ordering": "username"}).json()
    assert page["count"] == 8 and len(page["results"]) == 3 and page["next"]


def test_role_without_right_gets_403(api_for):
    resp = api_for("manager").get("/api/v1/users/")
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    assert api_for("manager").get("/api/v1/audit-log/").status_code == 403
    assert api_for("admin").get("/api/v1/audit-log/").status_code == 200


def test_executive_is_read_only_in_the_api(demo, api_for):
    c = api_for("executive")
    assert c.get("/api/v1/users/").status_code == 200
    resp = c.patch(f"/api/v1/users/{demo['manager'].pk}/", {"full_name": "x"}, format="json")
    assert resp.status_code == 403
    demo["manager"].refresh_from_db()
    assert demo["manager"].full_name == "王强"


def test_admin_creates_and_updates_a_user_through_the_api(demo, api_for):
    c = api_for("admin")
    resp = c.post(
        "/api/v1/users/",
        {
            "username": "api-user",
            "password": "Blue-Harbor-2026",
            "full_name": "接口用户",
            "roles": ["account_manager"],
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    uid = resp.json()["id"]
    resp = c.patch(f"/api/v1/users/{uid}/", {"phone": "13700000000"}, format="json")
    assert resp.status_code == 200 and resp.json()["phone"] == "13700000000"
    resp = c.post("/api/v1/users/", {"username": "api-user", "password": "Blue-Harbor-2026"}, format="json")
    assert resp.status_code == 400 and "already exists" in resp.json()["message"]


def test_dictionary_api_reads_for_all_writes_with_right_and_refuses_deleting_used(demo, api_for):
    from tests.testapp.models import Gadget

    body = api_for("manager").get("/api/v1/dictionary/", {"type": "region", "page_size": 100}).json()
    assert "north" in {e["code"] for e in body["results"]}
    resp = api_for("manager").post(
        "/api/v1/dictionary/",
        {"type": "region", "code": "x", "label_zh": "x", "label_en": "x"},
        format="json",
    )
    assert resp.status_code == 403
    admin = api_for("admin")
    resp = admin.post(
        "/api/v1/dictionary/",
        {"type": "region", "code": "hk", "label_zh": "港澳台", "label_en": "HK"},
        format="json",
    )
    assert resp.status_code == 201
    resp = admin.post(
        "/api/v1/dictionary/",
        {"type": "region", "code": "hk", "label_zh": "y", "label_en": "y"},
        format="json",
    )
    assert resp.status_code == 400 and resp.json()["details"] == {"field": "code"}
    level = DictEntry.objects.get(type="customer_level", code="vip")
    Gadget.objects.create(name="g", owner=demo["manager"], level=level)
    resp = admin.delete(f"/api/v1/dictionary/{level.pk}/")
    assert resp.status_code == 409 and resp.json()["code"] == "in_use"
    assert DictEntry.objects.filter(pk=level.pk).exists()


def test_numbering_rule_api_validates_the_pattern(demo, api_for):
    from kehu.core.models import NumberingRule

    rule = NumberingRule.objects.get(doc_type="sales_order")
    resp = api_for("admin").patch(
        f"/api/v1/numbering-rules/{rule.pk}/", {"pattern": "SO{bad}"}, format="json"
    )
    assert resp.status_code == 400 and "Unknown token" in resp.json()["message"]
    resp = api_for("admin").patch(
        f"/api/v1/numbering-rules/{rule.pk}/", {"pattern": "XS{yyMMdd}{seq:3}"}, format="json"
    )
    assert resp.status_code == 200
    rule.refresh_from_db()
    assert rule.pattern == "XS{yyMMdd}{seq:3}"


def test_session_auth_needs_csrf_for_writes(demo):
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(demo["admin"])
    assert c.get("/api/v1/users/").status_code == 200
    resp = c.post(
        "/api/v1/dictionary/",
        {"type": "region", "code": "z", "label_zh": "z", "label_en": "z"},
        format="json",
    )
    assert resp.status_code == 403 and "CSRF" in resp.json()["message"]


def test_schema_and_offline_docs(demo, client_for):
    c = client_for("manager")
    schema = c.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/users/" in paths and "/api/v1/auth/token/" in paths
    docs = c.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "//cdn" not in docs and "unpkg" not in docs and "jsdelivr" not in docs


@pytest.mark.parametrize("url", ["/api/v1/jobs/", "/api/v1/me/"])
def test_every_user_has_their_own_jobs_and_profile(api_for, url):
    assert api_for("service").get(url).status_code == 200


def test_token_endpoint_locks_out_after_repeated_failures(demo, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    c = APIClient(REMOTE_ADDR="10.8.8.8")
    for _ in range(2):
        assert (
            c.post("/api/v1/auth/token/", {"username": "finance", "password": "x"}, format="json").status_code
            == 400
        )
    resp = c.post("/api/v1/auth/token/", {"username": "finance", "password": "x"}, format="json")
    assert resp.status_code == 429 and resp.json()["code"] == "locked_out"
    resp = c.post("/api/v1/auth/token/", {"username": "finance", "password": "kehu-demo"}, format="json")
    assert resp.status_code == 429
