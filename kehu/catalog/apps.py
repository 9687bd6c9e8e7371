from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "kehu.catalog"
    label = "catalog"
    verbose_name = _("Products")

    def ready(self):
        from auditlog.registry import auditlog

        from kehu.core import registry as r
        from kehu.core.demo import register_demo

        from . import demo, importing  # noqa: F401 (registers the import job)
        from .models import Category, Product, ProductImage
        from .search import search_products

        everyone = (
            "supervisor",
            "account_manager",
            "executive",
            "warehouse_keeper",
            "finance_clerk",
            "service_agent",
        )
        r.register_right("catalog.view", _("Open products"), "inventory", default_roles=everyone)
        r.register_right(
            "catalog.edit",
            _("Create and edit products and categories"),
            "inventory",
            default_roles=("supervisor", "warehouse_keeper"),
        )
        r.register_right(
            "catalog.import",
            _("Import products"),
            "inventory",
            default_roles=("supervisor", "warehouse_keeper"),
        )
        r.register_right(
            "catalog.export",
            _("Export products"),
            "inventory",
            default_roles=("supervisor", "warehouse_keeper", "finance_clerk"),
        )
        r.register_menu("inventory", _("Products"), "catalog:list", "catalog.view", "box-seam", 10)
        r.register_menu("inventory", _("Import products"), "catalog:import", "catalog.import", "upload", 90)
        r.register_menu(
            "basedata", _("Product categories"), "catalog:categories", "catalog.view", "diagram-3", 30
        )
        r.register_search(_("Products"), search_products, "catalog.view")
        register_demo(40, "product categories and products", demo.load)

        auditlog.register(Product, exclude_fields=["name_key", "pinyin", "updated_at", "avg_cost"])
        auditlog.register(Category)
        auditlog.register(ProductImage)
