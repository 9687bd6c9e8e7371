import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from kehu.core.errors import DomainError, IllegalTransition, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry
from kehu.core.settings_store import set_setting
from kehu.customers import services
from kehu.customers.models import Activity, ChurnCase, Contact, Customer, CustomerShare
from kehu.customers.normalize import normalize_company_name, normalize_phone, pinyin_initials
from kehu.customers.reminders import reminders_for, send_daily_digests


def dict_entry(type_, code):
    return DictEntry.objects.get(type=type_, code=code)


@pytest.fixture
def hx(demo):
    """北京华夏科技有限公司, owned by manager, with a contact."""
    c = services.create_customer(
        by=demo["manager"],
        name="北京华夏科技有限公司",
        phone="010-6552 1234",
        tax_number="91110000MA01ABCD1X",
        status="signed",
    )
    services.save_contact(Contact(customer=c, name="张明", mobile="+86 138-0013-8000"), by=demo["manager"])
    return c


# --- normalising ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "北京华夏科技有限公司",
        "北京华夏科技有限责任公司",
        "北京 华夏科技（有限公司）",
        "北京华夏科技",
        "ＢＥＩＪＩＮＧ"[:0] + "北京华夏科技股份有限公司",
    ],
)
def test_company_name_variants_meet_on_one_key(name):
    assert normalize_company_name(name) == "北京华夏科技"


def test_full_width_and_case_are_folded():
    assert normalize_company_name("ＡＢＣ Trading Co., Ltd.") == normalize_company_name("abc trading")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("(010) 6552 1234 转 808", "01065521234"),
        ("010-65521234 ext. 12", "01065521234"),
        ("+86 10 6552-1234", "01065521234"),
        ("abc", ""),
        ("123", ""),
    ],
)
def test_phone_numbers_are_normalised(raw, expected):
    assert normalize_phone(raw) == expected


def test_pinyin_initials():
    assert pinyin_initials("北京华夏科技") == "bjhxkj"


# --- create, duplicates -----------------------------------------------------------------------


def test_create_issues_a_number_and_computes_search_keys(hx):
    assert hx.number.startswith("C")
    assert (hx.name_key, hx.pinyin, hx.phone_key) == ("北京华夏科技", "bjhxkjyxgs", "01065521234")
    assert hx.owner.username == "manager"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "北京华夏科技有限责任公司"},
        {"name": "别的名字", "phone": "+86 10 6552-1234"},
        {"name": "别的名字二", "tax_number": "91110000ma01abcd1x"},
        {"name": "别的名字三", "phone": "13800138000"},  # a contact's mobile
    ],
)
def test_duplicates_are_warned_and_can_be_confirmed(demo, hx, kwargs):
    with pytest.raises(services.Duplicate) as exc:
        services.create_customer(by=demo["manager2"], **kwargs)
    assert exc.value.details["duplicates"][0]["number"] == hx.number
    count = Customer.objects.count()
    c = services.create_customer(by=demo["manager2"], confirm_duplicate=True, **kwargs)
    assert Customer.objects.count() == count + 1 and c.owner == demo["manager2"]


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"name": ""}, "name"),
        ({"name": "x", "phone": "12ab"}, "phone"),
        ({"name": "x", "credit_rating": 6}, "credit_rating"),
    ],
)
def test_bad_customer_input_is_refused(demo, kwargs, field):
    with pytest.raises(ValidationFailed) as exc:
        services.create_customer(by=demo["manager"], **kwargs)
    assert exc.value.details["field"] == field
    assert not Customer.objects.exists()


def test_bad_contact_input_is_refused(demo, hx):
    for kw, field in [({"mobile": "1380013"}, "mobile"), ({"email": "zhang@"}, "email")]:
        with pytest.raises(ValidationFailed) as exc:
            services.save_contact(Contact(customer=hx, name="李四", **kw), by=demo["manager"])
        assert exc.value.details["field"] == field
    assert hx.contacts.count() == 1


def test_one_primary_contact(demo, hx):
    second = services.save_contact(Contact(customer=hx, name="李四", is_primary=True), by=demo["manager"])
    assert list(hx.contacts.filter(is_primary=True)) == [second]


