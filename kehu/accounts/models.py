from __future__ import annotations

import uuid
from functools import cached_property

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.cache import cache
from django.db import connection, models
from django.utils.translation import gettext_lazy as _

from kehu.core.choices import cached
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


def new_access_stamp() -> str:
    return uuid.uuid4().hex


ACCESS_CACHE_SECONDS = 3600


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
    # Changes whenever the user's roles, or the rights, scope or read-only flag of one of them,
    # change (kehu.accounts.signals).  The roles and rights are cached under it, so a request
    # reads them without a query while any change takes effect on the next request, in every
    # process.  Random, not a counter: a new user never finds another's entry.
    access_stamp = models.CharField(max_length=32, default=new_access_stamp, editable=False)
    objects = UserManager()

    scope_owner_field = "pk"
    scope_department_field = "department"
    choice_fields = ("username", "full_name")  # what str() shows: choice lists read only these
    cache_choices = True  # and are cached (kehu.core.choices)

    @staticmethod
    def choice_label(username: str, full_name: str) -> str:
        return full_name or username

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.choice_label(self.username, self.full_name)

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("accounts:user_detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    # --- roles, rights and scope (cached per request: the user object lives one request) ----
    @cached_property
    def _access(self) -> tuple[list[Role], frozenset[str]]:
        """The user's roles and the rights they grant, from the cache when the stamp matches."""
        if not self.pk:
            return [], frozenset()
        key = f"kehu:access:{self.pk}:{self.access_stamp}"
        found = cache.get(key)
        if found is None:
            roles = list(self.roles.all())
            rights = frozenset(Right.objects.filter(roles__users=self).values_list("code", flat=True))
            found = (roles, rights)
            cache.set(key, found, ACCESS_CACHE_SECONDS)
        return found

    @cached_property
    def _role_rows(self) -> list[Role]:
        return self._access[0]

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
        return self._access[1]

    def forget_access(self) -> None:
        """Drop what this object remembers of its roles and rights (after they changed)."""
        for name in (
            "_access",
            "_role_rows",
            "role_codes",
            "rights",
            "data_scope",
            "is_read_only",
            "_scope_memo",
        ):
            self.__dict__.pop(name, None)

    def save(self, *args, **kwargs):
        # A stored user keeps the stamp the database has: an object loaded before a role change
        # must not put the old stamp back (and with it the old rights) when it is saved.
        if not self._state.adding and kwargs.get("update_fields") is None and self.pk:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "access_stamp"
            ]
        super().save(*args, **kwargs)

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

    def _scope_tree(self) -> tuple[set[int], list[int]]:
        """The departments this user heads or belongs to with every department below them, and
        the people in those departments (active or not: a departed colleague's records still
        belong to the department): one recursive query."""
        if not self.pk:
            return set(), []
        dept, user = Department._meta.db_table, User._meta.db_table
        with connection.cursor() as cur:
            cur.execute(
                f"""
                WITH RECURSIVE tree(id) AS (
                    SELECT id FROM {dept} WHERE head_id = %s OR id = %s
                    UNION
                    SELECT d.id FROM {dept} d JOIN tree ON d.parent_id = tree.id
                )
                SELECT 0, id FROM tree
                UNION ALL
                SELECT 1, id FROM {user} WHERE department_id IN (SELECT id FROM tree)
                """,
                [self.pk, self.department_id or 0],
            )
            rows = cur.fetchall()
        return {pk for kind, pk in rows if kind == 0}, sorted(pk for kind, pk in rows if kind == 1)

    def _scope_tree_memo(self) -> tuple[set[int], list[int]]:
        # Remembered by the object (a request's user lives one request), for its department.
        memo = self.__dict__.get("_scope_memo")
        if memo is None or memo[0] != self.department_id:
            # and cached with the choice lists, whose version every change to a user or a
            # department renews (kehu.core.choices)
            tree = cached("scope-tree", (self.pk, self.department_id), self._scope_tree)
            memo = self.__dict__["_scope_memo"] = (self.department_id, tree)
        return memo[1]

    def scope_department_ids(self) -> set[int]:
        return set(self._scope_tree_memo()[0])

    def scope_user_ids(self) -> list[int]:
        """The people of the departments this user's scope covers, as a list of ids."""
        return list(self._scope_tree_memo()[1])


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
