import pytest
from django.urls import reverse

from kehu.accounts import services
from kehu.accounts.models import Department, Right, Role, User
from kehu.core.errors import ValidationFailed
from kehu.core.selectors import menu_for


def menu_urls(user):
    return {e.url_name for g in menu_for(user) for e in g["entries"]}


def test_sidebar_shows_only_what_the_role_may_open(demo):
    admin = menu_urls(demo["admin"])
    assert {
        "accounts:user_list",
        "accounts:role_list",
        "core:dict_list",
        "core:audit_list",
        "accounts:loginlog_list",
    } <= admin
    manager = menu_urls(demo["manager"])
    assert "accounts:role_list" not in manager and "core:dict_list" not in manager
    assert "accounts:user_list" in menu_urls(demo["supervisor"])


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/roles/",
        "/accounts/roles/new/",
        "/accounts/departments/",
        "/accounts/users/new/",
        "/accounts/login-log/",
        "/system/audit/",
        "/basedata/dictionary/",
        "/basedata/numbering/",
    ],
)
def test_a_user_without_the_role_gets_403_by_url(client_for, url):
    resp = client_for("manager").get(url)
    assert resp.status_code == 403
    assert "Not allowed" in resp.content.decode()


def test_every_menu_entry_opens_for_each_role(demo, client_for):
    for username, user in demo.items():
        c = client_for(username)
        for group in menu_for(user):
            for entry in group["entries"]:
                resp = c.get(reverse(entry.url_name))
                assert resp.status_code == 200, (username, entry.url_name)


def test_supervisor_sees_own_department_users_and_404_outside(demo, client_for):
    c = client_for("supervisor")
    page = c.get("/accounts/users/").content.decode()
    assert "manager" in page and "manager2" not in page
    assert c.get(reverse("accounts:user_detail", args=[demo["manager"].pk])).status_code == 200
    assert c.get(reverse("accounts:user_detail", args=[demo["manager2"].pk])).status_code == 404


def test_supervisor_cannot_edit_users(demo, client_for):
    resp = client_for("supervisor").post(
        reverse("accounts:user_edit", args=[demo["manager"].pk]), {"full_name": "x"}
    )
    assert resp.status_code == 403


def test_executive_reads_but_cannot_write(demo, client_for):
    c = client_for("executive")
    assert c.get("/accounts/users/").status_code == 200
    assert c.get(reverse("accounts:user_detail", args=[demo["manager2"].pk])).status_code == 200
    assert c.post(reverse("core:set_language"), {"language": "en"}).status_code == 302  # own preference only


