"""Backup and restore: every record and every uploaded file in one zip (``kehu backup`` / ``kehu restore``).

The file holds

``manifest.json``
    format name and version, Kehu version, when, from which database vendor, the applied migrations
    per app, the row count of every table (many-to-many tables included), the SHA-256 of
    ``data.json`` and of every uploaded file.
``data.json``
    every row of every model as Django serialises it (``dumpdata`` format, primary keys, not natural
    keys), one object per line inside the JSON list, so that it is written and read as a stream.
    Sessions and django-axes' login-attempt tables are left out.
``media/<path>``
    every file under ``MEDIA_ROOT``.

Restore validates everything before it touches the database, then replaces the whole content of the
database in one transaction (flush, load, reset sequences, check foreign keys, compare every count
with the manifest); any failure rolls the transaction back, so the database is either the backup or
exactly what it was.  Uploaded files are written only after the database commit succeeded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from datetime import datetime, time
from itertools import islice
from pathlib import Path, PurePosixPath

import django
from auditlog.context import disable_auditlog
from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import DomainError

FORMAT = "kehu-backup"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
MANIFEST = "manifest.json"
DATA = "data.json"
MEDIA_PREFIX = "media/"
# Login sessions and django-axes' attempt/lock-out records are not business data.
EXCLUDED_APPS = frozenset({"sessions", "axes"})
# Restore extracts uploaded files into a folder like this inside MEDIA_ROOT first; backups skip it.
MEDIA_TMP_PREFIX = ".kehu-restore-"
CHUNK = 1000
_BLOCK = 1024 * 1024


class BackupError(DomainError):
    """A backup cannot be written, or a file cannot be restored.  The message says why."""

    code = "backup_error"
    status = 400
    default_message = gettext_lazy("The backup could not be written or restored.")


# --- what is backed up ------------------------------------------------------------------------


def backed_up_models(using: str = DEFAULT_DB_ALIAS) -> list:
    """The models whose rows go into data.json, in app order (the restore order does not matter:
    foreign keys are checked once, at the end of the load)."""
    found = []
    for app_config in apps.get_app_configs():
        if app_config.label in EXCLUDED_APPS:
            continue
        for model in app_config.get_models():
            meta = model._meta
            if meta.proxy or not meta.managed or not router.allow_migrate_model(using, model):
                continue
            found.append(model)
    return found


def _m2m_fields(model) -> list:
    """Many-to-many fields serialised with ``model`` (those with an automatic through table)."""
    return [
        f for f in model._meta.local_many_to_many if f.serialize and f.remote_field.through._meta.auto_created
    ]


def _counted_models(models) -> list:
    """The models plus their automatic many-to-many tables: what the manifest counts."""
    out = []
    for model in models:
        out.append(model)
        out.extend(f.remote_field.through for f in _m2m_fields(model))
    return out


def _applied_migrations(connection) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app_label, name in MigrationRecorder(connection).applied_migrations():
        applied.setdefault(app_label, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder cuts times to milliseconds; a backup keeps the microseconds."""

    def default(self, o):
        if isinstance(o, datetime | time):
            return o.isoformat()
        return super().default(o)


# --- writing ------------------------------------------------------------------------------------


def default_backup_path(folder=None) -> Path:
    folder = Path(folder) if folder is not None else Path(settings.DATA_DIR) / "backups"
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    path = folder / f"kehu-backup-{stamp}.zip"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"kehu-backup-{stamp}-{n}.zip"
    return path


@contextmanager
def _read_snapshot(connection):
    """One consistent view of the database while every table is read."""
    if connection.in_atomic_block:  # the caller's transaction decides
        yield
        return
    if connection.vendor == "sqlite":
        # Kehu opens write transactions with BEGIN IMMEDIATE, which would lock out every writer for
        # the whole backup; a deferred read transaction in WAL mode is a snapshot that does not.
        connection.ensure_connection()  # the connection sets transaction_mode when it opens
        mode = getattr(connection, "transaction_mode", None)
        connection.transaction_mode = None
        try:
            with transaction.atomic(using=connection.alias):
                yield
        finally:
            connection.transaction_mode = mode
    else:
        with transaction.atomic(using=connection.alias):
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield


class _HashingWriter:
    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.sha256.update(data)
        self.size += len(data)
        self.raw.write(data)


def _write_data(zf: zipfile.ZipFile, models, connection) -> tuple[dict[str, int], dict]:
    counts: dict[str, int] = {}
    info = zipfile.ZipInfo(DATA, date_time=timezone.localtime().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as raw:
        out = _HashingWriter(raw)
        out.write("[\n")
        first = True
        for model in models:
            m2m = _m2m_fields(model)
            qs = model._base_manager.using(connection.alias).order_by(model._meta.pk.name)
            if m2m:
                qs = qs.prefetch_related(
                    *(Prefetch(f.name, queryset=f.related_model._base_manager.only("pk")) for f in m2m)
                )
            rows = iter(qs.iterator(chunk_size=CHUNK))
            n = 0
            links = dict.fromkeys((f.name for f in m2m), 0)
            while chunk := list(islice(rows, CHUNK)):
                lines = []
                for obj in serializers.serialize("python", chunk):
                    for name in links:
                        links[name] += len(obj["fields"].get(name, ()))
                    lines.append(json.dumps(obj, cls=_Encoder, ensure_ascii=False))
                out.write(("" if first else ",\n") + ",\n".join(lines))
                first = False
                n += len(chunk)
            counts[model._meta.label] = n
            for f in m2m:
                counts[f.remote_field.through._meta.label] = links[f.name]
        out.write("\n]\n")
    return counts, {"file": DATA, "size": out.size, "sha256": out.sha256.hexdigest()}


def _media_files(root: Path, skip: set[Path]):
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if not d.startswith(MEDIA_TMP_PREFIX)]
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.resolve() in skip or not path.is_file():
                continue
            yield path, path.relative_to(root).as_posix()


def _write_media(zf: zipfile.ZipFile, skip: set[Path]) -> list[dict]:
    entries = []
    for path, rel in _media_files(Path(settings.MEDIA_ROOT), skip):
        info = zipfile.ZipInfo.from_file(path, MEDIA_PREFIX + rel)
        info.compress_type = zipfile.ZIP_DEFLATED
        sha, size = hashlib.sha256(), 0
        with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
            while block := src.read(_BLOCK):
                sha.update(block)
                size += len(block)
                dst.write(block)
        entries.append({"path": rel, "size": size, "sha256": sha.hexdigest()})
    return entries