def test_executive_and_other_managers_cannot_edit(demo, hx):
    for who in ("executive", "manager2"):
        with pytest.raises(PermissionDeniedError):
            services.update_customer(hx, by=demo[who], notes="x")


# --- ownership, pool --------------------------------------------------------------------------


def test_supervisor_assigns_manager_cannot(demo, hx):
    with pytest.raises(PermissionDeniedError):
        services.assign_customers([hx], to=demo["manager2"], by=demo["manager"])
    services.assign_customers([hx], to=demo["supervisor"], by=demo["supervisor"])
    hx.refresh_from_db()
    assert hx.owner == demo["supervisor"]


def test_transfer_conflict_when_someone_else_moved_it_first(demo, hx):
    seen = {hx.pk: hx.owner_id}
    services.assign_customers([hx], to=demo["supervisor"], by=demo["admin"], expected_owner_ids=seen)
    with pytest.raises(DomainError) as exc:
        services.assign_customers([hx], to=demo["manager"], by=demo["admin"], expected_owner_ids=seen)
    assert exc.value.code == "conflict"
    hx.refresh_from_db()
    assert hx.owner == demo["supervisor"]


def test_share_lets_a_colleague_see_and_maybe_edit(demo, hx):
    from kehu.customers.selectors import customers_visible_to

    assert not customers_visible_to(demo["manager2"]).filter(pk=hx.pk).exists()
    services.share_customer(hx, user=demo["manager2"], can_edit=False, by=demo["manager"])
    assert customers_visible_to(demo["manager2"]).filter(pk=hx.pk).exists()
    assert not services.can_edit_customer(demo["manager2"], hx)
    services.share_customer(hx, user=demo["manager2"], can_edit=True, by=demo["manager"])
    services.update_customer(hx, by=demo["manager2"], notes="共同跟进")
    services.unshare_customer(hx, user=demo["manager2"], by=demo["manager"])
    assert not customers_visible_to(demo["manager2"]).filter(pk=hx.pk).exists()


def test_release_and_claim_with_a_daily_limit(demo, hx):
    set_setting("customers.pool_claim_limit", 1, by=demo["admin"])
    services.release_to_pool(hx, by=demo["manager"])
    hx.refresh_from_db()
    assert hx.owner is None and hx.released_at
    with pytest.raises(IllegalTransition):
        services.release_to_pool(hx, by=demo["manager"])
    services.claim_from_pool(hx, by=demo["manager2"])
    hx.refresh_from_db()
    assert hx.owner == demo["manager2"]
    with pytest.raises(IllegalTransition):
        services.claim_from_pool(hx, by=demo["manager"])
    other = services.create_customer(by=demo["manager"], name="上海东方贸易有限公司")
    services.release_to_pool(other, by=demo["manager"])
    with pytest.raises(DomainError) as exc:
        services.claim_from_pool(other, by=demo["manager2"])
    assert exc.value.code == "claim_limit"
    other.refresh_from_db()
    assert other.owner is None


def test_inactive_customers_return_to_the_pool(demo, hx):
    stale = services.create_customer(by=demo["manager"], name="杭州远航物流有限公司")
    Customer.objects.filter(pk=stale.pk).update(assigned_at=timezone.now() - timedelta(days=40))
    set_setting("customers.pool_return_days", 30, by=demo["admin"])
    assert services.return_inactive_to_pool() == 1  # the signed one stays
    stale.refresh_from_db()
    hx.refresh_from_db()
    assert stale.owner is None and hx.owner == demo["manager"]


# --- merge --------------------------------------------------------------------------------------


def test_merge_moves_everything_and_archives_the_source(demo, hx):
    dup = services.create_customer(by=demo["manager"], name="华夏科技（北京）", confirm_duplicate=True)
    services.save_contact(Contact(customer=dup, name="王五", mobile="13900001111"), by=demo["manager"])
    services.record_activity(
        customer=dup, by=demo["manager"], kind=dict_entry("activity_type", "call"), subject="电话"
    )
    services.share_customer(dup, user=demo["manager2"], can_edit=False, by=demo["manager"])
    target = services.merge_customers(dup, hx, by=demo["manager"])
    dup.refresh_from_db()
    assert dup.is_archived and target.pk == hx.pk
    assert set(hx.contacts.values_list("name", flat=True)) == {"张明", "王五"}
    assert list(hx.contacts.filter(is_primary=True).values_list("name", flat=True)) == ["张明"]
    assert hx.activities.count() == 1 and not dup.activities.exists()
    assert CustomerShare.objects.filter(customer=hx, user=demo["manager2"]).exists()
    from kehu.core.selectors import history_for

    assert any("Merged" in str(e.changes_dict.get("notes", "")) for e in history_for(hx))


