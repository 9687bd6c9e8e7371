from __future__ import annotations

import contextlib
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def add_class(field, css):
    widget = field.field.widget
    existing = widget.attrs.get("class", "")
    input_type = getattr(widget, "input_type", "")
    if input_type in ("checkbox", "radio") or widget.__class__.__name__ in (
        "CheckboxSelectMultiple",
        "RadioSelect",
    ):
        css = "form-check-input"
    elif widget.__class__.__name__ in ("Select", "SelectMultiple", "NullBooleanSelect"):
        css = css.replace("form-control", "form-select")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})


@register.filter
def index(seq, i):
    return seq[i]


@register.filter
def cell(value):
    """How a list shows a value: dates the Chinese way, booleans as a mark, nothing as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return format_html(
            '<i class="bi bi-{}" title="{}"></i>',
            "check-lg text-success" if value else "x-lg text-secondary",
            _("Yes") if value else _("No"),
        )
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            if timezone.is_aware(value)
            else value.strftime("%Y-%m-%d %H:%M")
        )
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return value


@register.filter
def money(value, symbol="¥"):
    """¥1,234.50 — rounded half-up to the cent, grouped by thousands."""
    if value is None or value == "":
        return "—"
    try:
        d = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return value
    sign = "-" if d < 0 else ""
    return f"{sign}{symbol}{formats.number_format(abs(d), 2, use_l10n=True, force_grouping=True)}"


@register.simple_tag
def is_zh():
    return (get_language() or "").startswith("zh")


def _related_repr(field, value, cache: dict):
    """An audit entry stores foreign keys as ids; show the related record's name instead."""
    key = (field.related_model, value)
    if key not in cache:
        obj = field.related_model._base_manager.filter(pk=value).first() if str(value).isdigit() else None
        cache[key] = str(obj) if obj is not None else value
    return cache[key]


def _yes_no(value):
    if value in (True, "True"):
        return _("Yes")
    if value in (False, "False"):
        return _("No")
    return value


@register.filter
def change_rows(entry):
    """An audit entry's changes as (field label, old, new): fields named as users know them,
    related records by name, reverse relations left out."""
    model = entry.content_type.model_class() if entry.content_type_id else None
    rows, cache = [], {}
    for name, change in (entry.changes_dict or {}).items():
        field = None
        if model is not None:
            with contextlib.suppress(Exception):  # a field that no longer exists keeps its column name
                field = model._meta.get_field(name)
        if field is not None and (not (field.concrete or field.many_to_many) or field.primary_key):
            continue
        label = field.verbose_name if field is not None else name
        if isinstance(change, list | tuple) and len(change) == 2:
            old, new = change
        elif isinstance(change, dict):  # many-to-many: {"type": "m2m", "operation": ..., "objects": [...]}
            objects = ", ".join(map(str, change.get("objects", [])))
            operation = {"add": _("added"), "delete": _("removed")}.get(change.get("operation"), "")
            old, new = None, f"{operation}: {objects}"
        else:
            old, new = None, change
        old = None if old in (None, "None") else old
        new = None if new in (None, "None") else new
        if field is not None and field.many_to_one:
            old = _related_repr(field, old, cache) if old is not None else None
            new = _related_repr(field, new, cache) if new is not None else None
        if old is None and new in (None, "") and entry.action == 0:  # a new record's empty fields
            continue
        if field is not None and field.get_internal_type() == "BooleanField":
            old = _yes_no(old)
            new = _yes_no(new)
        if isinstance(new, str) and len(new) > 19 and new[10:11] == " " and new[19:20] == ".":
            new = new[:19]  # timestamps to the second
        if isinstance(old, str) and len(old) > 19 and old[10:11] == " " and old[19:20] == ".":
            old = old[:19]
        rows.append((label, old, "—" if new is None else new))
    return rows


def changes_text(entry) -> str:
    return "; ".join(
        f"{capfirst(label)}: {old} → {new}" if old is not None else f"{capfirst(label)}: {new}"
        for label, old, new in change_rows(entry)
    )
