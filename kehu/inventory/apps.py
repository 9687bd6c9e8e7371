from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "kehu.inventory"
    label = "inventory"
    verbose_name = _("Inventory")

    def ready(self):
        from auditlog.registry import auditlog
        from celery.schedules import crontab
        from django.urls import reverse

        from kehu.catalog.panels import ProductPanel, register_product_panel
        from kehu.core import registry as r
        from kehu.core.demo import register_demo

        from . import demo, jobs, services, tasks  # noqa: F401 (registers the tasks and jobs)
        from .models import Location, SafetyStock, StockNote, Stocktake, Transfer, Warehouse
        from .search import search_serials
        from .views import dashboard_card, product_panel_context

        keepers = ("warehouse_keeper",)
        r.register_right(
            "inventory.view",
            _("Open inventory: stock, movements, serial numbers"),
            "inventory",
            default_roles=(
                "supervisor",
                "account_manager",
                "executive",
                "warehouse_keeper",
                "finance_clerk",
                "service_agent",
            ),
        )
        r.register_right(
            "inventory.edit",
            _("Create and edit stock notes and transfers"),
            "inventory",
            default_roles=keepers,
        )
        r.register_right(
            "inventory.post",
            _("Post and reverse stock notes and transfers"),
            "inventory",
            default_roles=keepers,
        )
        r.register_right("inventory.stocktake", _("Run stocktakes"), "inventory", default_roles=keepers)
        r.register_right(
            "inventory.warehouses",
            _("Manage warehouses, locations and safety stock"),
            "inventory",
            default_roles=keepers,
        )
        r.register_right(
            "inventory.recall",
            _("Batch recall lists"),
            "inventory",
            default_roles=("warehouse_keeper", "service_agent", "supervisor"),
        )
        r.register_right(
            "inventory.cost",
            _("See stock costs and values"),
            "inventory",
            default_roles=("warehouse_keeper", "finance_clerk", "executive"),
        )
        menu = [
            (_("Stock"), "inventory:stock", "inventory.view", "boxes", 10),
            (_("Movements"), "inventory:moves", "inventory.view", "arrow-left-right", 20),
            (_("Goods receipts"), "inventory:receipts", "inventory.view", "box-arrow-in-down", 30),
            (_("Goods issues"), "inventory:issues", "inventory.view", "box-arrow-up", 40),
            (_("Transfers"), "inventory:transfers", "inventory.view", "truck", 50),
            (_("Stocktakes"), "inventory:stocktakes", "inventory.view", "clipboard-check", 60),
            (_("Serial numbers"), "inventory:serials", "inventory.view", "upc-scan", 70),
            (_("Safety-stock alerts"), "inventory:alerts", "inventory.view", "exclamation-triangle", 80),
            (_("Stock summary (收发存)"), "inventory:monthly", "inventory.view", "table", 90),
            (_("Batch recall"), "inventory:recall", "inventory.recall", "megaphone", 100),
            (_("Warehouses"), "inventory:warehouses", "inventory.view", "buildings", 110),
        ]
        for label, url, right, icon, order in menu:
            r.register_menu("inventory", label, url, right, icon, order)
        for code, label, pattern in [
            ("goods_receipt", _("Goods receipt"), "RK{yyyyMMdd}{seq:4}"),
            ("goods_issue", _("Goods issue"), "CK{yyyyMMdd}{seq:4}"),
            ("transfer", _("Transfer"), "DB{yyyyMMdd}{seq:4}"),
            ("stocktake", _("Stocktake"), "PD{yyyyMMdd}{seq:4}"),
        ]:
            r.register_document_type(code, label, pattern)
        r.register_setting(
            "inventory.serials_globally_unique",
            _("Serial numbers unique across all products (1: yes, 0: unique per product)"),
            0,
            minimum=0,
            maximum=1,
        )
        r.register_periodic(
            "inventory-safety-digest", "kehu.inventory.safety_digest", crontab(hour=7, minute=40)
        )
        r.register_periodic(
            "inventory-close-month", "kehu.inventory.close_month", crontab(day_of_month=1, hour=0, minute=30)
        )
        r.register_search(_("Serial numbers"), search_serials, "inventory.view")
        r.register_dashboard_card(
            "inventory-alerts", "inventory/_dashboard_card.html", dashboard_card, "inventory.view", 40
        )
        register_product_panel(
            ProductPanel(
                code="inventory-stock",
                title=_("Stock"),
                template="inventory/_product_panel.html",
                right="inventory.view",
                order=20,
                icon="boxes",
                context=product_panel_context,
            )
        )
        from kehu.customers.views import CustomerPanel, register_customer_panel

        from .views import customer_panel_context

        register_customer_panel(
            CustomerPanel(
                code="inventory-serials",
                title=_("Serial units held"),
                template="inventory/_customer_panel.html",
                right="inventory.view",
                order=60,
                icon="upc-scan",
                context=customer_panel_context,
            )
        )
        services.register_source(
            "goods_receipt", _("Goods receipt"), lambda pk: reverse("inventory:note_detail", args=[pk])
        )
        services.register_source(
            "goods_issue", _("Goods issue"), lambda pk: reverse("inventory:note_detail", args=[pk])
        )
        services.register_source(
            "transfer", _("Transfer"), lambda pk: reverse("inventory:transfer_detail", args=[pk])
        )
        services.register_source(
            "stocktake", _("Stocktake"), lambda pk: reverse("inventory:stocktake_detail", args=[pk])
        )
        register_demo(60, "inventory: warehouses, stock, serial units", demo.load)

        auditlog.register(Warehouse)
        auditlog.register(Location)
        auditlog.register(SafetyStock)
        auditlog.register(StockNote)
        auditlog.register(Transfer)
        auditlog.register(Stocktake)
