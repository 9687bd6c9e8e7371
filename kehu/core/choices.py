"""Choice lists that list pages show on every request (dictionary entries, tags, colleagues), kept in
the cache.

A list page's filter form offers the levels, regions and industries, the tags and the user's
colleagues; the assign form offers the sales people.  Read from the database they are six queries and
a few hundred objects on every page, for lists that change a few times a year.  They are cached as
plain ``(value, label)`` pairs under the statement that reads them (so a user's scope, which is in
that statement, keys its own entry), the language (dictionary labels have two) and a version that any
change to the models behind them renews (:func:`watch`).  The version lives where every process of
the installation sees it: in Redis when there is one, else in a stamp file in the data folder (the
embedded installation is one machine, its web workers separate processes).  Only what the page
*shows* comes from here: forms still validate a submitted value against the database."""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import get_language

VERSION_KEY = "kehu:choices:version"
CHOICES_SECONDS = 60


def _stamp_file() -> Path:
    return Path(settings.DATA_DIR) / "choices.stamp"


def _version() -> str:
    if not settings.REDIS_URL:
        try:
            st = _stamp_file().stat()
        except FileNotFoundError:
            renew()
            st = _stamp_file().stat()
        return f"{st.st_ino}-{st.st_mtime_ns}"
    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        cache.set(VERSION_KEY, version, None)
    return version


def renew(**kwargs) -> None:
    """Forget every cached choice list (a signal receiver, hence ``**kwargs``)."""
    if settings.REDIS_URL:
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)
        return
    path = _stamp_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".choices-")
    with os.fdopen(fd, "w") as fh:
        fh.write(uuid.uuid4().hex)
    os.replace(tmp, path)  # a new file: a new inode and time for every process


def cached(name: str, key, build):
    """``build()``'s value, cached under ``name``, ``key`` and the version: for other values derived
    from the watched models only (a supervisor's department tree, say)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    full = f"kehu:{name}:{_version()}:{digest}"
    value = cache.get(full)
    if value is None:
        value = build()
        cache.set(full, value, CHOICES_SECONDS)
    return value


def cached_choices(queryset, build) -> list[tuple[str, str]]:
    """``build()``'s ``(value, label)`` pairs for ``queryset``, from the cache when the statement,
    the language and the version are the same."""
    sql, params = queryset.query.sql_with_params()
    text = repr((queryset.model._meta.label, sql, params, get_language()))
    key = f"kehu:choices:{_version()}:{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"
    choices = cache.get(key)
    if choices is None:
        choices = [(str(value), str(label)) for value, label in build()]
        cache.set(key, choices, CHOICES_SECONDS)
    return choices


def watch(*models, unless_only: tuple[str, ...] = ()) -> None:
    """Renew the version whenever one of ``models`` is saved or deleted, or a many-to-many
    ``through`` model among them changes; not for a save of ``unless_only`` fields alone (a
    user's ``last_login`` at each log-in, say)."""
    quiet = frozenset(unless_only)

    def on_save(sender, update_fields=None, **kwargs):
        if update_fields and quiet.issuperset(update_fields):
            return
        renew()

    for model in models:
        uid = f"kehu.choices.{model._meta.label}"
        post_save.connect(on_save, sender=model, dispatch_uid=uid + ".save", weak=False)
        post_delete.connect(renew, sender=model, dispatch_uid=uid + ".delete", weak=False)
        m2m_changed.connect(renew, sender=model, dispatch_uid=uid + ".m2m", weak=False)
