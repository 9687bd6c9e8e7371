from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customer management")

    def ready(self):
        from auditlog.registry import auditlog
        from celery.schedules import crontab

        from kehu.core import registry as r
        from kehu.core.choices import watch
        from kehu.core.demo import register_demo

        from . import demo, jobs  # noqa: F401 (registers the import job)
        from .models import (
            Activity,
            ChurnCase,
            Contact,
            Customer,
            CustomerDocument,
            CustomerShare,
            FieldVisit,
            Tag,
        )
        from .search import search_customers

        watch(Tag)  # tag choices (the import, which creates tags in bulk, renews them itself)

        managers = ("supervisor", "account_manager", "executive")
        r.register_right(
            "customers.view",
            _("Open customers"),
            "customers",
            default_roles=managers + ("finance_clerk", "service_agent", "warehouse_keeper"),
        )
        r.register_right(
            "customers.edit",
            _("Create and edit customers, contacts and activities"),
            "customers",
            default_roles=("supervisor", "account_manager", "service_agent"),
        )
        r.register_right(
            "customers.assign",
            _("Assign and transfer customers, comment on activities"),
            "customers",
            default_roles=("supervisor",),
        )
        r.register_right(
            "customers.import",
            _("Import customers"),
            "customers",
            default_roles=("supervisor", "account_manager"),
        )
        r.register_right(
            "customers.export", _("Export customers"), "customers", default_roles=("supervisor",)
        )
        r.register_right(
            "customers.merge", _("Merge duplicate customers"), "customers", default_roles=("supervisor",)
        )
        r.register_menu("customers", _("Customers"), "customers:list", "customers.view", "building", 10)
        r.register_menu(
            "customers", _("Contacts"), "customers:contact_list", "customers.view", "person-lines-fill", 20
        )
        r.register_menu(
            "customers", _("Activities"), "customers:activity_list", "customers.view", "chat-dots", 30
        )
        r.register_menu(
            "customers", _("Field visits"), "customers:visit_list", "customers.view", "geo-alt", 40
        )
        r.register_menu("customers", _("Public pool"), "customers:pool", "customers.view", "water", 50)
        r.register_menu(
            "customers", _("Churn cases"), "customers:churn_list", "customers.view", "person-dash", 60
        )
        r.register_menu("customers", _("Import"), "customers:import", "customers.import", "upload", 70)
        r.register_menu(
            "customers", _("Caller ID"), "customers:caller_id", "customers.view", "telephone-inbound", 80
        )
        r.register_search(_("Customers"), search_customers, "customers.view")
        r.register_setting(
            "customers.pool_return_days",
            _("Days without activity before a customer returns to the public pool (0: never)"),
            30,
            minimum=0,
            maximum=3650,
        )
        r.register_setting(
            "customers.pool_claim_limit",
            _("Customers one user may claim from the pool per day"),
            10,
            minimum=0,
            maximum=10000,
        )
        r.register_setting(
            "customers.churn_months",
            _("Months without an order before a churn case opens"),
            6,
            minimum=1,
            maximum=120,
        )
        r.register_periodic(
            "customers-return-to-pool", "kehu.customers.return_to_pool", crontab(hour=1, minute=10)
        )
        r.register_periodic(
            "customers-open-churn", "kehu.customers.open_churn_cases", crontab(hour=1, minute=40)
        )
        r.register_periodic(
            "customers-daily-digest", "kehu.customers.daily_digest", crontab(hour=7, minute=30)
        )
        register_demo(30, "customers, contacts and activities", demo.load)

        auditlog.register(
            Customer, m2m_fields={"tags"}, exclude_fields=["name_key", "pinyin", "phone_key", "updated_at"]
        )
        auditlog.register(Contact, exclude_fields=["mobile_key", "phone_key"])
        auditlog.register(Activity)
        auditlog.register(CustomerShare)
        auditlog.register(CustomerDocument, exclude_fields=["file"])
        auditlog.register(FieldVisit)
        auditlog.register(ChurnCase)
