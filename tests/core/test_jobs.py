import os
import time

import pytest
from django.urls import reverse

from kehu.core import jobs
from kehu.core.models import Job
from tests.testapp.models import Gadget


@pytest.fixture
def gadgets(demo):
    for i in range(3):
        Gadget.objects.create(name=f"g{i}", owner=demo["manager"])


def test_a_job_runs_and_records_progress_and_result(demo, gadgets, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.enqueue("testapp.count_gadgets", user=demo["manager"], label="Count")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (job.done, job.total, job.percent) == (3, 3, 100)
    assert job.result == {"summary": "3 gadgets", "count": 3}


def test_a_failing_job_is_marked_failed_with_the_reason(demo, gadgets, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.enqueue(
            "testapp.count_gadgets", user=demo["manager"], label="Count", params={"fail": True}
        )
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "asked to fail" in job.message


def test_a_job_runs_once_even_if_delivered_twice(demo, gadgets):
    job = Job.objects.create(name="testapp.count_gadgets", label="x", created_by=demo["manager"])
    assert jobs.execute(str(job.pk)).status == Job.Status.SUCCEEDED
    assert jobs.execute(str(job.pk)) is None


def test_job_page_shows_progress_and_is_scoped_to_its_owner(demo, client_for):
    job = Job.objects.create(
        name="testapp.count_gadgets",
        label="导入客户",
        created_by=demo["manager"],
        status=Job.Status.RUNNING,
        done=40,
        total=100,
    )
    page = client_for("manager").get(reverse("core:job_detail", args=[job.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "40 / 100" in html and 'hx-trigger="every 1s"' in html
    fragment = client_for("manager").get(reverse("core:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"40%" in fragment.content
    assert client_for("manager2").get(reverse("core:job_detail", args=[job.pk])).status_code == 404
    assert client_for("admin").get(reverse("core:job_detail", args=[job.pk])).status_code == 200


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_job_runs_on_a_celery_worker_through_redis(settings):
    """Enqueue → Redis → a real Celery worker → the job row, as with REDIS_URL in production."""
    url = os.environ.get("KEHU_TEST_REDIS_URL")
    if not url:
        pytest.skip("set KEHU_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run jobs through Redis")
    from celery.contrib.testing.worker import start_worker

    from kehu.accounts.demo import load
    from kehu.accounts.models import User
    from kehu.celery import app

    load()
    manager = User.objects.get(username="manager")
    for i in range(5):
        Gadget.objects.create(name=f"g{i}", owner=manager)
    keys = ("broker_url", "task_always_eager", "broker_transport_options", "worker_enable_remote_control")
    old = {k: app.conf.get(k) for k in keys}

    def reset_connections():
        # Producers made earlier in this process still point at the embedded queue.
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        from kombu import pools

        pools.reset()  # kombu's process-wide producer pools still hold the closed connections

    app.conf.update(
        broker_url=url,
        task_always_eager=False,
        broker_transport_options={},
        worker_enable_remote_control=False,
    )
    reset_connections()
    try:
        import redis

        redis.Redis.from_url(url).delete("celery")
        with start_worker(
            app, perform_ping_check=False, pool="solo", loglevel="WARNING", shutdown_timeout=10
        ):
            job = jobs.enqueue("testapp.count_gadgets", user=manager, label="Count through Redis")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                job.refresh_from_db()
                if job.finished:
                    break
                time.sleep(0.1)
    finally:
        app.conf.update(old)
        reset_connections()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["count"] == 5


def test_stale_running_jobs_are_failed_and_old_ones_forgotten(demo):
    from datetime import timedelta

    from django.utils import timezone

    from kehu.core.tasks import purge_finished_jobs

    now = timezone.now()
    stale = Job.objects.create(
        name="x", label="stale", status=Job.Status.RUNNING, started_at=now - timedelta(days=1)
    )
    fresh = Job.objects.create(name="x", label="fresh", status=Job.Status.RUNNING, started_at=now)
    old = Job.objects.create(
        name="x", label="old", status=Job.Status.SUCCEEDED, finished_at=now - timedelta(days=100)
    )
    assert purge_finished_jobs() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Job.Status.FAILED and "worker stopped" in stale.message
    assert fresh.status == Job.Status.RUNNING
    assert not Job.objects.filter(pk=old.pk).exists()