def test_merge_into_itself_is_refused(demo, hx):
    with pytest.raises(ValidationFailed, match="into itself"):
        services.merge_customers(hx, hx, by=demo["manager"])


# --- activities ---------------------------------------------------------------------------------


def test_activity_updates_last_contact_and_supervisor_comments(demo, hx):
    a = services.record_activity(
        customer=hx,
        by=demo["manager"],
        kind=dict_entry("activity_type", "visit"),
        subject="上门拜访",
        next_follow_up=timezone.localdate() + timedelta(days=3),
    )
    hx.refresh_from_db()
    assert hx.last_activity_at == a.happened_at
    with pytest.raises(PermissionDeniedError):
        services.comment_activity(a, comment="好", by=demo["manager2"])
    services.comment_activity(a, comment="抓紧推进报价", by=demo["supervisor"])
    assert [x.comment for x in reminders_for(demo["manager"])["comments"]] == ["抓紧推进报价"]
    services.mark_comments_read(demo["manager"])
    assert reminders_for(demo["manager"])["comments"] == []


def test_activity_in_the_future_is_refused(demo, hx):
    with pytest.raises(ValidationFailed):
        services.record_activity(
            customer=hx,
            by=demo["manager"],
            kind=dict_entry("activity_type", "call"),
            subject="x",
            happened_at=timezone.now() + timedelta(days=1),
        )
    assert not Activity.objects.exists()


def test_field_visit_is_completed_by_its_activity(demo, hx):
    v = services.plan_field_visit(
        customer=hx, by=demo["manager"], planned_on=timezone.localdate(), purpose="签合同"
    )
    assert [x.pk for x in reminders_for(demo["manager"])["visits"]] == [v.pk]
    services.record_activity(
        customer=hx,
        by=demo["manager"],
        kind=dict_entry("activity_type", "visit"),
        subject="签合同",
        field_visit=v,
    )
    v.refresh_from_db()
    assert v.status == "done" and v.activity.subject == "签合同"


# --- churn ----------------------------------------------------------------------------------------


def test_churn_case_opens_once_and_confirm_sets_lost(demo, hx):
    Customer.objects.filter(pk=hx.pk).update(last_activity_at=timezone.now() - timedelta(days=200))
    assert services.open_churn_cases() == 1
    assert services.open_churn_cases() == 0
    case = ChurnCase.objects.get(customer=hx)
    services.defer_churn(
        case, measure="总经理亲自拜访", follow_up_on=timezone.localdate(), by=demo["manager"]
    )
    case.refresh_from_db()
    assert case.status == "deferred" and case.measures.count() == 1
    with pytest.raises(ValidationFailed):
        services.confirm_churn(case, reason=None, by=demo["manager"])
    with pytest.raises(PermissionDeniedError):
        services.confirm_churn(case, reason=dict_entry("lost_reason", "price"), by=demo["manager2"])
    services.confirm_churn(case, reason=dict_entry("lost_reason", "price"), by=demo["manager"])
    hx.refresh_from_db()
    assert hx.status == "lost"
    with pytest.raises(IllegalTransition):
        services.recover_churn(case, by=demo["manager"])


# --- reminders ----------------------------------------------------------------------------------


def test_birthdays_and_follow_ups_reach_the_dashboard_and_the_digest(demo, hx):
    today = timezone.localdate()
    soon = today + timedelta(days=2)
    zhang = Contact.objects.get(customer=hx)
    zhang.birthday = soon.replace(year=1980)  # 1980 is a leap year: any day exists
    services.save_contact(zhang, by=demo["manager"])
    services.record_activity(
        customer=hx,
        by=demo["manager"],
        kind=dict_entry("activity_type", "call"),
        subject="报价跟进",
        happened_at=timezone.now() - timedelta(days=3),
        next_follow_up=today,
    )
    data = reminders_for(demo["manager"])
    assert [b["name"] for b in data["birthdays"]] == ["张明"]
    assert [a.subject for a in data["follow_ups"]] == ["报价跟进"]
    assert reminders_for(demo["manager2"])["count"] == 0
    assert send_daily_digests() >= 1
    body = next(m.body for m in mail.outbox if m.to == ["wangqiang@kehu-demo.cn"])
    assert "报价跟进" in body and "张明" in body


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------