def test_admin_creates_a_user_in_the_ui_and_the_history_shows_it(demo, client_for):
    c = client_for("admin")
    sales = Department.objects.get(code="SALES")
    role = Role.objects.get(code="account_manager")
    resp = c.post(
        reverse("accounts:user_create"),
        {
            "username": "xiaoming",
            "full_name": "小明",
            "email": "xm@example.cn",
            "phone": "13900000000",
            "department": sales.pk,
            "manager": demo["supervisor"].pk,
            "roles": [role.pk],
            "language": "",
            "is_active": "on",
            "password": "Sales-Team-2026",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    user = User.objects.get(username="xiaoming")
    assert user.check_password("Sales-Team-2026") and user.role_codes == {"account_manager"}
    resp = c.post(
        reverse("accounts:user_edit", args=[user.pk]),
        {
            "full_name": "王小明",
            "email": "xm@example.cn",
            "phone": "13900000000",
            "department": sales.pk,
            "manager": demo["supervisor"].pk,
            "roles": [role.pk],
            "language": "",
            "is_active": "on",
            "password": "",
        },
    )
    assert resp.status_code == 302
    user.refresh_from_db()
    assert user.full_name == "王小明", user.full_name
    page = c.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
    assert "王小明" in page and "<del>小明</del>" in page and "张伟" in page  # who changed it
    assert "Full name" in page  # fields by their names, not column names
    assert "127.0.0.1" in page  # from which IP


def test_duplicate_username_and_weak_password_are_clear_errors(demo, client_for):
    c = client_for("admin")
    resp = c.post(
        reverse("accounts:user_create"),
        {"username": "Manager", "password": "Good-pass-2026", "is_active": "on"},
    )
    assert resp.status_code == 200 and "is taken" in resp.content.decode()
    resp = c.post(
        reverse("accounts:user_create"), {"username": "newbie", "password": "123", "is_active": "on"}
    )
    assert resp.status_code == 200 and "too short" in resp.content.decode()
    assert not User.objects.filter(username="newbie").exists()


def test_manager_chain_cannot_loop(demo):
    with pytest.raises(ValidationFailed):
        services.update_user(demo["supervisor"], by=demo["admin"], manager=demo["manager"])


def test_admin_cannot_remove_own_admin_role(demo):
    with pytest.raises(ValidationFailed):
        services.update_user(demo["admin"], by=demo["admin"], roles=[Role.objects.get(code="supervisor")])


def test_admin_edits_a_role_rights_in_the_ui_and_they_take_effect(demo, client_for):
    role = Role.objects.get(code="account_manager")
    right = Right.objects.get(code="basedata.dictionary")
    assert client_for("manager").get("/basedata/dictionary/").status_code == 403
    resp = client_for("admin").post(
        reverse("accounts:role_edit", args=[role.pk]),
        {
            "code": role.code,
            "name": "",
            "description": "",
            "scope": "own",
            "rights": [r.pk for r in role.rights.all()] + [right.pk],
        },
    )
    assert resp.status_code == 302
    assert client_for("manager").get("/basedata/dictionary/").status_code == 200
    page = client_for("admin").get(reverse("accounts:role_edit", args=[role.pk])).content.decode()
    assert "rights" in page  # the m2m change is in the role's history


def test_custom_role_create_and_delete(demo, client_for):
    c = client_for("admin")
    resp = c.post(
        reverse("accounts:role_create"),
        {"code": "auditor", "name": "审计员", "scope": "all", "read_only": "on", "rights": []},
    )
    assert resp.status_code == 302
    role = Role.objects.get(code="auditor")
    assert role.read_only and not role.is_builtin
    resp = c.post(reverse("accounts:role_delete", args=[role.pk]))
    assert resp.status_code == 302 and not Role.objects.filter(code="auditor").exists()
    builtin = Role.objects.get(code="executive")
    c.post(reverse("accounts:role_delete", args=[builtin.pk]))
    assert Role.objects.filter(code="executive").exists()


def test_department_archive_refused_while_it_has_members_then_allowed(demo, client_for):
    c = client_for("admin")
    dept = Department.objects.get(code="SALES-E")
    resp = c.post(reverse("accounts:department_archive", args=[dept.pk]), follow=True)
    assert resp.status_code == 200
    dept.refresh_from_db()
    assert dept.is_archived
    listing = c.get("/accounts/departments/").content.decode()
    assert "SALES-E" not in listing
    assert "SALES-E" in c.get("/accounts/departments/?archived=1").content.decode()
    c.post(reverse("accounts:department_restore", args=[dept.pk]))
    dept.refresh_from_db()
    assert not dept.is_archived
    sales = Department.objects.get(code="SALES")
    c.post(reverse("accounts:department_archive", args=[sales.pk]))
    sales.refresh_from_db()
    assert not sales.is_archived  # active members and sub-departments


def test_hard_delete_of_department_only_when_unreferenced(demo, client_for):
    c = client_for("admin")
    empty = Department.objects.create(code="TMP", name="临时")
    c.post(reverse("accounts:department_delete", args=[empty.pk]))
    assert not Department.objects.filter(code="TMP").exists()
    sales = Department.objects.get(code="SALES")
    resp = c.post(reverse("accounts:department_delete", args=[sales.pk]), follow=True)
    assert "still referenced" in resp.content.decode()
    assert Department.objects.filter(code="SALES").exists()
    assert (
        client_for("supervisor").post(reverse("accounts:department_delete", args=[sales.pk])).status_code
        == 403
    )


def test_user_list_filters_sort_and_export(demo, client_for):
    c = client_for("admin")
    page = c.get("/accounts/users/", {"q": "manager", "sort": "-username"}).content.decode()
    assert page.index("manager2") < page.index(">manager<")
    import io

    from openpyxl import load_workbook

    resp = c.get("/accounts/users/", {"q": "manager", "export": "xlsx"})
    rows = list(
        load_workbook(io.BytesIO(b"".join(resp.streaming_content))).active.iter_rows(values_only=True)
    )
    assert sorted(r[0] for r in rows[1:]) == ["manager", "manager2"]


def test_login_and_audit_logs_are_browsable_and_filterable(demo, client_for):
    from django.test import Client

    Client().post("/accounts/login/", {"username": "manager", "password": "bad"})
    c = client_for("admin")
    page = c.get("/accounts/login-log/", {"event": "failure"}).content.decode()
    assert "manager" in page
    services.update_user(demo["manager"], by=demo["admin"], phone="13811112222")
    page = c.get("/system/audit/", {"object_repr": "王强"}).content.decode()
    assert "13811112222" in page


def test_audit_log_names_related_records_and_skips_internals(demo, client_for):
    services.update_user(
        demo["manager2"],
        by=demo["admin"],
        manager=demo["supervisor"],
        roles=[Role.objects.get(code="supervisor")],
    )
    c = client_for("admin")
    page = c.get("/system/audit/", {"object_repr": "刘洋"}).content.decode()
    assert "Manager: 陈静 → 李娜" in page and "张伟" in page  # names, not ids; who did it
    assert "accounts.User.None" not in page and "{&#x27;type&#x27;" not in page
    assert "added: 销售主管" in page or "added: Sales supervisor" in page or "added: supervisor" in page


def test_yes_no_filters_read_all_yes_no(demo, client_for):
    c = client_for("admin")
    page = c.get("/accounts/users/").content.decode()
    assert '<option value="" selected>All</option>' in page
    demo["service"].is_active = False
    demo["service"].save()
    page = c.get("/accounts/users/", {"is_active": "false"}).content.decode()
    assert ">service<" in page and ">manager<" not in page
