"""What the import pages of every module share: the review page's two actions (check the mapped
file, run the import job) and the job the session started.  The modules keep their own forms,
templates and :class:`ImportSession`-like objects (``check``, ``enqueue``, ``job_id``)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from kehu.core.errors import DomainError


def review_action(request, session, *, mapping_form, run_form, check: Callable[[], dict], review_url: str):
    """Handle a POST of the review page: ``action=check`` applies the mapping and runs the dry run
    (``check()`` returns its report), then comes back to the report; ``action=run`` starts the import
    job and goes to its page.  A domain error becomes a message on the page.  Returns the redirect,
    or ``None`` when the page should be shown (a GET, invalid forms or an error)."""
    if request.method != "POST":
        return None
    action = request.POST.get("action")
    if action not in ("check", "run"):
        raise Http404
    if action == "check" and mapping_form.is_valid():
        try:
            report = check()
        except DomainError as exc:
            messages.error(request, str(exc))
            return None
        bad, rows = report["bad_rows"], report["rows"]
        if bad:
            messages.warning(request, _("%(bad)s of %(rows)s rows have errors.") % {"bad": bad, "rows": rows})
        else:
            messages.success(request, _("All %(rows)s rows are valid.") % {"rows": rows})
        return redirect(review_url + "#report")
    if action == "run" and run_form.is_valid():
        try:
            job = session.enqueue(by=request.user, mode=run_form.cleaned_data["mode"])
        except DomainError as exc:
            messages.error(request, str(exc))
            return None
        return redirect(job.get_absolute_url())
    return None


def session_job(session):
    """The import job this session started, if any (its page shows the progress)."""
    if not session.job_id:
        return None
    from kehu.core.models import Job

    return Job.objects.filter(pk=session.job_id).first()


__all__ = ["review_action", "session_job"]
