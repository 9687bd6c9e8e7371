"""kehu backup / kehu restore: a full round trip, and every way a restore must refuse while leaving the
database exactly as it was.  Restore flushes tables, so these tests run outside a test transaction."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError

from kehu.accounts.models import Department, Role, User
from kehu.core import services
from kehu.core.backup import BackupError, create_backup, read_manifest, restore_backup
from kehu.core.models import DictEntry, NumberingRule
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db(transaction=True)

MEDIA_BYTES = bytes(range(256)) * 40 + "合同扫描件".encode()


def table_counts() -> dict[str, int]:
    """Rows in every table Django manages, many-to-many tables included."""
    return {
        m._meta.label: m._base_manager.count()
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    }


def values() -> dict:
    """A few concrete values the restore must bring back exactly."""
    users = {u.username: u for u in User.objects.all()}
    return {
        "password": users["admin"].password,
        "phone": users["manager"].phone,
        "manager_of": {u.username: u.manager.username if u.manager else None for u in users.values()},
        "roles": {u.username: sorted(r.code for r in u.roles.all()) for u in users.values()},
        "parents": {d.code: d.parent.code if d.parent else None for d in Department.objects.all()},
        "heads": {d.code: d.head_id for d in Department.objects.all()},
        "role_rights": {r.code: sorted(r.rights.values_list("code", flat=True)) for r in Role.objects.all()},
        "gold": DictEntry.objects.filter(code="gold").values_list("pk", "label_zh", "label_en").first(),
        "gadget_level": Gadget.objects.values_list("name", "level__code", "owner__username").first(),
        "audit": list(
            LogEntry.objects.order_by("pk").values_list(
                "pk",
                "action",
                "content_type__model",
                "object_pk",
                "object_repr",
                "changes",
                "actor_id",
                "timestamp",
            )
        ),
        "pattern": NumberingRule.objects.get(doc_type="sales_order").pattern,
    }


@pytest.fixture
def media_file(settings) -> Path:
    path = Path(settings.MEDIA_ROOT) / "attachments" / "2026" / "合同.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(MEDIA_BYTES)
    return path


@pytest.fixture
def populated(media_file):
    """The demo company, plus a dictionary entry, changes that leave audit entries, an uploaded file."""
    from kehu.accounts.demo import load

    load()
    admin = User.objects.get(username="admin")
    manager = User.objects.get(username="manager")
    with set_actor(admin):
        gold = services.save_dict_entry(
            DictEntry(type="customer_level", code="gold", label_zh="金牌客户", label_en="Gold"), by=admin
        )
        gold.label_en = "Gold customer"
        services.save_dict_entry(gold, by=admin)
        services.update_numbering_rule(
            NumberingRule.objects.get(doc_type="sales_order"), pattern="XS{yyyyMM}{seq:5}", by=admin
        )
        manager.phone = "13912345678"
        manager.save()
        manager.roles.add(Role.objects.get(code="supervisor"))
    Gadget.objects.create(name="扫描枪", owner=manager, level=gold)
    assert LogEntry.objects.filter(content_type__model="dictentry").count() == 2
    return media_file


@pytest.fixture
def backup_file(populated, tmp_path) -> Path:
    return create_backup(tmp_path / "backup.zip")


def test_round_trip_through_the_commands(populated, tmp_path, settings):
    before_counts, before = table_counts(), values()
    out = io.StringIO()
    call_command("backup", str(tmp_path / "kehu.zip"), stdout=out)
    path = tmp_path / "kehu.zip"
    assert f"Backup written to {path}" in out.getvalue()
    assert "accounts.User " in out.getvalue()

    manifest = read_manifest(path)
    assert (manifest["format"], manifest["format_version"]) == ("kehu-backup", 1)
    assert manifest["kehu_version"] == settings.KEHU_VERSION
    assert "0001_initial" in manifest["migrations"]["accounts"]
    assert manifest["counts"]["accounts.User"] == 8
    assert manifest["counts"]["accounts.User_roles"] == before_counts["accounts.User_roles"]
    assert manifest["media"] == [
        {
            "path": "attachments/2026/合同.pdf",
            "size": len(MEDIA_BYTES),
            "sha256": hashlib.sha256(MEDIA_BYTES).hexdigest(),
        }
    ]
    with zipfile.ZipFile(path) as zf:
        assert zf.read("media/attachments/2026/合同.pdf") == MEDIA_BYTES
        assert json.loads(zf.read("data.json"))  # plain dumpdata JSON, loadable by loaddata as well

    # A new, migrated, empty database: flush runs post_migrate, which recreates roles, rights, content
    # types and numbering rules (with their own ids), but there are no users.
    call_command("flush", interactive=False, verbosity=0)
    populated.unlink()
    assert not User.objects.exists() and Role.objects.exists()

    out = io.StringIO()
    call_command("restore", str(path), stdout=out)
    assert f"from {path}" in out.getvalue()

    assert table_counts() == before_counts  # no extra audit entries from the load, nothing missing
    assert values() == before
    assert populated.read_bytes() == MEDIA_BYTES
    assert not [p for p in Path(settings.MEDIA_ROOT).iterdir() if p.name.startswith(".kehu-restore-")]

    # The restored database works: passwords, fresh ids, audit entries with the right content type.
    admin = User.objects.get(username="admin")
    assert admin.check_password("kehu-demo")
    with set_actor(admin):
        entry = services.save_dict_entry(
            DictEntry(type="customer_level", code="silver", label_zh="银牌", label_en="Silver"), by=admin
        )
    assert entry.pk > before["gold"][0]
    new_user = User.objects.create_user("newcomer", password="s3cret-pass-1")
    assert new_user.pk > max(u.pk for u in User.objects.exclude(pk=new_user.pk))
    log = LogEntry.objects.get_for_object(entry).get()
    assert log.content_type == ContentType.objects.get(app_label="core", model="dictentry")
    assert log.pk > max(e[0] for e in before["audit"])


def test_backup_without_a_file_name_goes_to_the_data_folder(populated, tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    out = io.StringIO()
    call_command("backup", stdout=out)
    [path] = (tmp_path / "data" / "backups").iterdir()
    assert path.name.startswith("kehu-backup-") and path.suffix == ".zip"
    assert str(path) in out.getvalue()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".partial")]


def test_restore_refuses_a_database_with_users_and_force_replaces_everything(backup_file, media_file):
    with set_actor(User.objects.get(username="admin")):
        DictEntry.objects.create(type="region", code="mars", label_zh="火星", label_en="Mars")
        User.objects.create_user("intruder", password="s3cret-pass-1")
    media_file.write_bytes(b"changed after the backup")
    before_counts, before = table_counts(), values()

    with pytest.raises(CommandError, match=r"not empty: it has 9 user\(s\).*--force"):
        call_command("restore", str(backup_file))
    assert table_counts() == before_counts and values() == before
    assert media_file.read_bytes() == b"changed after the backup"

    result = restore_backup(backup_file, force=True)
    assert result["replaced_users"] == 9
    manifest = read_manifest(backup_file)
    assert {k: v for k, v in table_counts().items() if k in manifest["counts"]} == manifest["counts"]
    assert not User.objects.filter(username="intruder").exists()
    assert not DictEntry.objects.filter(code="mars").exists()
    assert media_file.read_bytes() == MEDIA_BYTES


# --- damaged and foreign files: a clear error, and the database exactly as it was ---------------------


def rewrite(src: Path, dst: Path, *, manifest=None, data=None, members=None, fix_checksum=True) -> Path:
    """Copy a backup, changing the manifest (a function of the dict), data.json (a function of its
    lines) or other members ({name: bytes or None to drop}); recompute data.json's checksum."""
    members = members or {}
    with zipfile.ZipFile(src) as zin:
        content = {name: zin.read(name) for name in zin.namelist()}
    if data is not None:
        content["data.json"] = "".join(data(content["data.json"].decode().splitlines(True))).encode()
    meta = json.loads(content["manifest.json"])
    if fix_checksum:
        meta["data"].update(
            size=len(content["data.json"]), sha256=hashlib.sha256(content["data.json"]).hexdigest()
        )
    if manifest is not None:
        manifest(meta)
    content["manifest.json"] = json.dumps(meta).encode()
    for name, value in members.items():
        if value is None:
            content.pop(name, None)
        else:
            content[name] = value
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, value in content.items():
            zout.writestr(name, value)
    return dst