def create_backup(path=None, *, using: str = DEFAULT_DB_ALIAS) -> Path:
    """Write every record and uploaded file to one zip and return its path.

    ``path`` may be a file name, an existing folder (the default name is used inside it) or None
    (``DATA_DIR/backups/kehu-backup-YYYYmmdd-HHMMSS.zip``).  The file appears only when complete.
    """
    if path is None:
        target = default_backup_path()
    else:
        target = Path(path).expanduser()
        if target.is_dir():
            target = default_backup_path(target)
    target = target.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(
            _("Cannot create the folder %(folder)s: %(error)s") % {"folder": target.parent, "error": exc},
            code="backup_failed",
        )
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    connection = connections[using]
    try:
        _check_database_ready(connection)
    except BackupError as exc:
        raise BackupError(
            _("Nothing to back up: the database is not fully migrated; run “kehu migrate” first."),
            code="not_migrated",
        ) from exc
    models = backed_up_models(using)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            with _read_snapshot(connection):
                migrations = _applied_migrations(connection)
                counts, data = _write_data(zf, models, connection)
            media = _write_media(zf, skip={target, partial.resolve()})
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "kehu_version": settings.KEHU_VERSION,
                "django_version": django.get_version(),
                "created_at": timezone.now().isoformat(),
                "database": {"vendor": connection.vendor},
                "excluded_apps": sorted(EXCLUDED_APPS),
                "migrations": migrations,
                "counts": counts,
                "data": data,
                "media": media,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(
            _("Writing the backup %(path)s failed: %(error)s") % {"path": target, "error": exc},
            code="backup_failed",
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


# --- reading and validating ---------------------------------------------------------------------

# What reading a damaged zip member can raise.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def _damaged(path, what, error) -> BackupError:
    return BackupError(
        _("The backup %(path)s is damaged (%(what)s): %(error)s")
        % {"path": path, "what": what, "error": error},
        code="backup_damaged",
    )


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise BackupError(_("There is no file %(path)s.") % {"path": path}, code="backup_not_found")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BackupError(
            _("%(path)s is not a Kehu backup, or it is damaged: it cannot be read as a zip file (%(error)s).")
            % {"path": path, "error": exc},
            code="not_a_backup",
        )


def _read_manifest(zf: zipfile.ZipFile, path: Path) -> dict:
    try:
        raw = zf.read(MANIFEST)
    except KeyError:
        raise BackupError(
            _("%(path)s is not a Kehu backup: it has no %(manifest)s.")
            % {"path": path, "manifest": MANIFEST},
            code="not_a_backup",
        )
    except _READ_ERRORS as exc:
        raise _damaged(path, MANIFEST, exc)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise _damaged(path, MANIFEST, exc)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            _("%(path)s is not a Kehu backup: its manifest is not of the format “%(format)s”.")
            % {"path": path, "format": FORMAT},
            code="not_a_backup",
        )
    version = manifest.get("format_version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise BackupError(
            _(
                "%(path)s was written in backup format version %(version)s, which Kehu %(kehu)s cannot "
                "read (it reads version %(supported)s). Use the Kehu version that wrote it (%(writer)s) "
                "or a newer one."
            )
            % {
                "path": path,
                "version": version,
                "kehu": settings.KEHU_VERSION,
                "supported": ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS)),
                "writer": manifest.get("kehu_version", "?"),
            },
            code="unsupported_version",
        )
    problems = []
    if not isinstance(manifest.get("migrations"), dict) or not all(
        isinstance(v, list) for v in manifest["migrations"].values()
    ):
        problems.append("migrations")
    if not isinstance(manifest.get("counts"), dict) or not all(
        isinstance(v, int) and v >= 0 for v in manifest["counts"].values()
    ):
        problems.append("counts")
    data = manifest.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("sha256"), str):
        problems.append("data")
    media = manifest.get("media")
    if not isinstance(media, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("path"), str)
        and isinstance(m.get("sha256"), str)
        and isinstance(m.get("size"), int)
        for m in media
    ):
        problems.append("media")
    if problems:
        raise _damaged(path, MANIFEST, _("missing or invalid: %(keys)s") % {"keys": ", ".join(problems)})
    return manifest


def read_manifest(path) -> dict:
    """The manifest of a backup file, checked for format and version."""
    path = Path(path)
    with _open_zip(path) as zf:
        return _read_manifest(zf, path)


def _check_database_ready(connection) -> None:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        raise BackupError(
            _("The database is not set up: run “kehu migrate” first, then restore."), code="not_migrated"
        )
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in pending[:5])
        raise BackupError(
            _("The database is not fully migrated (pending: %(names)s): run “kehu migrate” first.")
            % {"names": names},
            code="not_migrated",
        )


