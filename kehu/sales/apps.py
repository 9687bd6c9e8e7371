from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "kehu.sales"
    label = "sales"
    verbose_name = _("Marketing management")

    def ready(self):
        from auditlog.registry import auditlog

        from kehu.core import registry as r
        from kehu.core.demo import register_demo

        from . import demo, mailer  # noqa: F401 (registers the job sales.send_mailing)
        from .models import Campaign, Mailing, Opportunity, PlanItem, Stage, Unsubscribe

        r.register_right(
            "sales.view",
            _("Open opportunities and campaigns"),
            "marketing",
            default_roles=("supervisor", "account_manager", "executive"),
        )
        r.register_right(
            "sales.edit",
            _("Create opportunities and work on development plans"),
            "marketing",
            default_roles=("supervisor", "account_manager"),
        )
        r.register_right(
            "sales.assign", _("Assign opportunities"), "marketing", default_roles=("supervisor",)
        )
        r.register_right(
            "sales.stages", _("Configure the pipeline stages"), "marketing", default_roles=("supervisor",)
        )
        r.register_right(
            "sales.campaign", _("Manage campaigns and responses"), "marketing", default_roles=("supervisor",)
        )
        r.register_right("sales.mail", _("Send mass e-mail"), "marketing", default_roles=("supervisor",))
        r.register_right(
            "sales.export", _("Export opportunities"), "marketing", default_roles=("supervisor",)
        )

        r.register_menu("marketing", _("Opportunities"), "sales:list", "sales.view", "lightbulb", 10)
        r.register_menu("marketing", _("Pipeline board"), "sales:board", "sales.view", "kanban", 20)
        r.register_menu(
            "marketing", _("Development plans"), "sales:plan_list", "sales.view", "calendar-check", 30
        )
        r.register_menu("marketing", _("Forecast"), "sales:forecast", "sales.view", "graph-up-arrow", 40)
        r.register_menu("marketing", _("Campaigns"), "sales:campaign_list", "sales.view", "megaphone", 50)
        r.register_menu("marketing", _("Stages"), "sales:stage_list", "sales.stages", "sliders", 60)

        r.register_document_type("opportunity", _("Sales opportunity"), "OPP{yyyyMMdd}{seq:4}")
        r.register_setting(
            "sales.mail_batch_size",
            _("E-mails sent over one mail-server connection (mass e-mail batch)"),
            100,
            minimum=1,
            maximum=5000,
        )
        r.register_setting(
            "sales.board_cards", _("Cards shown per column of the pipeline board"), 20, minimum=5, maximum=500
        )

        from .search import search_opportunities
        from .views import dashboard_forecast, dashboard_reminders, register_panels

        r.register_search(_("Opportunities"), search_opportunities, "sales.view")
        r.register_dashboard_card(
            "sales-reminders", "sales/_dashboard_reminders.html", dashboard_reminders, "sales.view", 20
        )
        r.register_dashboard_card(
            "sales-forecast", "sales/_dashboard_forecast.html", dashboard_forecast, "sales.assign", 30
        )
        register_panels()
        register_demo(40, "opportunities, plans and a campaign", demo.load)

        auditlog.register(Opportunity, exclude_fields=["updated_at"])
        auditlog.register(PlanItem)
        auditlog.register(Stage)
        auditlog.register(Campaign)
        auditlog.register(Mailing, exclude_fields=["job"])
        auditlog.register(Unsubscribe)
