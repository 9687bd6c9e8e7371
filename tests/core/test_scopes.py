import pytest
from django.http import Http404

from kehu.core.scopes import can_write, get_visible_or_404, visible_to
from tests.testapp.models import Gadget


@pytest.fixture
def gadgets(demo):
    """One gadget per demo user."""
    return {name: Gadget.objects.create(name=f"{name}'s", owner=user) for name, user in demo.items()}


def visible_names(user):
    return {g.name for g in visible_to(Gadget.objects.all(), user)}


def test_account_manager_sees_own_records_only(demo, gadgets):
    assert visible_names(demo["manager"]) == {"manager's"}


def test_supervisor_sees_department_and_sub_departments(demo, gadgets):
    from tests.factories import DepartmentFactory, UserFactory

    sub = DepartmentFactory(name="华东销售组二", parent=demo["supervisor"].department)
    member = UserFactory(department=sub, roles=["account_manager"])
    Gadget.objects.create(name="sub member's", owner=member)
    assert visible_names(demo["supervisor"]) == {"supervisor's", "manager's", "sub member's"}
    assert "manager2's" not in visible_names(demo["supervisor"])


def test_executive_sees_everything_read_only(demo, gadgets):
    assert visible_names(demo["executive"]) == {g.name for g in gadgets.values()}
    assert demo["executive"].is_read_only
    assert not can_write(demo["executive"], gadgets["manager"])


def test_administrator_sees_and_writes_everything(demo, gadgets):
    assert visible_names(demo["admin"]) == {g.name for g in gadgets.values()}
    assert can_write(demo["admin"], gadgets["manager"])


def test_out_of_scope_id_is_not_found(demo, gadgets):
    with pytest.raises(Http404):
        get_visible_or_404(Gadget.objects.all(), demo["manager"], pk=gadgets["manager2"].pk)
    assert get_visible_or_404(Gadget.objects.all(), demo["manager"], pk=gadgets["manager"].pk)
    assert not can_write(demo["manager"], gadgets["manager2"])


def test_inactive_user_sees_nothing(demo, gadgets):
    user = demo["admin"]
    user.is_active = False
    assert visible_names(user) == set()


def test_user_without_roles_sees_own_only(db, demo, gadgets):
    from tests.factories import UserFactory

    loner = UserFactory(department=demo["manager"].department)
    Gadget.objects.create(name="loner's", owner=loner)
    assert visible_names(loner) == {"loner's"}
    assert loner.rights == frozenset()


def test_a_supervisor_s_department_tree_follows_every_change_on_the_next_request(demo, gadgets):
    """The department tree is cached (kehu.core.choices); moving a person, a department or its head
    changes what a supervisor sees on the next request (a fresh user object, as a request has)."""
    from kehu.accounts.models import User
    from tests.factories import DepartmentFactory

    def fresh():
        return User.objects.get(pk=demo["supervisor"].pk)

    assert "manager's" in visible_names(fresh())
    assert "manager2's" not in visible_names(fresh())
    manager = User.objects.get(pk=demo["manager"].pk)
    manager2_department = User.objects.get(pk=demo["manager2"].pk).department
    manager.department = manager2_department
    manager.save()
    assert "manager's" not in visible_names(fresh())
    manager.department = demo["supervisor"].department
    manager.save()
    assert "manager's" in visible_names(fresh())
    # the other department becomes a sub-department of the supervisor's
    manager2_department.parent = demo["supervisor"].department
    manager2_department.save()
    assert "manager2's" in visible_names(fresh())
    # a new department headed by the supervisor, with somebody in it
    new = DepartmentFactory(name="新区", head=fresh())
    member = User.objects.get(pk=demo["service"].pk)
    member.department = new
    member.save()
    assert "service's" in visible_names(fresh())