def _check_migrations(manifest: dict, connection) -> None:
    theirs = {app: set(names) for app, names in manifest["migrations"].items()}
    ours = {app: set(names) for app, names in _applied_migrations(connection).items()}
    lines = []

    def some(names):
        names = sorted(names)
        return ", ".join(names[:3]) + (_(" and %(n)s more") % {"n": len(names) - 3} if len(names) > 3 else "")

    for app in sorted(set(theirs) | set(ours)):
        only_backup = theirs.get(app, set()) - ours.get(app, set())
        only_here = ours.get(app, set()) - theirs.get(app, set())
        if only_backup:
            lines.append(
                _("%(app)s: the backup has %(names)s, not applied in this database")
                % {"app": app, "names": some(only_backup)}
            )
        if only_here:
            lines.append(
                _("%(app)s: this database has %(names)s, which the backup lacks")
                % {"app": app, "names": some(only_here)}
            )
    if lines:
        raise BackupError(
            _(
                "The backup does not fit this database: the applied migrations differ in app(s) %(apps)s.\n"
                "%(details)s\n"
                "The backup was written by Kehu %(theirs)s; this is Kehu %(ours)s. Restore into the same "
                "version: if the backup is newer, upgrade Kehu and run “kehu migrate” first; if it is "
                "older, restore it with the older version and upgrade afterwards."
            )
            % {
                "apps": ", ".join(sorted(a for a in set(theirs) | set(ours) if theirs.get(a) != ours.get(a))),
                "details": "\n".join(f"  - {line}" for line in lines),
                "theirs": manifest.get("kehu_version", "?"),
                "ours": settings.KEHU_VERSION,
            },
            code="migrations_differ",
            details={"lines": lines},
        )


def _user_count(using: str) -> int:
    from django.contrib.auth import get_user_model

    return get_user_model()._base_manager.using(using).count()


def _refuse_if_not_empty(using: str, force: bool) -> int:
    users = _user_count(using)
    if users and not force:
        raise BackupError(
            _(
                "The database is not empty: it has %(n)s user(s). Restore only into a new, migrated "
                "database, or add --force to replace everything in this one with the backup."
            )
            % {"n": users},
            code="database_not_empty",
        )
    return users