def race(n, func):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(func(i))
        except Exception as exc:  # collected and asserted on
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_pool_customer_exactly_one_wins():
    from kehu.accounts.demo import load
    from kehu.accounts.models import User
    from tests.factories import UserFactory

    load()
    dept = User.objects.get(username="manager").department
    users = [UserFactory(department=dept, roles=["account_manager"]) for _ in range(8)]
    c = services.create_customer(by=User.objects.get(username="admin"), name="重庆九州电子有限公司")
    services.release_to_pool(c, by=User.objects.get(username="admin"))
    results, errors = race(8, lambda i: services.claim_from_pool(c, by=users[i]))
    assert len(results) == 1 and len(errors) == 7
    assert all(getattr(e, "code", "") == "claimed" for e in errors)
    c.refresh_from_db()
    assert c.owner == results[0].owner


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_supervisors_transferring_the_same_customer_one_wins():
    from kehu.accounts.demo import load
    from kehu.accounts.models import User

    load()
    admin, supervisor = User.objects.get(username="admin"), User.objects.get(username="supervisor")
    manager, manager2 = User.objects.get(username="manager"), User.objects.get(username="manager2")
    c = services.create_customer(by=manager, name="西安卓越精密仪器有限公司")
    seen = {c.pk: manager.pk}
    results, errors = race(
        2,
        lambda i: services.assign_customers(
            [c], to=[manager2, supervisor][i], by=[admin, supervisor][i], expected_owner_ids=seen
        ),
    )
    assert len(results) == 1 and len(errors) == 1
    assert errors[0].code == "conflict"


def test_merge_when_both_have_an_open_churn_case(demo, hx):
    dup = services.create_customer(
        by=demo["manager"], name="华夏科技北京分部", confirm_duplicate=True, status="signed"
    )
    ChurnCase.objects.create(customer=hx)
    ChurnCase.objects.create(customer=dup)
    services.merge_customers(dup, hx, by=demo["manager"])
    assert ChurnCase.objects.filter(customer=hx, status__in=["open", "deferred"]).count() == 1
    assert ChurnCase.objects.filter(customer=hx, status="recovered").count() == 1


def test_a_read_only_share_cannot_record_activities(demo, hx):
    services.share_customer(hx, user=demo["manager2"], can_edit=False, by=demo["manager"])
    with pytest.raises(PermissionDeniedError):
        services.record_activity(
            customer=hx, by=demo["manager2"], kind=dict_entry("activity_type", "call"), subject="x"
        )
    services.record_activity(
        customer=hx, by=demo["service"], kind=dict_entry("activity_type", "call"), subject="售后回访"
    )  # 客服 serves every customer
    assert hx.activities.count() == 1


def test_a_recovered_customer_does_not_reopen_at_once(demo, hx):
    Customer.objects.filter(pk=hx.pk).update(last_activity_at=timezone.now() - timedelta(days=200))
    services.open_churn_cases()
    services.recover_churn(ChurnCase.objects.get(customer=hx), by=demo["manager"])
    assert services.open_churn_cases() == 0


def test_release_keeps_the_reason(demo, hx):
    services.release_to_pool(hx, by=demo["manager"], reason="客户已转由代理商服务")
    hx.refresh_from_db()
    assert hx.release_reason == "客户已转由代理商服务"


def test_short_name_initials_are_searchable_too(demo):
    from kehu.customers.search import search_customers

    services.create_customer(by=demo["manager"], name="北京华夏科技有限公司", short_name="华夏科技")
    assert [h["title"] for h in search_customers(demo["manager"], "bjhx", 5)] == ["北京华夏科技有限公司"]
    assert [h["title"] for h in search_customers(demo["manager"], "hxkj", 5)] == ["北京华夏科技有限公司"]
