from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "kehu.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from auditlog.registry import auditlog

        from kehu.core import registry as r
        from kehu.core.choices import watch

        from . import signals  # noqa: F401
        from .models import Department, Right, Role, User

        # colleagues and sales people in choice lists: who is active, in which department, with
        # which roles and rights
        watch(Department, Role, Right, User.roles.through, Role.rights.through)
        # (a log-in saves the user's last_login; a language choice its language: neither shows)
        watch(User, unless_only=("last_login", "language", "password"))

        r.register_right("system.users", _("Manage users and departments"), "system")
        r.register_right("system.roles", _("Manage roles and rights"), "system")
        r.register_right(
            "accounts.team",
            _("See the users in one's data scope"),
            "system",
            default_roles=("supervisor", "executive"),
        )
        r.register_menu("system", _("Users"), "accounts:user_list", "accounts.team", "person-badge", 10)
        r.register_menu(
            "system", _("Departments"), "accounts:department_list", "system.users", "diagram-3", 20
        )
        r.register_menu(
            "system", _("Roles and rights"), "accounts:role_list", "system.roles", "shield-lock", 30
        )
        r.register_menu(
            "system", _("Login log"), "accounts:loginlog_list", "system.logs", "box-arrow-in-right", 60
        )

        from kehu.core.demo import register_demo

        from . import demo
        from .search import search_users

        register_demo(10, "departments and users", demo.load)

        r.register_search(_("Users"), search_users, "accounts.team")

        auditlog.register(
            User,
            exclude_fields=["password", "last_login", "first_name", "last_name", "is_staff", "date_joined"],
            m2m_fields={"roles"},
        )
        auditlog.register(Department)
        auditlog.register(Role, m2m_fields={"rights"})