def _safe_media_path(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool(
        rel
        and "\\" not in rel
        and not p.is_absolute()
        and ".." not in p.parts
        and "." not in p.parts
        and not p.parts[0].startswith(MEDIA_TMP_PREFIX)
        and p.as_posix() == rel
    )


def _check_media(zf: zipfile.ZipFile, manifest: dict, path: Path) -> None:
    listed = {}
    for entry in manifest["media"]:
        if not _safe_media_path(entry["path"]) or entry["path"] in listed:
            raise _damaged(path, MANIFEST, _("bad media path %(p)r") % {"p": entry["path"]})
        listed[entry["path"]] = entry
    members = {n[len(MEDIA_PREFIX) :] for n in zf.namelist() if n.startswith(MEDIA_PREFIX) and n[-1] != "/"}
    extra = sorted(members - set(listed))
    if extra:
        raise _damaged(path, MEDIA_PREFIX + extra[0], _("the file is not listed in the manifest"))
    for rel, entry in listed.items():
        name = MEDIA_PREFIX + rel
        if rel not in members:
            raise _damaged(path, name, _("the file is missing"))
        sha, size = hashlib.sha256(), 0
        try:
            with zf.open(name) as src:
                while block := src.read(_BLOCK):
                    sha.update(block)
                    size += len(block)
        except _READ_ERRORS as exc:
            raise _damaged(path, name, exc)
        if size != entry["size"] or sha.hexdigest() != entry["sha256"]:
            raise _damaged(path, name, _("its checksum does not match the manifest"))


class _DataFormatError(ValueError):
    pass


class _DataReader:
    """Reads data.json as written by ``_write_data``: ``[``, one object per line, ``]``.  Remembers
    the line it is at (for error messages) and, optionally, hashes what it read."""

    def __init__(self, binary):
        self.binary = binary
        self.line = 0

    def __iter__(self):
        text = io.TextIOWrapper(self.binary, encoding="utf-8", newline="\n")
        self.line = 1
        if text.readline().strip() != "[":
            raise _DataFormatError(_("it does not start with “[” on a line of its own"))
        closed = False
        for self.line, raw in enumerate(text, start=2):
            line = raw.strip()
            if not line:
                continue
            if line == "]":
                closed = True
                break
            obj = json.loads(line[:-1] if line.endswith(",") else line)
            if not isinstance(obj, dict):
                raise _DataFormatError(_("a line holds something other than one object"))
            yield obj
        if not closed:
            raise _DataFormatError(_("it ends too early (the file is cut off)"))
        if text.read().strip():
            raise _DataFormatError(_("there is more after the closing “]”"))


class _HashingReader(io.RawIOBase):
    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.size += n
        return n


def _deserialize(reader: _DataReader, using: str):
    return serializers.deserialize("python", reader, using=using, handle_forward_references=True)


def _check_data(zf: zipfile.ZipFile, manifest: dict, path: Path, using: str) -> None:
    """Read data.json once without touching the database: checksum, JSON, every field value
    converts, and the objects per model add up to the manifest's counts."""
    if DATA not in zf.namelist():
        raise _damaged(path, DATA, _("the file is missing"))
    by_label = {m._meta.label: m for m in _counted_models(backed_up_models(using))}
    unknown = sorted(set(manifest["counts"]) - set(by_label))
    if unknown:
        raise BackupError(
            _(
                "The backup holds records of %(models)s, which this Kehu installation does not have. "
                "Restore it with the Kehu version and modules that wrote it."
            )
            % {"models": ", ".join(unknown)},
            code="migrations_differ",
        )
    counts: dict[str, int] = {}
    with zf.open(DATA) as member:
        hashing = _HashingReader(member)
        reader = _DataReader(io.BufferedReader(hashing, _BLOCK))
        try:
            for item in _deserialize(reader, using):
                model = type(item.object)
                counts[model._meta.label] = counts.get(model._meta.label, 0) + 1
                for name, values in (item.m2m_data or {}).items():
                    through = model._meta.get_field(name).remote_field.through._meta.label
                    counts[through] = counts.get(through, 0) + len(values)
        except (ValueError, DeserializationError, *_READ_ERRORS) as exc:
            raise _damaged(path, _("%(data)s, line %(line)s") % {"data": DATA, "line": reader.line}, exc)
    expected = manifest["data"]
    if hashing.sha256.hexdigest() != expected["sha256"] or hashing.size != expected.get("size", hashing.size):
        raise _damaged(path, DATA, _("its checksum does not match the manifest"))
    mismatched = [
        f"{label}: {counts.get(label, 0)} ≠ {manifest['counts'].get(label, 0)}"
        for label in sorted(set(counts) | set(manifest["counts"]))
        if counts.get(label, 0) != manifest["counts"].get(label, 0)
    ]
    if mismatched:
        raise _damaged(
            path,
            DATA,
            _("the records do not add up to the manifest's counts (%(list)s)")
            % {"list": "; ".join(mismatched)},
        )


# --- restoring ----------------------------------------------------------------------------------


def _load(zf: zipfile.ZipFile, using: str) -> None:
    with zf.open(DATA) as member:
        reader = _DataReader(member)
        deferred = []
        try:
            for item in _deserialize(reader, using):
                # A raw save, as loaddata does: no save() overrides, no parents; signals see raw=True.
                item.save(using=using, force_insert=True)
                if item.deferred_fields:
                    deferred.append(item)
            for item in deferred:
                item.save_deferred_fields(using=using)
        except Exception as exc:
            raise BackupError(
                _("Loading %(data)s failed at line %(line)s: %(error)s")
                % {"data": DATA, "line": reader.line, "error": exc},
                code="restore_failed",
            ) from exc


def _tables(using: str) -> list:
    """Every model with a table of its own that Django manages (many-to-many tables included)."""
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and router.allow_migrate_model(using, m)
    ]


def _reset_sequences(connection, models) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _verify_counts(manifest: dict, models, using: str) -> dict[str, int]:
    counts = {m._meta.label: m._base_manager.using(using).count() for m in models}
    wrong = [
        f"{label}: {counts.get(label, 0)} ≠ {expected}"
        for label, expected in sorted(manifest["counts"].items())
        if counts.get(label, 0) != expected
    ]
    if wrong:
        raise BackupError(
            _("After loading, the row counts differ from the manifest (%(list)s).")
            % {"list": "; ".join(wrong)},
            code="restore_failed",
        )
    return counts


