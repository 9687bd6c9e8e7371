"""Sending a mailing (邮件群发) in batches: the background job ``sales.send_mailing``.

The recipients were materialised when the mailing was queued.  The job takes them in primary-key
order, ``sales.mail_batch_size`` at a time; each batch re-checks the unsubscribes (one query), opens
one connection to the mail server (Django's ``EMAIL_BACKEND``: SMTP when ``EMAIL_URL`` is set, files
in ``<data folder>/mail`` in the embedded installation), sends every message of the batch over it,
and writes the statuses back with one bulk UPDATE.  A refusal with a 5xx code marks the recipient
*bounced* with the server's answer; other errors mark it *failed*.  The progress is the job's."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.jobs import job
from kehu.core.settings_store import get_setting

from .models import Mailing, Recipient, Unsubscribe
from .services import render_template, unsubscribe_token

log = logging.getLogger(__name__)
R = Recipient.Status


def unsubscribe_url(mailing: Mailing, email: str) -> str:
    base = mailing.base_url or getattr(settings, "KEHU_BASE_URL", "") or "http://localhost:8000"
    return base.rstrip("/") + reverse("sales:unsubscribe", args=[unsubscribe_token(email, mailing.pk)])


def build_message(mailing: Mailing, r: Recipient, connection=None) -> EmailMessage:
    link = unsubscribe_url(mailing, r.email)
    c, ct = r.customer, r.contact
    values = {
        "customer.name": c.name,
        "customer.short_name": c.short_name,
        "customer.number": c.number,
        "customer.address": c.address,
        "customer.phone": c.phone,
        "customer.website": c.website,
        "contact.name": ct.name if ct else "",
        "contact.title": ct.title if ct else "",
        "contact.email": r.email,
        "contact.mobile": ct.mobile if ct else "",
        "campaign.name": mailing.campaign.name,
        "unsubscribe_url": link,
    }
    body = render_template(mailing.body, values)
    if "{{ unsubscribe_url }}" not in mailing.body.replace("{{unsubscribe_url}}", "{{ unsubscribe_url }}"):
        body = f"{body.rstrip()}\n\n--\n" + _("To receive no more of these e-mails: %(url)s") % {"url": link}
    return EmailMessage(
        subject=render_template(mailing.subject, values),
        body=body,
        from_email=mailing.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[r.email],
        headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        connection=connection,
    )


def _refusal(exc: Exception) -> tuple[str, str]:
    """(status, the server's answer) for an exception raised while sending one message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, msg = next(iter(exc.recipients.values()), (0, b""))
        text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
        return (R.BOUNCED if code >= 500 else R.FAILED), f"{code} {text}".strip()
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return (R.BOUNCED if exc.smtp_code >= 500 else R.FAILED), f"{exc.smtp_code} {text}".strip()
    return R.FAILED, f"{type(exc).__name__}: {exc}"


def send_batch(mailing: Mailing, rows: list[Recipient], *, backend: str | None = None) -> dict:
    """Send one batch over one connection; returns the count per status."""
    now = timezone.now()
    gone = set(
        Unsubscribe.objects.filter(email_key__in=[r.email_key for r in rows]).values_list(
            "email_key", flat=True
        )
    )
    counts: dict[str, int] = {}
    conn = get_connection(backend)
    opened = False
    open_error = ""
    try:
        conn.open()
        opened = True
    except Exception as exc:  # the server is unreachable: the batch fails with the reason
        open_error = f"{type(exc).__name__}: {exc}"[:500]
    for r in rows:
        if r.email_key in gone:
            r.status, r.error = R.UNSUBSCRIBED, ""
        elif not opened:
            r.status, r.error = R.FAILED, open_error
        else:
            try:
                build_message(mailing, r, conn).send()
            except Exception as exc:  # recorded on the recipient
                r.status, r.error = _refusal(exc)
                r.error = r.error[:500]
                if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                    try:  # one more try with a fresh connection for the rest of the batch
                        conn.close()
                        conn.open()
                    except Exception as exc2:
                        opened, open_error = False, f"{type(exc2).__name__}: {exc2}"[:500]
            else:
                r.status, r.error, r.sent_at = R.SENT, "", now
        counts[r.status] = counts.get(r.status, 0) + 1
    if opened:
        try:
            conn.close()
        except Exception:  # closing a broken connection
            log.debug("closing the mail connection failed", exc_info=True)
    Recipient.objects.bulk_update(rows, ["status", "error", "sent_at"])
    return counts


def send_mailing(mailing_id: int, *, progress=None, backend: str | None = None) -> dict:
    claimed = Mailing.objects.filter(pk=mailing_id, status=Mailing.Status.QUEUED).update(
        status=Mailing.Status.SENDING
    )
    if not claimed:
        return {"summary": _("The mailing is not queued.")}
    mailing = Mailing.objects.select_related("campaign").get(pk=mailing_id)
    batch = max(1, int(get_setting("sales.mail_batch_size")))
    total = Recipient.objects.filter(mailing=mailing, status=R.QUEUED).count()
    done, last_pk = 0, 0
    totals: dict[str, int] = {}
    try:
        while True:
            rows = list(
                Recipient.objects.filter(mailing=mailing, status=R.QUEUED, pk__gt=last_pk)
                .select_related("customer", "contact")
                .only(
                    "pk",
                    "email",
                    "email_key",
                    "status",
                    "error",
                    "sent_at",
                    "mailing_id",
                    "customer__name",
                    "customer__short_name",
                    "customer__number",
                    "customer__address",
                    "customer__phone",
                    "customer__website",
                    "contact__name",
                    "contact__title",
                    "contact__mobile",
                )
                .order_by("pk")[:batch]
            )
            if not rows:
                break
            last_pk = rows[-1].pk
            with transaction.atomic():
                for k, v in send_batch(mailing, rows, backend=backend).items():
                    totals[k] = totals.get(k, 0) + v
            done += len(rows)
            if progress:
                progress(done, total, _("%(done)s of %(total)s e-mails") % {"done": done, "total": total})
    except Exception:
        Mailing.objects.filter(pk=mailing_id).update(status=Mailing.Status.FAILED, finished_at=timezone.now())
        raise
    Mailing.objects.filter(pk=mailing_id).update(status=Mailing.Status.SENT, finished_at=timezone.now())
    summary = ", ".join(f"{R(k).label}: {v}" for k, v in sorted(totals.items()))
    return {"summary": summary, "counts": totals}


@job("sales.send_mailing")
def send_mailing_job(ctx, *, mailing_id: int):
    return send_mailing(mailing_id, progress=ctx.progress)
