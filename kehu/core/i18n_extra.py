"""Strings shown in Kehu that come from libraries without a Chinese catalogue (django-auditlog's
action names), listed here so they are in Kehu's own catalogue."""

from django.utils.translation import gettext_noop as _

AUDITLOG_STRINGS = [
    _("create"),
    _("update"),
    _("delete"),
    _("access"),
    _("log entry"),
    _("log entries"),
    _("content type"),
    _("remote address"),
    _("timestamp"),
    _("actor"),
]