def _restore_media(zf: zipfile.ZipFile, manifest: dict, path: Path) -> int:
    """Extract into a temporary folder inside MEDIA_ROOT (same file system), then move into place.
    Files in MEDIA_ROOT that the backup does not have are left alone."""
    if not manifest["media"]:
        return 0
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=MEDIA_TMP_PREFIX, dir=root))
    try:
        for entry in manifest["media"]:
            dest = staging / entry["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            sha = hashlib.sha256()
            with zf.open(MEDIA_PREFIX + entry["path"]) as src, dest.open("wb") as out:
                while block := src.read(_BLOCK):
                    sha.update(block)
                    out.write(block)
            if sha.hexdigest() != entry["sha256"]:
                raise _damaged(
                    path, MEDIA_PREFIX + entry["path"], _("its checksum does not match the manifest")
                )
        for entry in manifest["media"]:
            dest = root / entry["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / entry["path"], dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(manifest["media"])


def restore_backup(path, *, force: bool = False, using: str = DEFAULT_DB_ALIAS) -> dict:
    """Bring a backup back into an empty, migrated database (or, with ``force``, replace everything).

    Raises BackupError, with the database unchanged, when the file is not a Kehu backup, is damaged,
    does not fit the database's migrations, the database has users (without ``force``), or loading
    fails.  Returns a summary: path, created_at, kehu_version, counts, rows, media_files, replaced_users.
    """
    path = Path(path).expanduser()
    connection = connections[using]
    with _open_zip(path) as zf:
        # 1. Validate everything, read-only.
        manifest = _read_manifest(zf, path)
        _check_database_ready(connection)
        _check_migrations(manifest, connection)
        _refuse_if_not_empty(using, force)
        _check_media(zf, manifest, path)
        _check_data(zf, manifest, path, using)

        # 2. Replace the database content in one transaction; any error rolls all of it back.
        models = _counted_models(backed_up_models(using))
        from django.contrib.contenttypes.models import ContentType

        try:
            with transaction.atomic(using=using), disable_auditlog():
                replaced_users = _refuse_if_not_empty(using, force)  # again, now inside the transaction
                call_command(
                    "flush", interactive=False, inhibit_post_migrate=True, verbosity=0, database=using
                )
                _load(zf, using)
                _reset_sequences(connection, _tables(using))
                try:
                    connection.check_constraints()
                except Exception as exc:
                    raise BackupError(
                        _("The records in %(data)s do not fit together: %(error)s")
                        % {"data": DATA, "error": exc},
                        code="restore_failed",
                    ) from exc
                counts = _verify_counts(manifest, models, using)
        except BackupError as exc:
            exc.message = _("Nothing was restored; the database is unchanged. %(reason)s") % {
                "reason": exc.message
            }
            exc.args = (str(exc.message),)
            raise
        except Exception as exc:
            raise BackupError(
                _("Nothing was restored; the database is unchanged. The restore failed: %(error)s")
                % {"error": exc},
                code="restore_failed",
            ) from exc
        finally:
            # Content type ids now come from the backup (or were rolled back): forget cached ones.
            ContentType.objects.clear_cache()

        # 3. Uploaded files, only now that the database holds the backup.
        try:
            media_files = _restore_media(zf, manifest, path)
        except (OSError, BackupError, *_READ_ERRORS) as exc:
            raise BackupError(
                _(
                    "The database was restored, but writing the uploaded files into %(root)s failed: "
                    "%(error)s. Fix the cause and run the restore again with --force."
                )
                % {"root": settings.MEDIA_ROOT, "error": exc},
                code="media_failed",
            ) from exc
    return {
        "path": str(path),
        "created_at": manifest.get("created_at"),
        "kehu_version": manifest.get("kehu_version"),
        "vendor": (manifest.get("database") or {}).get("vendor"),
        "counts": counts,
        "rows": sum(counts[label] for label in manifest["counts"]),
        "media_files": media_files,
        "replaced_users": replaced_users,
    }
