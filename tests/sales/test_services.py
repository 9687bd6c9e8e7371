"""Opportunities: creation, rules of who may do what, the status machine, stages, plans, win/lose."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from kehu.core.errors import DomainError, IllegalTransition, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry
from kehu.customers import services as cs
from kehu.customers.models import Contact, Customer
from kehu.sales import services
from kehu.sales.models import Opportunity, PlanItem, Stage, StageChange

pytestmark = pytest.mark.django_db


def dict_entry(type_, code):
    return DictEntry.objects.get(type=type_, code=code)


def stage(n):
    return Stage.objects.order_by("order")[n]


@pytest.fixture
def opp(demo):
    return services.create_opportunity(
        by=demo["manager"],
        prospect_name="杭州云帆智能科技有限公司",
        prospect_contact="周敏",
        prospect_phone="13912345601",
        prospect_email="zhoumin@yunfan.cn",
        summary="采购办公自动化设备",
        amount="120000.005",
        expected_close=timezone.localdate() + timedelta(days=30),
    )


@pytest.fixture
def assigned(opp, demo):
    return services.assign_opportunity(opp, to=demo["manager"], by=demo["supervisor"])


def test_create_defaults_and_history(opp, demo):
    assert opp.number.startswith("OPP")
    assert opp.status == "unassigned" and opp.assignee is None
    assert opp.stage == stage(0) and opp.probability == stage(0).probability
    assert opp.amount == Decimal("120000.01")  # half-up to the cent
    assert opp.department == demo["manager"].department
    h = list(opp.stage_history.all())
    assert len(h) == 1 and h[0].to_status == "unassigned" and h[0].by == demo["manager"]


def test_seeded_stages_from_the_source_documents():
    names = list(Stage.objects.order_by("order").values_list("name_zh", flat=True))
    assert names == [
        "初步沟通有意向",
        "深入沟通需求清晰",
        "全面了解产品",
        "会客面谈",
        "无疑义准备签约",
        "成功签单",
    ]
    assert Stage.objects.get(is_won=True).name_zh == "成功签单"


@pytest.mark.parametrize("bad", [-1, 101, "abc", "50.5", 1000])
def test_probability_outside_0_100_is_refused(demo, bad):
    with pytest.raises(ValidationFailed) as e:
        services.create_opportunity(by=demo["manager"], prospect_name="某公司", summary="x", probability=bad)
    assert e.value.details["field"] == "probability"
    assert not Opportunity.objects.exists()


def test_customer_or_prospect_and_summary_required(demo):
    with pytest.raises(ValidationFailed) as e:
        services.create_opportunity(by=demo["manager"], summary="x")
    assert e.value.details["field"] == "prospect_name"
    with pytest.raises(ValidationFailed) as e:
        services.create_opportunity(by=demo["manager"], prospect_name="某公司", summary="  ")
    assert e.value.details["field"] == "summary"
    with pytest.raises(ValidationFailed):
        services.create_opportunity(by=demo["manager"], prospect_name="某公司", summary="x", amount="-1")


def test_customer_outside_scope_is_refused(demo):
    other = cs.create_customer(by=demo["manager2"], name="广州南方贸易有限公司")
    with pytest.raises(ValidationFailed) as e:
        services.create_opportunity(by=demo["manager"], customer=other, summary="x")
    assert e.value.details["field"] == "customer"


def test_who_creates(demo):
    for u in ("executive", "warehouse", "finance"):
        with pytest.raises(PermissionDeniedError):
            services.create_opportunity(by=demo[u], prospect_name="某公司", summary="x")
    services.create_opportunity(by=demo["supervisor"], prospect_name="某公司", summary="x")


def test_only_a_supervisor_assigns(opp, demo):
    with pytest.raises(PermissionDeniedError):
        services.assign_opportunity(opp, to=demo["manager"], by=demo["manager"])
    with pytest.raises(PermissionDeniedError):
        services.assign_opportunity(opp, to=demo["manager"], by=demo["executive"])
    opp.refresh_from_db()
    assert opp.status == "unassigned"
    o = services.assign_opportunity(opp, to=demo["manager"], by=demo["supervisor"])
    assert o.status == "assigned" and o.assignee == demo["manager"] and o.assigned_by == demo["supervisor"]
    assert o.assigned_at is not None


def test_supervisor_assigns_only_within_scope(opp, demo):
    # manager2 works in another department (渠道销售部), outside the supervisor's.
    with pytest.raises(ValidationFailed):
        services.assign_opportunity(opp, to=demo["manager2"], by=demo["supervisor"])
    o = services.assign_opportunity(opp, to=demo["manager2"], by=demo["admin"])
    assert o.department == demo["manager2"].department


def test_reassign(assigned, demo):
    o = services.assign_opportunity(assigned, to=demo["supervisor"], by=demo["supervisor"])
    assert o.assignee == demo["supervisor"]
    with pytest.raises(ValidationFailed):
        services.assign_opportunity(o, to=demo["supervisor"], by=demo["supervisor"])


def test_edit_rules(opp, demo):
    # unassigned: creator or supervisor
    services.update_opportunity(opp, by=demo["manager"], summary="改过")
    services.update_opportunity(opp, by=demo["supervisor"], summary="主管改过")
    with pytest.raises(PermissionDeniedError):
        services.update_opportunity(opp, by=demo["manager2"], summary="别人改")
    # assigned: only the assignee
    o = services.assign_opportunity(opp, to=demo["supervisor"], by=demo["supervisor"])
    with pytest.raises(PermissionDeniedError):
        services.update_opportunity(o, by=demo["manager"], summary="创建人改")
    services.update_opportunity(o, by=demo["supervisor"], summary="负责人改")
    with pytest.raises(PermissionDeniedError):
        services.archive_opportunity(o, by=demo["manager"])
    o.refresh_from_db()
    assert o.summary == "负责人改" and o.archived_at is None


def test_delete_is_archive(opp, demo):
    with pytest.raises(PermissionDeniedError):
        services.archive_opportunity(opp, by=demo["manager2"])
    o = services.archive_opportunity(opp, by=demo["manager"])
    assert o.is_archived
    services.restore_opportunity(o, by=demo["manager"])


def test_move_records_history_and_probability(assigned, demo):
    o = services.move_opportunity(assigned, stage=stage(2), by=demo["manager"])
    assert o.stage == stage(2) and o.probability == stage(2).probability
    last = o.stage_history.order_by("-pk").first()
    assert last.from_stage == stage(0) and last.to_stage == stage(2)
    with pytest.raises(PermissionDeniedError):
        services.move_opportunity(o, stage=stage(3), by=demo["supervisor"])  # not the assignee


def test_status_machine_is_explicit():
    S = Opportunity.Status
    assert services.TRANSITIONS[S.WON] == set() and services.TRANSITIONS[S.LOST] == set()
    assert S.WON not in services.TRANSITIONS[S.UNASSIGNED]


def test_unassigned_cannot_be_won_or_lost(opp, demo):
    with pytest.raises(IllegalTransition):
        services.win_opportunity(opp, by=demo["manager"])
    with pytest.raises(IllegalTransition):
        services.lose_opportunity(opp, reason=dict_entry("lost_reason", "price"), by=demo["manager"])


def test_win_prospect_creates_signed_customer_with_contact(assigned, demo):
    o = services.win_opportunity(assigned, by=demo["manager"])
    assert o.status == "won" and o.probability == 100 and o.closed_at and o.stage.is_won
    c = o.customer
    assert (
        c.name == "杭州云帆智能科技有限公司"
        and c.status == Customer.Status.SIGNED
        and c.owner == demo["manager"]
    )
    ct = Contact.objects.get(customer=c)
    assert (
        ct.name == "周敏" and ct.mobile == "13912345601" and ct.email == "zhoumin@yunfan.cn" and ct.is_primary
    )
    assert o.stage_history.filter(to_status="won").exists()


def test_win_links_an_existing_customer_and_signs_it(demo):
    c = cs.create_customer(by=demo["manager"], name="南京金陵电子有限公司")
    o = services.create_opportunity(by=demo["manager"], customer=c, summary="年度框架")
    o = services.assign_opportunity(o, to=demo["manager"], by=demo["supervisor"])
    o = services.win_opportunity(o, by=demo["manager"])
    c.refresh_from_db()
    assert o.customer == c and c.status == "signed"
    assert Customer.objects.count() == 1


def test_win_via_the_board_move_to_the_won_stage(assigned, demo):
    o = services.move_opportunity(assigned, stage=Stage.objects.get(is_won=True), by=demo["manager"])
    assert o.status == "won" and o.customer is not None


def test_winning_without_a_customer_name(demo):
    # An inbound call: a person, no company name yet.
    o = services.create_opportunity(
        by=demo["manager"], prospect_contact="张先生", prospect_phone="13900001111", summary="x"
    )
    o = services.assign_opportunity(o, to=demo["manager"], by=demo["supervisor"])
    with pytest.raises(ValidationFailed) as e:
        services.win_opportunity(o, by=demo["manager"])
    assert e.value.details["field"] == "prospect_name"
    with pytest.raises(ValidationFailed):
        services.win_opportunity(o, by=demo["manager"], name="   ")
    assert not Customer.objects.exists()
    o.refresh_from_db()
    assert o.status == "assigned"
    o = services.win_opportunity(o, by=demo["manager"], name="宁波甬江机电有限公司")
    assert o.customer.name == "宁波甬江机电有限公司" and o.customer.contacts.get().name == "张先生"


def test_win_a_duplicate_prospect_asks_first(assigned, demo):
    cs.create_customer(by=demo["manager"], name="杭州云帆智能科技有限公司")
    with pytest.raises(DomainError) as e:
        services.win_opportunity(assigned, by=demo["manager"])
    assert e.value.code == "duplicate"
    assigned.refresh_from_db()
    assert assigned.status == "assigned"
    o = services.win_opportunity(assigned, by=demo["manager"], confirm_duplicate=True)
    assert o.status == "won"


def test_only_the_assignee_wins_or_loses(assigned, demo):
    with pytest.raises(PermissionDeniedError):
        services.win_opportunity(assigned, by=demo["supervisor"])
    with pytest.raises(PermissionDeniedError):
        services.lose_opportunity(assigned, reason=dict_entry("lost_reason", "price"), by=demo["supervisor"])


def test_lose_needs_a_reason_from_the_dictionary(assigned, demo):
    with pytest.raises(ValidationFailed):
        services.lose_opportunity(assigned, reason=None, by=demo["manager"])
    with pytest.raises(ValidationFailed):
        services.lose_opportunity(assigned, reason=dict_entry("activity_type", "call"), by=demo["manager"])
    o = services.lose_opportunity(
        assigned, reason=dict_entry("lost_reason", "competitor"), note="价格", by=demo["manager"]
    )
    assert o.status == "lost" and o.lost_reason.code == "competitor" and o.probability == 0


def test_won_or_lost_no_longer_moves_or_changes(assigned, demo):
    o = services.lose_opportunity(assigned, reason=dict_entry("lost_reason", "price"), by=demo["manager"])
    with pytest.raises(IllegalTransition):
        services.move_opportunity(o, stage=stage(3), by=demo["manager"])
    with pytest.raises(IllegalTransition):
        services.update_opportunity(o, by=demo["manager"], summary="x")
    with pytest.raises(IllegalTransition):
        services.win_opportunity(o, by=demo["manager"])
    with pytest.raises(IllegalTransition):
        services.assign_opportunity(o, to=demo["supervisor"], by=demo["supervisor"])


def test_plan_items_and_outcomes(assigned, demo):
    today = timezone.localdate()
    item = services.add_plan_item(assigned, planned_on=today, todo="电话沟通", by=demo["manager"])
    with pytest.raises(PermissionDeniedError):
        services.add_plan_item(assigned, planned_on=today, todo="x", by=demo["supervisor"])
    with pytest.raises(ValidationFailed):
        services.add_plan_item(assigned, planned_on=today, todo=" ", by=demo["manager"])
    with pytest.raises(ValidationFailed):
        services.record_outcome(item, outcome="", by=demo["manager"])
    item = services.record_outcome(item, outcome="客户有意向", by=demo["manager"])
    assert item.done
    with pytest.raises(IllegalTransition):
        services.record_outcome(item, outcome="再改", by=demo["manager"])
    with pytest.raises(IllegalTransition):
        services.delete_plan_item(item, by=demo["manager"])
    second = services.add_plan_item(assigned, planned_on=today, todo="上门拜访", by=demo["manager"])
    services.delete_plan_item(second, by=demo["manager"])
    services.win_opportunity(assigned, by=demo["manager"])
    with pytest.raises(IllegalTransition):
        services.add_plan_item(assigned, planned_on=today, todo="x", by=demo["manager"])
    assert PlanItem.objects.filter(opportunity=assigned).count() == 1  # the history stays


def test_plan_needs_an_assigned_opportunity(opp, demo):
    with pytest.raises(IllegalTransition):
        services.add_plan_item(opp, planned_on=timezone.localdate(), todo="x", by=demo["manager"])


def test_stage_configuration(demo):
    s = Stage(order=70, name_zh="新阶段", name_en="New", probability=50)
    with pytest.raises(PermissionDeniedError):
        services.save_stage(s, by=demo["manager"])
    services.save_stage(s, by=demo["supervisor"])
    s.probability = 120
    with pytest.raises(ValidationFailed):
        services.save_stage(s, by=demo["supervisor"])
    s.probability = 50
    s.is_won = True
    with pytest.raises(ValidationFailed):
        services.save_stage(s, by=demo["supervisor"])  # only one won stage


def test_disabling_a_stage_with_open_opportunities_is_refused(opp, demo):
    s = stage(0)
    s.enabled = False
    with pytest.raises(DomainError) as e:
        services.save_stage(s, by=demo["supervisor"])
    assert e.value.code == "in_use"


def test_moving_to_a_disabled_stage(assigned, demo):
    s = stage(3)
    Stage.objects.filter(pk=s.pk).update(enabled=False)
    s.refresh_from_db()
    with pytest.raises(ValidationFailed):
        services.move_opportunity(assigned, stage=s, by=demo["manager"])


def test_history_rows_per_change(assigned, demo):
    services.move_opportunity(assigned, stage=stage(1), by=demo["manager"])
    services.move_opportunity(assigned, stage=stage(2), by=demo["manager"])
    services.win_opportunity(assigned, by=demo["manager"])
    statuses = list(StageChange.objects.filter(opportunity=assigned).values_list("to_status", flat=True))
    assert statuses == ["unassigned", "assigned", "assigned", "assigned", "won"]


# --- races on PostgreSQL ------------------------------------------------------------------------


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
def test_concurrent_win_and_lose_exactly_one_closes():
    from kehu.accounts.demo import load
    from kehu.accounts.models import User
    from kehu.core.sync import seed_dictionary
    from kehu.sales.seeds import seed_stages

    seed_dictionary(DictEntry)
    seed_stages()
    load()
    mgr, sup = User.objects.get(username="manager"), User.objects.get(username="supervisor")
    o = services.create_opportunity(by=mgr, prospect_name="重庆九州电子有限公司", summary="x")
    o = services.assign_opportunity(o, to=mgr, by=sup)
    reason = DictEntry.objects.get(type="lost_reason", code="price")
    results, errors = race(
        6,
        lambda i: (
            services.win_opportunity(o, by=mgr, confirm_duplicate=True)
            if i % 2 == 0
            else services.lose_opportunity(o, reason=reason, by=mgr)
        ),
    )
    assert len(results) == 1 and len(errors) == 5
    assert all(isinstance(e, IllegalTransition) for e in errors)
    assert Customer.objects.filter(name="重庆九州电子有限公司").count() == (
        1 if results[0].status == "won" else 0
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creation_numbers_are_unique():
    from kehu.accounts.demo import load
    from kehu.accounts.models import User
    from kehu.core.sync import seed_dictionary
    from kehu.sales.seeds import seed_stages

    seed_dictionary(DictEntry)
    seed_stages()
    load()
    mgr = User.objects.get(username="manager")
    results, errors = race(
        8, lambda i: services.create_opportunity(by=mgr, prospect_name=f"公司{i}", summary="x")
    )
    assert not errors and len({o.number for o in results}) == 8
