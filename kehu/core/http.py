"""Request helpers shared by the login log, the audit trail and throttling."""

from __future__ import annotations

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the first X-Forwarded-For hop only when Kehu runs
    behind a trusted proxy (KEHU_BEHIND_PROXY=1); otherwise a client could forge it."""
    if request is None:
        return None
    if settings.KEHU_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class AuditMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with the client address taken as :func:`client_ip` does."""

    @staticmethod
    def _get_remote_addr(request):
        return client_ip(request)

    @staticmethod
    def _get_remote_port(request):
        return None
