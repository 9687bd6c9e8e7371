"""The list cells that every customer row shows, written in Python.

Each function returns the same HTML as its template in ``templates/customers/cells/`` (a test holds
them equal).  Lists render 25–200 rows twice (the table and the phone's cards); through ``{% include
%}`` these few cells cost most of a list page's time."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .templatetags.customers_ui import status_class, tel


def number_cell(obj, value, url) -> SafeString:
    return format_html('<span class="text-body-secondary font-monospace small">{}</span>', value)


def name_cell(obj, value, url) -> SafeString:
    html = format_html('<a href="{}" class="fw-semibold"', url or "")
    if obj.short_name:
        html += format_html(' title="{}"', obj.short_name)
    html += format_html(">{}</a>", obj.name)
    if obj.kind == "individual":
        html += format_html(' <i class="bi bi-person text-body-secondary" title="{}"></i>', _("Individual"))
    if obj.is_archived:
        html += format_html(' <span class="badge text-bg-secondary">{}</span>', _("Archived"))
    return mark_safe(html)  # noqa: S308 - built from format_html pieces


def status_cell(obj, value, url) -> SafeString:
    return format_html('<span class="badge {}">{}</span>', status_class(obj.status), value)


def tel_cell(obj, value, url) -> SafeString:
    if not value:
        return mark_safe("—")
    return format_html(
        '<a href="tel:{}" class="text-nowrap"><i class="bi bi-telephone small"></i> {}</a>', tel(value), value
    )


def tags_cell(obj, value, url) -> SafeString:
    tags = list(obj.tags.all())
    inner = (
        format_html_join(
            "", '<span class="badge rounded-pill text-bg-light border">{}</span> ', ((t.name,) for t in tags)
        )
        if tags
        else "—"
    )
    return format_html('<span class="kehu-tags">{}</span>', inner)


FAST_CELLS = {
    "customers/cells/number.html": number_cell,
    "customers/cells/name.html": name_cell,
    "customers/cells/status.html": status_cell,
    "customers/cells/tel.html": tel_cell,
    "customers/cells/tags.html": tags_cell,
}
