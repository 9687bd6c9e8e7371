"""Data scopes (数据权限), implemented once and used by every list, detail, export and API endpoint.

A user's scope comes from their roles: ``own`` records, their ``department`` (with its
sub-departments), or ``all``.  A model says who owns a row with ``scope_owner_field`` (default
``owner``) and, optionally, which department a row belongs to with ``scope_department_field``
(default ``<owner>__department``); ``scope_extra_q(user)`` may widen the set (e.g. shared records).
An object outside the scope is not found: views answer 404.
"""

from __future__ import annotations

from django.db.models import Model, Q, QuerySet
from django.http import Http404

SCOPE_OWN = "own"
SCOPE_DEPARTMENT = "department"
SCOPE_ALL = "all"
SCOPE_ORDER = {SCOPE_OWN: 0, SCOPE_DEPARTMENT: 1, SCOPE_ALL: 2}


def _fields(model) -> tuple[str, str | None]:
    owner = getattr(model, "scope_owner_field", "owner")
    return owner, getattr(model, "scope_department_field", None)


def scope_basis(user, model) -> tuple[str, tuple[int, ...]]:
    """What :func:`scope_q` builds ``model``'s filter for ``user`` from, besides the user's id: the
    scope ('' for nobody) and the departments or people it covers.  Equal bases give equal filters:
    a caller may keep SQL compiled from the filter under ``(user.pk, basis)`` as long as what
    ``scope_extra_q`` reads (the shares) stays a subquery of that SQL."""
    if not user or not user.is_authenticated or not user.is_active:
        return "", ()
    scope = user.data_scope
    if scope != SCOPE_DEPARTMENT:
        return scope, ()
    _owner, department = _fields(model)
    if department:
        return scope, tuple(sorted(user.scope_department_ids()))
    return scope, tuple(user.scope_user_ids())


def scope_q(user, model) -> Q | None:
    """The filter that limits ``model`` to what ``user`` may see; ``None`` means everything."""
    scope, ids = scope_basis(user, model)
    if not scope:
        return Q(pk__in=[])
    if scope == SCOPE_ALL:
        return None
    owner, department = _fields(model)
    q = Q(**{owner: user.pk})
    if ids:
        # The owners of the department as a list of ids rather than a join through the users'
        # departments: ``owner_id IN (…)`` can share a bitmap with the other conditions.
        q |= Q(**{f"{department}__in": list(ids)}) if department else Q(**{f"{owner}__in": list(ids)})
    extra = getattr(model, "scope_extra_q", None)
    if extra is not None:
        more = extra(user)
        if more is not None:
            q |= more
    return q


def visible_to(queryset: QuerySet, user) -> QuerySet:
    q = scope_q(user, queryset.model)
    return queryset if q is None else queryset.filter(q)


def get_visible_or_404(queryset: QuerySet, user, **lookup) -> Model:
    try:
        return visible_to(queryset, user).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404


def can_see(user, obj) -> bool:
    return visible_to(type(obj)._default_manager.filter(pk=obj.pk), user).exists()


def can_write(user, obj=None) -> bool:
    """Writes need a user who is not read-only and, for an existing object, one in their scope."""
    if not user.is_authenticated or user.is_read_only:
        return False
    return obj is None or can_see(user, obj)
