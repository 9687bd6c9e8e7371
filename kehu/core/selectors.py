from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from kehu.core.models import Job
from kehu.core.registry import MENU_GROUPS, registry
from kehu.core.scopes import visible_to


def history_for(obj, limit: int = 100):
    """The audit trail of one record, newest first, with who changed it."""
    ct = ContentType.objects.get_for_model(type(obj))
    return (
        LogEntry.objects.filter(content_type=ct, object_pk=str(obj.pk))
        .select_related("actor")
        .order_by("-timestamp")[:limit]
    )


def audit_entries():
    return LogEntry.objects.select_related("actor", "content_type")


def jobs_visible_to(user):
    qs = Job.objects.select_related("created_by")
    if user.has_right("system.jobs"):
        return qs
    return qs.filter(created_by=user)


def menu_for(user) -> list[dict]:
    """The sidebar: the module groups with the entries the user's rights open; empty groups hide."""
    groups = []
    for g in MENU_GROUPS:
        entries = sorted(
            (e for e in registry.menu if e.group == g.code and user.has_right(e.right)), key=lambda e: e.order
        )
        if entries:
            groups.append({"code": g.code, "label": g.label, "icon": g.icon, "entries": entries})
    return groups


def global_search(user, text: str, limit: int = 8) -> list[dict]:
    text = (text or "").strip()
    if len(text) < 1:
        return []
    sections = []
    for provider in registry.search:
        if not user.has_right(provider.right):
            continue
        hits = provider.search(user, text, limit)
        if hits:
            sections.append({"label": provider.label, "hits": hits})
    return sections


__all__ = ["history_for", "audit_entries", "jobs_visible_to", "menu_for", "global_search", "visible_to"]
