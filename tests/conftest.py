"""Shared fixtures.  The suite runs on SQLite by default; with DATABASE_URL pointing at PostgreSQL
(``make test`` does this when KEHU_TEST_DATABASE_URL is set) it runs there, and the tests marked
``postgres`` (real concurrency) run too."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KEHU_TESTING", "1")


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL for real concurrency: set KEHU_TEST_DATABASE_URL")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _media_and_mail(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.AXES_ENABLED = False
    # Tests read English messages unless they switch language themselves.
    settings.LANGUAGE_CODE = "en"
    from django.utils import translation

    translation.activate("en")
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def demo(db):
    """The demo company: departments and one user per role (password kehu-demo)."""
    from kehu.accounts.demo import load

    load()
    from kehu.accounts.models import User

    return {u.username: u for u in User.objects.all()}


@pytest.fixture
def client_for(client, demo):
    """client_for("manager") -> a Django test client logged in as that demo user."""
    from django.test import Client

    def make(username):
        c = Client()
        c.force_login(demo[username])
        return c

    return make


@pytest.fixture
def api_for(demo):
    """api_for("manager") -> a DRF APIClient authenticated with that user's token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(username):
        token, _ = Token.objects.get_or_create(user=demo[username])
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c

    return make
