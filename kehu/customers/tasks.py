from __future__ import annotations

from celery import shared_task

from . import reminders, services


@shared_task(name="kehu.customers.return_to_pool")
def return_to_pool() -> int:
    return services.return_inactive_to_pool()


@shared_task(name="kehu.customers.open_churn_cases")
def open_churn_cases() -> int:
    return services.open_churn_cases()


@shared_task(name="kehu.customers.daily_digest")
def daily_digest() -> int:
    return reminders.send_daily_digests()
