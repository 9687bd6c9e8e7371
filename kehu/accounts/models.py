from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Archivable
from kehu.core.registry import registry
from kehu.core.scopes import SCOPE_ALL, SCOPE_DEPARTMENT, SCOPE_ORDER, SCOPE_OWN

ADMINISTRATOR = "administrator"
SUPERVISOR = "supervisor"
ACCOUNT_MANAGER = "account_manager"
EXECUTIVE = "executive"
WAREHOUSE_KEEPER = "warehouse_keeper"
FINANCE_CLERK = "finance_clerk"
SERVICE_AGENT = "service_agent"

# The built-in roles: (code, label, data scope, read-only).
BUILTIN_ROLES = [
    (ADMINISTRATOR, _("Administrator"), SCOPE_ALL, False),
    (SUPERVISOR, _("Sales supervisor"), SCOPE_DEPARTMENT, False),
    (ACCOUNT_MANAGER, _("Account manager"), SCOPE_OWN, False),
    (EXECUTIVE, _("Executive"), SCOPE_ALL, True),
    (WAREHOUSE_KEEPER, _("Warehouse keeper"), SCOPE_ALL, False),
    (FINANCE_CLERK, _("Finance clerk"), SCOPE_ALL, False),
    (SERVICE_AGENT, _("Service agent"), SCOPE_ALL, False),
]
BUILTIN_ROLE_LABELS = {code: label for code, label, _s, _r in BUILTIN_ROLES}


class Department(Archivable):
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=30, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        "accounts.User",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    order = models.PositiveIntegerField(_("order"), default=100)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_owner_field = "head"
    scope_department_field = "pk"

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("accounts:department_edit", args=[self.pk])

    @staticmethod
    def descendant_ids(root_ids) -> set[int]:
        """The given departments and all below them (one query; departments are few)."""
        children: dict[int | None, list[int]] = {}
        for pk, parent in Department.objects.values_list("pk", "parent_id"):
            children.setdefault(parent, []).append(pk)
        seen: set[int] = set()
        stack = list(root_ids)
        while stack:
            pk = stack.pop()
            if pk in seen:
                continue
            seen.add(pk)
            stack.extend(children.get(pk, []))
        return seen


class Right(models.Model):
    """A right (sys_right): the permission to open or change one part of Kehu."""

    code = models.CharField(_("code"), max_length=60, unique=True)
    module = models.CharField(_("module"), max_length=30)

    class Meta:
        verbose_name = _("right")
        verbose_name_plural = _("rights")
        ordering = ["module", "code"]

    def __str__(self) -> str:
        return str(self.label)

    def natural_key(self):
        return (self.code,)

    @property
    def label(self):
        d = registry.rights.get(self.code)
        return d.label if d else self.code


class Role(models.Model):
    """A role (sys_role): a named set of rights plus a data scope."""

    SCOPE_CHOICES = [
        (SCOPE_OWN, _("Own records")),
        (SCOPE_DEPARTMENT, _("Own department and sub-departments")),
        (SCOPE_ALL, _("All records")),
    ]

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(
        _("name"), max_length=60, blank=True, help_text=_("Leave empty for built-in roles.")
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    scope = models.CharField(_("data scope"), max_length=12, choices=SCOPE_CHOICES, default=SCOPE_OWN)
    read_only = models.BooleanField(_("read-only"), default=False)
    is_builtin = models.BooleanField(_("built-in"), default=False)
    rights = models.ManyToManyField(Right, verbose_name=_("rights"), blank=True, related_name="roles")

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["pk"]

    def __str__(self) -> str:
        return str(self.display_name)

    @property
    def display_name(self):
        return self.name or BUILTIN_ROLE_LABELS.get(self.code, self.code)


class User(AbstractUser):
    """A person who logs in.  Belongs to a department, reports to a manager, holds roles."""

    full_name = models.CharField(_("full name"), max_length=60, blank=True)
    phone = models.CharField(_("mobile"), max_length=30, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    roles = models.ManyToManyField(Role, verbose_name=_("roles"), blank=True, related_name="users")
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=[("", _("Browser default")), ("zh-hans", "简体中文"), ("en", "English")],
    )
    objects = UserManager()

    scope_owner_field = "pk"
    scope_department_field = "department"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("accounts:user_detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    # --- roles, rights and scope (cached per request: the user object lives one request) ----
    @cached_property
    def _role_rows(self) -> list[Role]:
        if not self.pk:
            return []
        return list(self.roles.all())

    @cached_property
    def role_codes(self) -> set[str]:
        return {r.code for r in self._role_rows}

    @property
    def is_administrator(self) -> bool:
        return self.is_active and (self.is_superuser or ADMINISTRATOR in self.role_codes)

    @cached_property
    def rights(self) -> frozenset[str]:
        if not self.is_active:
            return frozenset()
        if self.is_administrator:
            return frozenset(registry.rights)
        if not self.pk:
            return frozenset()
        return frozenset(Right.objects.filter(roles__users=self).values_list("code", flat=True))

    def has_right(self, code: str | None) -> bool:
        return code is None or code in self.rights

    @cached_property
    def data_scope(self) -> str:
        if self.is_administrator:
            return SCOPE_ALL
        scopes = [r.scope for r in self._role_rows] or [SCOPE_OWN]
        return max(scopes, key=SCOPE_ORDER.__getitem__)

    @cached_property
    def is_read_only(self) -> bool:
        """Read-only when every role that grants the widest scope is read-only (the executive)."""
        if self.is_administrator or not self._role_rows:
            return False
        widest = [r for r in self._role_rows if r.scope == self.data_scope]
        return all(r.read_only for r in widest)

    def scope_department_ids(self) -> set[int]:
        roots = set(self.headed_departments.values_list("pk", flat=True))
        if self.department_id:
            roots.add(self.department_id)
        return Department.descendant_ids(roots) if roots else set()

    def scope_user_ids(self) -> list[int]:
        """The people of the departments this user's scope covers (active or not: a departed
        colleague's records still belong to the department), as a list of ids."""
        dept_ids = self.scope_department_ids()
        if not dept_ids:
            return []
        return list(User.objects.filter(department_id__in=dept_ids).values_list("pk", flat=True))


class LoginLog(models.Model):
    """系统日志: every log-in attempt, success or failure, and every log-out."""

    class Event(models.TextChoices):
        SUCCESS = "success", _("Logged in")
        FAILURE = "failure", _("Failed log-in")
        LOCKED = "locked", _("Locked out")
        LOGOUT = "logout", _("Logged out")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    event = models.CharField(_("event"), max_length=10, choices=Event.choices)
    username = models.CharField(_("user name"), max_length=150, db_index=True)
    user = models.ForeignKey(User, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    channel = models.CharField(_("channel"), max_length=10, default="web")

    class Meta:
        verbose_name = _("login log entry")
        verbose_name_plural = _("login log")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.event}"
