"""Domain errors: raised by services, shown as a message in the UI and as 400/409 by the API."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A business rule said no.  ``code`` is stable for API clients; ``message`` is for people."""

    code = "domain_error"
    status = 409
    default_message = _("The operation is not allowed.")

    def __init__(self, message=None, *, code: str | None = None, details: dict | None = None):
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.details = details or {}
        super().__init__(str(self.message))

    def __str__(self) -> str:
        return str(self.message)


class ValidationFailed(DomainError):
    code = "invalid"
    status = 400
    default_message = _("The input is not valid.")


class IllegalTransition(DomainError):
    code = "illegal_transition"
    default_message = _("This change of status is not allowed.")


class InUse(DomainError):
    code = "in_use"
    default_message = _("The record is in use and cannot be deleted.")


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    status = 403
    default_message = _("You do not have permission to do this.")
