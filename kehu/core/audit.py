"""Who did it: services run their writes under ``acting_as(by)`` so the audit trail names the user
even when the write comes from a job, an import or the command line rather than a web request."""

from __future__ import annotations

import contextlib
import functools

from auditlog.context import auditlog_value, set_actor
from django.db.models.signals import pre_save


def _live(context) -> bool:
    """auditlog leaves its context behind after a request; it counts only while its receiver is
    still connected (i.e. inside the request or ``set_actor`` block that made it)."""
    duid = (context or {}).get("signal_duid")
    return duid is not None and any(r[0][0] == duid for r in pre_save.receivers)


@contextlib.contextmanager
def acting_as(user):
    if user is None or getattr(user, "pk", None) is None:
        yield
        return
    current = auditlog_value.get(None)
    actor = (current or {}).get("actor") if _live(current) else None
    if actor is not None and getattr(actor, "pk", None) == user.pk:
        yield  # inside the web request of the same user: keep its IP address
        return
    remote_addr = (current or {}).get("remote_addr") if _live(current) else None
    try:
        with set_actor(user, remote_addr=remote_addr):
            yield
    finally:
        auditlog_value.set(current if current is not None else {})


def audited(func):
    """Decorator for service functions taking ``by=``: their writes are attributed to ``by``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with acting_as(kwargs.get("by")):
            return func(*args, **kwargs)

    return wrapper
