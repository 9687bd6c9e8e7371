from __future__ import annotations

from celery import shared_task


@shared_task(name="kehu.inventory.safety_digest")
def safety_digest() -> int:
    from .selectors import send_safety_digests

    return send_safety_digests()


@shared_task(name="kehu.inventory.close_month")
def close_month() -> int:
    """On the 1st: close the month that has just ended (月结)."""
    from django.utils import timezone

    from .services import close_period, previous_month

    today = timezone.localdate()
    return close_period(*previous_month(today.year, today.month))
