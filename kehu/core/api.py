"""Conventions every endpoint under /api/v1/ follows.

- Authentication: session (with CSRF) or ``Authorization: Token …``.
- Permissions: :class:`HasRights` reads ``required_right`` (read) and ``write_right`` (write) from
  the view; read-only roles may only read.  Querysets go through :class:`ScopedMixin`, so an id
  outside the user's data scope answers 404.
- Errors: always ``{"code", "message", "details"}``.
- Lists: ``?page=``/``?page_size=`` (max 200) → ``{"count", "next", "previous", "results"}``;
  ``?search=`` on the view's ``search_fields``; ``?ordering=`` on its ``ordering_fields``; other
  filters by field name via django-filter.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from kehu.core.drf import HasRights, StandardPagination  # noqa: F401 (the conventions live here)
from kehu.core.errors import DomainError
from kehu.core.scopes import visible_to


class ScopedMixin:
    """For viewsets: the queryset is limited to the user's data scope (so retrieve answers 404)."""

    scoped = True

    def get_queryset(self):
        qs = super().get_queryset()
        return visible_to(qs, self.request.user) if self.scoped else qs


def _error(code: str, message, details=None, status_code=400) -> Response:
    return Response({"code": code, "message": str(message), "details": details or {}}, status=status_code)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return _error(exc.code, exc.message, exc.details, exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail
        if isinstance(data, dict):
            first = next(iter(data.values()), "")
            first = first[0] if isinstance(first, list) and first else first
            message = str(first) if first else _("The input is not valid.")
        else:
            message = str(data[0]) if data else _("The input is not valid.")
            data = {"non_field_errors": data}
        response.data = {"code": "invalid", "message": message, "details": data}
        return response
    codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
    code = codes if isinstance(codes, str) else "error"
    detail = getattr(exc, "detail", "")
    response.data = {"code": code, "message": str(detail), "details": {}}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and getattr(exc, "wait", None):
        response.data["details"] = {"retry_after": exc.wait}
    return response
