"""Small template helpers of the customer pages: tel: links and status badges."""

from __future__ import annotations

import re

from django import template

from kehu.customers.normalize import normalize_phone

register = template.Library()

STATUS_CLASSES = {
    # customers
    "prospect": "text-bg-info",
    "signed": "text-bg-success",
    "dormant": "text-bg-warning",
    "lost": "text-bg-secondary",
    # field visits
    "planned": "text-bg-primary",
    "done": "text-bg-success",
    "cancelled": "text-bg-light border",
    # churn cases
    "open": "text-bg-danger",
    "deferred": "text-bg-warning",
    "confirmed": "text-bg-dark",
    "recovered": "text-bg-success",
}

KIND_ICONS = {"visit": "geo-alt", "call": "telephone", "email": "envelope", "wechat": "chat-dots"}


@register.filter
def tel(value) -> str:
    """The number for a ``tel:`` link: the normalised digits, or what was typed without spaces."""
    text = str(value or "")
    return normalize_phone(text) or re.sub(r"[^\d+]", "", text)


@register.filter
def status_class(value) -> str:
    return STATUS_CLASSES.get(str(value), "text-bg-secondary")


@register.filter
def kind_icon(entry) -> str:
    return KIND_ICONS.get(getattr(entry, "code", ""), "chat-left-text")
