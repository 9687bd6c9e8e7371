from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from celery.schedules import crontab

        from kehu.core import registry as r
        from kehu.core.choices import watch
        from kehu.core.dictionary import register_default_types
        from kehu.core.sync import sync_after_migrate

        from .models import DictEntry

        register_default_types()
        watch(DictEntry)
        r.register_right("basedata.dictionary", _("Edit the data dictionary"), "basedata")
        r.register_right("basedata.numbering", _("Edit numbering rules"), "basedata")
        r.register_right("system.logs", _("Browse audit and login logs"), "system")
        r.register_right("system.settings", _("Change system settings"), "system")
        r.register_right("system.backup", _("Make and download backups"), "system")
        r.register_right("system.jobs", _("See everybody's background jobs"), "system")
        r.register_menu("basedata", _("Data dictionary"), "core:dict_list", "basedata.dictionary", "book", 10)
        r.register_menu(
            "basedata", _("Numbering rules"), "core:numbering_list", "basedata.numbering", "123", 20
        )
        r.register_menu("system", _("Audit log"), "core:audit_list", "system.logs", "clock-history", 50)
        r.register_menu("system", _("System settings"), "core:settings", "system.settings", "sliders", 75)
        r.register_menu("system", _("Backups"), "core:backup_list", "system.backup", "archive", 80)
        r.register_menu("system", _("Background jobs"), "core:job_list", None, "hourglass-split", 70)
        for code, label, pattern in [
            ("customer", _("Customer"), "C{yyyyMM}{seq:5}"),
            ("quotation", _("Quotation"), "QT{yyyyMMdd}{seq:4}"),
            ("sales_order", _("Sales order"), "SO{yyyyMMdd}{seq:4}"),
            ("delivery_notice", _("Delivery notice"), "DN{yyyyMMdd}{seq:4}"),
            ("shipment", _("Shipment"), "SH{yyyyMMdd}{seq:4}"),
            ("goods_receipt", _("Goods receipt"), "GR{yyyyMMdd}{seq:4}"),
            ("goods_issue", _("Goods issue"), "GI{yyyyMMdd}{seq:4}"),
            ("transfer", _("Transfer"), "TR{yyyyMMdd}{seq:4}"),
            ("stocktake", _("Stocktake"), "ST{yyyyMMdd}{seq:4}"),
            ("invoice", _("Invoice"), "IV{yyyyMMdd}{seq:4}"),
            ("receipt", _("Receipt"), "RC{yyyyMMdd}{seq:4}"),
            ("return_note", _("Return note"), "RT{yyyyMMdd}{seq:4}"),
            ("service_ticket", _("Service ticket"), "SV{yyyyMMdd}{seq:4}"),
        ]:
            r.register_document_type(code, label, pattern)
        r.register_periodic(
            "purge-finished-jobs", "kehu.core.purge_finished_jobs", crontab(hour=3, minute=30)
        )
        r.register_periodic(
            "flush-search-indexes", "kehu.core.flush_search_indexes", crontab(hour=3, minute=50)
        )
        from auditlog.registry import auditlog

        from kehu.core.models import DictEntry, NumberingRule, Setting

        auditlog.register(DictEntry)
        auditlog.register(NumberingRule)
        auditlog.register(Setting)
        from kehu.core import backup_views  # noqa: F401  (registers the backup job)

        post_migrate.connect(sync_after_migrate, sender=self)
