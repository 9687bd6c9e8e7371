"""Background jobs as users see them.

``enqueue()`` records a :class:`~kehu.core.models.Job` and hands its id to Celery once the
transaction commits; the worker runs the registered function, which reports progress through its
:class:`JobContext`.  Progress lives in the database, so a page that polls it survives a reload and
works the same with the embedded queue or with Redis and many workers.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from kehu.core.models import Job

log = logging.getLogger(__name__)
JOBS: dict[str, Callable] = {}


def job(name: str):
    def register(func: Callable) -> Callable:
        JOBS[name] = func
        return func

    return register


class JobContext:
    def __init__(self, job: Job):
        self.job = job

    @property
    def user(self):
        return self.job.created_by

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        fields = {"done": done}
        if total is not None:
            fields["total"] = total
        if message:
            fields["message"] = message[:300]
        Job.objects.filter(pk=self.job.pk).update(**fields)
        for k, v in fields.items():
            setattr(self.job, k, v)


def enqueue(name: str, *, user, label: str, params: dict | None = None) -> Job:
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}")
    from kehu.core.tasks import run_job

    new = Job.objects.create(name=name, label=str(label)[:200], params=params or {}, created_by=user)
    transaction.on_commit(lambda: run_job.delay(str(new.pk)))
    return new


def execute(job_id: str) -> Job | None:
    """Run one job (called by the worker).  Claims it atomically so a redelivered message cannot run
    it twice."""
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        log.warning("job %s is not queued; skipped", job_id)
        return None
    current = Job.objects.select_related("created_by").get(pk=job_id)
    func = JOBS.get(current.name)
    try:
        if func is None:
            raise LookupError(f"unknown job {current.name!r}")
        result = func(JobContext(current), **current.params) or {}
        current.refresh_from_db(fields=["done", "total", "message"])
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.SUCCEEDED,
            result=result,
            finished_at=timezone.now(),
            done=max(current.done, current.total),
        )
    except Exception as exc:  # the job failed; the user sees why
        log.exception("job %s (%s) failed", job_id, current.name)
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.FAILED,
            error=f"{exc}\n\n{traceback.format_exc()}"[:20000],
            message=str(exc)[:300],
            finished_at=timezone.now(),
        )
    return Job.objects.get(pk=job_id)
