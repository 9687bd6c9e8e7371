from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from kehu.core import jobs
from kehu.core.models import Job


@shared_task(name="kehu.core.run_job")
def run_job(job_id: str) -> str | None:
    done = jobs.execute(job_id)
    return done.status if done else None


@shared_task(name="kehu.core.purge_finished_jobs")
def purge_finished_jobs(days: int = 90) -> int:
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Job.objects.filter(finished_at__lt=cutoff).delete()
    return deleted
