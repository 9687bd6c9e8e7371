"""Roles and rights are cached per user under a stamp that every change of them renews: a request
reads them without a query, and a change takes effect on the next request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.accounts.models import Right, Role, User
from kehu.core.scopes import SCOPE_DEPARTMENT, SCOPE_OWN
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fresh(user) -> User:
    return User.objects.get(pk=user.pk)  # what the next request loads


def test_rights_come_from_the_cache_after_the_first_request():
    user = UserFactory(roles=["account_manager"])
    assert "customers.view" in fresh(user).rights  # fills the cache
    again = fresh(user)
    with CaptureQueriesContext(connection) as ctx:
        assert "customers.view" in again.rights
        assert again.data_scope == SCOPE_OWN and again.role_codes == {"account_manager"}
    assert len(ctx.captured_queries) == 0


def test_removing_a_right_from_the_role_takes_effect_on_the_next_load():
    user = UserFactory(roles=["account_manager"])
    assert fresh(user).has_right("customers.view")
    role = Role.objects.get(code="account_manager")
    role.rights.remove(Right.objects.get(code="customers.view"))
    assert not fresh(user).has_right("customers.view")
    role.rights.add(Right.objects.get(code="customers.view"))
    assert fresh(user).has_right("customers.view")


def test_changing_the_role_scope_or_read_only_flag_takes_effect():
    user = UserFactory(roles=["account_manager"])
    assert fresh(user).data_scope == SCOPE_OWN and not fresh(user).is_read_only
    role = Role.objects.get(code="account_manager")
    role.scope, role.read_only = SCOPE_DEPARTMENT, True
    role.save()
    assert fresh(user).data_scope == SCOPE_DEPARTMENT and fresh(user).is_read_only


def test_the_user_object_in_hand_learns_its_new_roles():
    user = UserFactory(roles=["account_manager"])
    assert not user.is_administrator
    user.roles.set(Role.objects.filter(code="administrator"))
    assert user.is_administrator and fresh(user).is_administrator
    Role.objects.get(code="administrator").users.remove(user)  # from the role's side
    assert not fresh(user).is_administrator


def test_an_object_loaded_before_a_change_does_not_bring_the_old_rights_back_when_saved():
    user = UserFactory(roles=["account_manager"])
    stale = fresh(user)
    assert stale.has_right("customers.view")
    Role.objects.get(code="account_manager").rights.remove(Right.objects.get(code="customers.view"))
    stale.full_name = "改名"
    stale.save()  # keeps the stamp the database has
    reloaded = fresh(user)
    assert reloaded.full_name == "改名" and not reloaded.has_right("customers.view")


def test_deleting_a_role_or_a_right_takes_effect():
    role = Role.objects.create(code="temp-role", name="临时")
    role.rights.add(Right.objects.get(code="customers.view"))
    user = UserFactory(roles=["temp-role"])
    assert fresh(user).has_right("customers.view")
    role.delete()
    assert not fresh(user).has_right("customers.view") and fresh(user).role_codes == set()
