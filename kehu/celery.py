"""The Celery application.  Embedded default: a file-system queue in the data folder; with
REDIS_URL: Redis.  ``kehu worker`` runs a worker with the scheduler (beat) embedded."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")

app = Celery("kehu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _configure(sender, **kwargs):
    from django.conf import settings

    from kehu.core.registry import registry

    sender.conf.beat_schedule = dict(registry.periodic)
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        # The file-system transport has no broadcast channel: no remote control, mingle or gossip.
        sender.conf.worker_enable_remote_control = False
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                os.makedirs(folder, exist_ok=True)