def change_object(model: str, change, *, where=lambda fields: True):
    """A data.json editor: apply ``change`` to the fields of the first object of ``model``."""

    def edit(lines):
        for i, line in enumerate(lines):
            if f'"model": "{model}"' in line:
                comma = line.rstrip().endswith(",")
                obj = json.loads(line.rstrip().rstrip(","))
                if where(obj["fields"]):
                    change(obj)
                    lines[i] = json.dumps(obj, ensure_ascii=False) + ("," if comma else "") + "\n"
                    return lines
        raise AssertionError(f"no {model} in data.json")

    return edit


def truncated(src, dst):
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return dst


def not_a_zip(src, dst):
    dst.write_text("name,phone\n张伟,13800000001\n")
    return dst


def zip_without_manifest(src, dst):
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("report.xlsx", b"PK not really")
    return dst


BROKEN = {
    "truncated": (truncated, "not a Kehu backup, or it is damaged"),
    "not a zip": (not_a_zip, "cannot be read as a zip file"),
    "zip without manifest": (zip_without_manifest, "not a Kehu backup: it has no manifest.json"),
    "foreign manifest": (
        lambda s, d: rewrite(s, d, manifest=lambda m: m.update(format="other-backup")),
        "not a Kehu backup: its manifest",
    ),
    "manifest not JSON": (
        lambda s, d: rewrite(s, d, members={"manifest.json": b"{not json"}),
        r"damaged \(manifest.json\)",
    ),
    "manifest incomplete": (
        lambda s, d: rewrite(s, d, manifest=lambda m: m.pop("counts")),
        "missing or invalid: counts",
    ),
    "future format": (
        lambda s, d: rewrite(s, d, manifest=lambda m: m.update(format_version=99)),
        "format version 99",
    ),
    "wrong migrations": (
        lambda s, d: rewrite(s, d, manifest=lambda m: m["migrations"]["accounts"].append("0099_future")),
        r"differ in app\(s\) accounts.*0099_future, not applied in this database.*kehu migrate",
    ),
    "missing migrations": (
        lambda s, d: rewrite(s, d, manifest=lambda m: m["migrations"].pop("core")),
        r"differ in app\(s\) core.*this database has 0001_initial, 0002_seed_dictionary",
    ),
    "media checksum": (
        lambda s, d: rewrite(s, d, members={"media/attachments/2026/合同.pdf": b"tampered"}),
        r"damaged \(media/attachments/2026/合同.pdf\): its checksum does not match",
    ),
    "media missing": (
        lambda s, d: rewrite(s, d, members={"media/attachments/2026/合同.pdf": None}),
        "the file is missing",
    ),
    "media not in the manifest": (
        lambda s, d: rewrite(s, d, members={"media/../../etc/cron.d/x": b"* * * * * root true"}),
        "not listed in the manifest",
    ),
    "data.json edited, checksum not": (
        lambda s, d: rewrite(
            s,
            d,
            data=change_object("core.dictentry", lambda o: o["fields"].update(label_en="X")),
            fix_checksum=False,
        ),
        r"damaged \(data.json\): its checksum does not match",
    ),
    "data.json cut off": (
        lambda s, d: rewrite(s, d, data=lambda lines: lines[: len(lines) // 2]),
        "ends too early",
    ),
    "data.json bad JSON": (
        lambda s, d: rewrite(
            s, d, data=lambda lines: [*lines[:50], '{"model": "core.dictentry", "pk":\n', *lines[51:]]
        ),
        r"damaged \(data.json, line 51\)",
    ),
    "data.json bad field value": (
        lambda s, d: rewrite(
            s, d, data=change_object("accounts.department", lambda o: o["fields"].update(order="abc"))
        ),
        r"damaged \(data.json, line \d+\).*abc",
    ),
    "data.json unknown model": (
        lambda s, d: rewrite(
            s, d, data=change_object("core.dictentry", lambda o: o.update(model="core.nosuch"))
        ),
        "nosuch",
    ),
    "counts do not add up": (
        lambda s, d: rewrite(s, d, manifest=lambda m: m["counts"].update({"accounts.User": 7})),
        r"do not add up.*accounts.User: 8 ≠ 7",
    ),
    # These pass every check that can be made without the database, and fail while loading: the flush
    # and everything loaded before the failure must be rolled back.
    "foreign key to nothing": (
        lambda s, d: rewrite(
            s,
            d,
            data=change_object(
                "accounts.department", lambda o: o["fields"].update(parent=99999), where=lambda f: f["parent"]
            ),
        ),
        "Nothing was restored; the database is unchanged.*(99999|foreign key)",
    ),
    "check constraint": (
        lambda s, d: rewrite(
            s, d, data=change_object("core.dictentry", lambda o: o["fields"].update(code=""))
        ),
        "Nothing was restored; the database is unchanged. Loading data.json failed at line",
    ),
    "duplicate primary key": (
        # The last object (the gadget) twice, and the manifest counting it twice.
        lambda s, d: rewrite(
            s,
            d,
            data=lambda lines: [*lines[:-2], lines[-2].rstrip() + ",\n", lines[-2], lines[-1]],
            manifest=lambda m: m["counts"].update({"testapp.Gadget": 2}),
        ),
        "Nothing was restored; the database is unchanged. Loading data.json failed at line",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_damaged_or_foreign_file_changes_nothing(case, backup_file, media_file, tmp_path):
    make, message = BROKEN[case]
    bad = make(backup_file, tmp_path / "bad.zip")
    media_file.write_bytes(b"current upload")
    before_counts, before = table_counts(), values()
    # --force: only the file itself may stop the restore, which then has flushed inside its transaction.
    with pytest.raises(BackupError, match=f"(?s){message}") as caught:
        restore_backup(bad, force=True)
    assert "Traceback" not in str(caught.value)
    assert table_counts() == before_counts
    assert values() == before
    assert media_file.read_bytes() == b"current upload"


def test_the_command_turns_a_bad_file_into_a_command_error(populated, tmp_path):
    with pytest.raises(CommandError, match="it has no manifest.json"):
        call_command("restore", str(zip_without_manifest(None, tmp_path / "x.zip")))
    with pytest.raises(CommandError, match="There is no file"):
        call_command("restore", str(tmp_path / "missing.zip"))


def test_a_failed_load_into_an_empty_database_leaves_it_empty(backup_file, tmp_path):
    bad = rewrite(
        backup_file,
        tmp_path / "bad.zip",
        data=change_object("accounts.user", lambda o: o["fields"].update(department=424242)),
    )
    call_command("flush", interactive=False, verbosity=0)
    before_counts = table_counts()
    with pytest.raises(CommandError, match="Nothing was restored"):
        call_command("restore", str(bad))
    assert table_counts() == before_counts
    assert not User.objects.exists()
    # ...and the good file still restores afterwards.
    restore_backup(backup_file)
    assert User.objects.count() == 8


def test_restore_refuses_a_database_that_is_not_fully_migrated(backup_file):
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    call_command("flush", interactive=False, verbosity=0)
    recorder = MigrationRecorder(connection)
    latest = latest_migration("core")
    recorder.record_unapplied("core", latest)
    try:
        before = table_counts()
        with pytest.raises(BackupError, match=rf"not fully migrated \(pending: core.{latest}\)"):
            restore_backup(backup_file)
        assert table_counts() == before
    finally:
        recorder.record_applied("core", latest)


@pytest.mark.django_db(transaction=True)
def test_backup_of_an_unmigrated_database_is_a_clear_error(tmp_path):
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    from kehu.core.backup import BackupError, create_backup

    latest = latest_migration("core")
    MigrationRecorder(connection).record_unapplied("core", latest)
    try:
        with pytest.raises(BackupError, match="not fully migrated"):
            create_backup(tmp_path / "x.zip")
        assert not (tmp_path / "x.zip").exists()
    finally:
        from django.db.migrations.recorder import MigrationRecorder

        MigrationRecorder(connection).record_applied("core", latest)


def latest_migration(app: str) -> str:
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    return max(name for a, name in MigrationLoader(connection).graph.leaf_nodes() if a == app)
