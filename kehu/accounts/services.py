"""Writes on users, departments and roles.  Views, the API and the CLI all call these."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.audit import acting_as, audited
from kehu.core.errors import DomainError, PermissionDeniedError, ValidationFailed

from .models import Department, Right, Role, User


def _lock(model, pk):
    return model.objects.select_for_update().get(pk=pk)


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), details={"field": "password"}) from exc


def _check_manager_chain(user: User, manager: User | None) -> None:
    seen = {user.pk}
    while manager is not None:
        if manager.pk in seen:
            raise ValidationFailed(
                _("A user cannot report to themselves, directly or through others."),
                details={"field": "manager"},
            )
        seen.add(manager.pk)
        manager = manager.manager


@audited
def create_user(
    *,
    by: User | None,
    username: str,
    password: str,
    full_name: str = "",
    email: str = "",
    phone: str = "",
    department: Department | None = None,
    manager: User | None = None,
    roles=(),
    is_active: bool = True,
    language: str = "",
) -> User:
    username = (username or "").strip()
    if not username:
        raise ValidationFailed(_("The user name is required."), details={"field": "username"})
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationFailed(
                _("The user name %(name)s is taken.") % {"name": username}, details={"field": "username"}
            )
        user = User(
            username=username,
            full_name=full_name.strip(),
            email=(email or "").strip(),
            phone=(phone or "").strip(),
            department=department,
            manager=manager,
            is_active=is_active,
            language=language,
        )
        _check_password(password, user)
        user.set_password(password)
        user.save()
        if roles:
            user.roles.set(roles)
        return user


@audited
def update_user(user: User, *, by: User, **fields) -> User:
    allowed = {"full_name", "email", "phone", "department", "manager", "is_active", "language"}
    unknown = set(fields) - allowed - {"roles"}
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        user = _lock(User, user.pk)
        roles = fields.pop("roles", None)
        if "manager" in fields:
            _check_manager_chain(user, fields["manager"])
        if user.pk == by.pk and fields.get("is_active") is False:
            raise ValidationFailed(_("You cannot deactivate yourself."), details={"field": "is_active"})
        for k, v in fields.items():
            setattr(user, k, v.strip() if isinstance(v, str) else v)
        user.save()
        if roles is not None:
            roles = list(roles)
            if (
                user.pk == by.pk
                and user.is_administrator
                and not any(r.code == "administrator" for r in roles)
            ):
                raise ValidationFailed(
                    _("You cannot take the administrator role away from yourself."),
                    details={"field": "roles"},
                )
            user.roles.set(roles)
        return user


@audited
def set_password(user: User, *, password: str, by: User) -> User:
    with transaction.atomic():
        user = _lock(User, user.pk)
        _check_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        return user


def set_user_language(user: User, *, language: str) -> None:
    with transaction.atomic(), acting_as(user):
        user = _lock(User, user.pk)
        if user.language != language:
            user.language = language
            user.save(update_fields=["language"])


# --- departments ----------------------------------------------------------------------------


@audited
def save_department(dept: Department, *, by: User) -> Department:
    dept.name = (dept.name or "").strip()
    dept.code = (dept.code or "").strip()
    if not dept.name or not dept.code:
        raise ValidationFailed(_("Name and code are required."), details={"field": "name"})
    with transaction.atomic():
        if Department.objects.filter(code__iexact=dept.code).exclude(pk=dept.pk).exists():
            raise ValidationFailed(
                _("The code %(code)s is taken.") % {"code": dept.code}, details={"field": "code"}
            )
        parent = dept.parent
        while parent is not None:
            if dept.pk and parent.pk == dept.pk:
                raise ValidationFailed(
                    _("A department cannot sit below itself."), details={"field": "parent"}
                )
            parent = parent.parent
        dept.save()
        return dept


@audited
def archive_department(dept: Department, *, by: User) -> Department:
    from kehu.core.services import archive

    if (
        User.objects.filter(department=dept, is_active=True).exists()
        or Department.objects.active().filter(parent=dept).exists()
    ):
        raise DomainError(_("Move the department's active users and sub-departments first."), code="in_use")
    return archive(dept, by=by)


# --- roles ----------------------------------------------------------------------------------


@audited
def save_role(role: Role, *, by: User, rights=None) -> Role:
    if not by.has_right("system.roles"):
        raise PermissionDeniedError()
    role.code = (role.code or "").strip()
    if not role.code:
        raise ValidationFailed(_("The code is required."), details={"field": "code"})
    if not role.is_builtin and not (role.name or "").strip():
        raise ValidationFailed(_("A role needs a name."), details={"field": "name"})
    with transaction.atomic():
        if Role.objects.filter(code=role.code).exclude(pk=role.pk).exists():
            raise ValidationFailed(
                _("The code %(code)s is taken.") % {"code": role.code}, details={"field": "code"}
            )
        if role.pk:
            current = _lock(Role, role.pk)
            if current.is_builtin and current.code != role.code:
                raise ValidationFailed(_("A built-in role keeps its code."), details={"field": "code"})
        role.save()
        if rights is not None:
            role.rights.set(Right.objects.filter(pk__in=[r.pk for r in rights]))
        return role


@audited
def delete_role(role: Role, *, by: User) -> None:
    if not by.has_right("system.roles"):
        raise PermissionDeniedError()
    with transaction.atomic():
        role = _lock(Role, role.pk)
        if role.is_builtin:
            raise DomainError(_("Built-in roles cannot be deleted."), code="in_use")
        if role.users.exists():
            raise DomainError(_("The role is still held by users."), code="in_use")
        role.delete()
