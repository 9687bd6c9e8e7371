from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone
from django.utils.translation import gettext

from kehu.core import jobs
from kehu.core.models import Job


@shared_task(name="kehu.core.run_job")
def run_job(job_id: str) -> str | None:
    done = jobs.execute(job_id)
    return done.status if done else None


@shared_task(name="kehu.core.purge_finished_jobs")
def purge_finished_jobs(days: int = 90, stale_hours: int = 12) -> int:
    """Daily: forget finished jobs after ``days``; a job still "running" after ``stale_hours`` lost
    its worker (a crash or a restart) and is marked failed so nobody waits for it."""
    now = timezone.now()
    Job.objects.filter(status=Job.Status.RUNNING, started_at__lt=now - timedelta(hours=stale_hours)).update(
        status=Job.Status.FAILED,
        finished_at=now,
        message=gettext("The worker stopped while running this job."),
    )
    deleted, _ = Job.objects.filter(finished_at__lt=now - timedelta(days=days)).delete()
    return deleted


@shared_task(name="kehu.core.flush_search_indexes")
def flush_search_indexes() -> int:
    """Nightly: merge what the day added to the text-search indexes (kehu.core.maintenance)."""
    from kehu.core.maintenance import flush_search_indexes as flush

    return flush()
