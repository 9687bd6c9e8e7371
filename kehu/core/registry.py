"""Registries that apps fill in their AppConfig.ready(): rights, menu entries, search providers,
dictionary types, document types.  Kept in code so a module brings its own when it is installed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class RightDef:
    code: str
    label: object
    module: str
    default_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class MenuGroup:
    code: str
    label: object
    icon: str


@dataclass(frozen=True)
class MenuEntry:
    group: str
    label: object
    url_name: str
    right: str | None
    icon: str = "dot"
    order: int = 100


@dataclass(frozen=True)
class SearchProvider:
    label: object
    search: Callable  # (user, text, limit) -> list[{"title", "subtitle", "url"}]
    right: str | None = None


@dataclass(frozen=True)
class SettingDef:
    key: str
    label: object
    default: object
    minimum: int | None = None
    maximum: int | None = None
    help: object = ""


@dataclass(frozen=True)
class DashboardCard:
    key: str
    template: str  # rendered with ``card`` = what ``data(user)`` returned
    data: Callable  # (user) -> context object, or None to hide the card
    right: str | None = None
    order: int = 100


@dataclass
class Registry:
    rights: dict[str, RightDef] = field(default_factory=dict)
    menu: list[MenuEntry] = field(default_factory=list)
    search: list[SearchProvider] = field(default_factory=list)
    dict_types: dict[str, object] = field(default_factory=dict)
    document_types: dict[str, tuple[object, str]] = field(default_factory=dict)
    periodic: dict[str, dict] = field(default_factory=dict)
    settings: dict[str, SettingDef] = field(default_factory=dict)
    dashboard: dict[str, DashboardCard] = field(default_factory=dict)


registry = Registry()

# The sidebar's modules, in the order users know them from the source documents.
MENU_GROUPS = [
    MenuGroup("customers", _("Customer management"), "people"),
    MenuGroup("marketing", _("Marketing management"), "bullseye"),
    MenuGroup("orders", _("Sales orders"), "receipt"),
    MenuGroup("inventory", _("Inventory"), "box-seam"),
    MenuGroup("service", _("Service management"), "headset"),
    MenuGroup("reports", _("Reports"), "bar-chart-line"),
    MenuGroup("basedata", _("Base data"), "journal-text"),
    MenuGroup("system", _("System management"), "gear"),
]

MODULE_LABELS = {g.code: g.label for g in MENU_GROUPS}


def register_right(code: str, label, module: str, default_roles: tuple[str, ...] = ()) -> None:
    registry.rights[code] = RightDef(code, label, module, tuple(default_roles))


def register_menu(group: str, label, url_name: str, right: str | None, icon: str = "dot", order: int = 100):
    if group not in MODULE_LABELS:
        raise ValueError(f"unknown menu group {group!r}")
    registry.menu.append(MenuEntry(group, label, url_name, right, icon, order))


def register_search(label, search: Callable, right: str | None = None) -> None:
    registry.search.append(SearchProvider(label, search, right))


def register_dict_type(code: str, label) -> None:
    registry.dict_types[code] = label


def register_document_type(code: str, label, default_pattern: str) -> None:
    registry.document_types[code] = (label, default_pattern)


def register_periodic(name: str, task: str, schedule) -> None:
    """A job the worker's scheduler runs on ``schedule`` (a celery ``crontab``)."""
    registry.periodic[name] = {"task": task, "schedule": schedule}


def register_setting(key: str, label, default: int, *, minimum=None, maximum=None, help="") -> None:
    """An integer system parameter administrators edit on the settings page."""
    registry.settings[key] = SettingDef(key, label, default, minimum, maximum, help)


def register_dashboard_card(key: str, template: str, data: Callable, right: str | None = None, order=100):
    """A card on the dashboard: ``template`` (a column of the dashboard's grid, e.g.
    ``<div class="col-lg-6">…</div>``) is included with ``card`` = ``data(user)``; the card is left out
    when the user lacks ``right`` or ``data`` returns None.  Lower ``order`` comes first."""
    registry.dashboard[key] = DashboardCard(key, template, data, right, order)
