"""Kehu (客户): a self-hosted CRM."""

from kehu.celery import app as celery_app

__all__ = ["celery_app"]
