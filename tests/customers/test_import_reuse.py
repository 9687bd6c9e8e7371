"""The import job reuses the dry run's outcome when nothing it depended on has changed, and checks
every row again when something has: a customer created since the dry run, a dictionary entry, an
owner, the importer's rights, the file's mapping."""

from __future__ import annotations

import csv
import io
import pickle

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.accounts.models import Role, User
from kehu.core.models import DictEntry, Job
from kehu.core.services import archive
from kehu.customers import importing, services
from kehu.customers.models import Contact, Customer, CustomerShare


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def csv_file(rows, name="customers.csv") -> SimpleUploadedFile:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return SimpleUploadedFile(name, buf.getvalue().encode("utf-8-sig"), content_type="text/csv")


def start(by, *, customers=None, contacts=None) -> importing.ImportSession:
    files = {}
    if customers is not None:
        files["customers"] = csv_file(customers)
    if contacts is not None:
        files["contacts"] = csv_file(contacts, "contacts.csv")
    return importing.ImportSession.start(user=by, files=files)


def fresh(user) -> User:
    """The user as the job loads them: from the database, nothing remembered."""
    return User.objects.get(pk=user.pk)


def kept(session) -> bool:
    return (session.folder / importing.OUTCOME_FILE).is_file()


@pytest.fixture
def checks(monkeypatch):
    """How often the rows were validated (Checker.run) and the database re-checked (recheck)."""
    counts = {"run": 0, "recheck": 0}
    run, recheck = importing.Checker.run, importing.Checker.recheck.__func__

    def counted_run(self, tables):
        counts["run"] += 1
        return run(self, tables)

    def counted_recheck(cls, by, inputs):
        counts["recheck"] += 1
        return recheck(cls, by, inputs)

    monkeypatch.setattr(importing.Checker, "run", counted_run)
    monkeypatch.setattr(importing.Checker, "recheck", classmethod(counted_recheck))
    return counts


HEAD = ["客户名称", "电话", "税号", "等级", "地区", "标签", "客户经理", "联系人", "手机"]
ROWS = [
    HEAD,
    ["北京华夏科技有限公司", "010-6552 1234", "91110000MA01ABCD1X", "重点客户", "华北", "老客户", "", "张明",
     "13800138000"],
    ["", "", "", "", "", "", "", "李红", "13900139000"],  # 3: a second contact of row 2's customer
    ["上海东方明珠科技有限公司", "021-5555 6666", "", "", "", "", "manager", "", ""],
    ["广州天成贸易有限公司", "", "91440000MA5XXXXX1Y", "", "", "", "", "", ""],
    ["", "021-1", "", "", "", "", "", "", ""],  # 6: bad (no name, a bad phone)
]  # fmt: skip


# --- reuse ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reuse", [True, False], ids=["reused", "checked-again"])
def test_the_job_writes_the_dry_runs_outcome_exactly_as_a_full_check_would(reuse, demo, checks):
    by = demo["supervisor"]
    session = start(by, customers=ROWS)
    report = session.check(by=by)
    assert (report["rows"], report["bad_rows"], report["customers"], report["contacts"]) == (5, 1, 3, 2)
    assert kept(session) and checks == {"run": 1, "recheck": 0}
    if not reuse:
        session.forget_outcome()  # as before the dry run's outcome was kept

    session = importing.ImportSession.open(session.pk)  # as the job opens it
    result = session.execute(by=fresh(by), mode=importing.VALID_ONLY)

    assert checks == ({"run": 1, "recheck": 1} if reuse else {"run": 2, "recheck": 0})
    assert result == {
        "summary": "Created 3 customers and 2 contacts, skipped 1 rows.",
        "imported": 5,
        "customers": 3,
        "contacts": 2,
        "skipped": 1,
        "errors": 1,
        "mode": "valid",
        "review_url": reverse("customers:import_review", args=[session.pk_uuid]),
        "download_url": reverse("customers:import_errors", args=[session.pk_uuid]),
    }
    assert [e[1:3] for e in session.errors()] == [[6, "电话"]]
    hx = Customer.objects.get(name="北京华夏科技有限公司")
    key = DictEntry.objects.get(type="customer_level", code="key")
    north = DictEntry.objects.get(type="region", code="north")
    assert (hx.owner, hx.created_by, hx.level_id, hx.region_id, hx.phone_key, hx.tax_number) == (
        by,
        by,
        key.pk,
        north.pk,
        "01065521234",
        "91110000MA01ABCD1X",
    )
    assert [t.name for t in hx.tags.all()] == ["老客户"]
    assert [(c.name, c.is_primary, c.mobile_key) for c in hx.contacts.order_by("pk")] == [
        ("张明", True, "13800138000"),
        ("李红", False, "13900139000"),
    ]
    assert Customer.objects.get(name="上海东方明珠科技有限公司").owner == demo["manager"]
    numbers = sorted(Customer.objects.values_list("number", flat=True))
    entry = LogEntry.objects.get(additional_data__import=session.pk)
    assert entry.actor == by and entry.changes["customers"] == ["None", "3"]
    assert entry.additional_data["customer_numbers"] == [numbers[0], numbers[-1]]
    assert not kept(session), "written: the kept outcome is removed"


def test_through_the_pages_and_the_job_the_dry_run_is_reused(
    demo, client_for, checks, django_capture_on_commit_callbacks
):
    client = client_for("manager")
    response = client.post(reverse("customers:import"), {"customers_file": csv_file(ROWS[:2])})
    session = importing.ImportSession.open(response["Location"].rstrip("/").rsplit("/", 1)[-1])
    review = reverse("customers:import_review", args=[session.pk_uuid])
    data = {"action": "check"} | {
        f"customers-{i}": k for i, k in enumerate(session.files["customers"]["mapping"])
    }
    client.post(review, data)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(review, {"action": "run", "mode": "all"})
    job = Job.objects.get(pk=importing.ImportSession.open(session.pk).job_id)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["summary"] == "Created 1 customers and 1 contacts, skipped 0 rows."
    assert (job.done, job.total) == (2, 2)
    assert checks == {"run": 1, "recheck": 1}


# --- what the dry run depended on changed: every row is checked again ------------------------------


DUPLICATES = {
    "name": (
        {"name": "北京华夏科技有限责任公司"},
        "客户名称",
        "Same name as the existing customer {} 北京华夏科技有限责任公司.",
    ),
    "phone": (
        {"name": "另一家公司", "phone": "(010) 6552-1234"},
        "电话",
        "Same phone as the existing customer {} 另一家公司.",
    ),
    "tax number": (
        {"name": "又一家公司", "tax_number": "91110000ma01abcd1x"},
        "税号",
        "Same tax number as the existing customer {} 又一家公司.",
    ),
    "a contact's phone": (
        {"name": "第四家公司", "contact": "010 6552 1234"},
        "电话",
        "Same phone as the existing customer {} 第四家公司.",
    ),
}


@pytest.mark.parametrize("what", list(DUPLICATES))
def test_a_customer_created_between_the_dry_run_and_the_job_is_caught(what, demo, checks):
    """Someone creates the same customer (through the service) after the dry run: the job's
    re-check sees the database changed, validates every row again and reports the duplicate; all or
    nothing imports nothing."""
    by = demo["manager"]
    rows = [HEAD, ROWS[1], ROWS[3], ROWS[4]]
    session = start(by, customers=rows)
    assert session.check(by=by)["bad_rows"] == 0
    fields, column, message = DUPLICATES[what]
    fields = dict(fields)
    phone = fields.pop("contact", None)
    quicker = services.create_customer(by=demo["manager2"], **fields)
    if phone:
        services.save_contact(Contact(customer=quicker, name="赵六", phone=phone), by=demo["manager2"])
    result = session.execute(by=fresh(by), mode=importing.ALL_OR_NOTHING)
    assert checks == {"run": 2, "recheck": 1}, "the database changed: every row is checked again"
    assert result["imported"] == 0 and result["errors"] == 1
    assert result["summary"].startswith("Nothing was imported: 1 of 3 rows have errors.")
    assert Customer.objects.count() == 1
    assert not LogEntry.objects.filter(additional_data__import=session.pk).exists()
    assert [e[1:3] + e[4:] for e in session.errors()] == [[2, column, message.format(quicker.number)]]
    # "valid rows only" imports the others
    result = session.execute(by=fresh(by), mode=importing.VALID_ONLY)
    assert result["summary"] == "Created 2 customers and 0 contacts, skipped 1 rows."


def _disable_level(demo):
    DictEntry.objects.filter(type="customer_level", code="key").update(enabled=False)


def _deactivate_owner(demo):
    User.objects.filter(username="manager").update(is_active=False)


def _supervisor_becomes_account_manager(demo):
    demo["supervisor"].roles.set([Role.objects.get(code="account_manager")])


def _owner_name_made_ambiguous(demo):
    User.objects.filter(username="manager2").update(full_name="王强")


def _owner_moves_department(demo):
    User.objects.filter(username="manager").update(department=demo["manager2"].department)


CHANGES = {
    "a dictionary entry disabled": (
        _disable_level,
        [HEAD, ROWS[1]],
        [2, "等级", "“重点客户” is disabled in the dictionary “Customer level”."],
    ),
    "the owner deactivated": (
        _deactivate_owner,
        [HEAD, ROWS[3]],
        [2, "客户经理", "王强 is deactivated."],
    ),
    "the owner moved to another department": (
        _owner_moves_department,
        [HEAD, ROWS[3]],
        [2, "客户经理", "王强 is not in your department; you may not give them customers."],
    ),
    "the owner's name now ambiguous": (
        _owner_name_made_ambiguous,
        [HEAD, ["甲公司", "", "", "", "", "", "王强", "", ""]],
        [2, "客户经理", "Several users are called 王强; use the user name."],
    ),
    "the importer's rights": (
        _supervisor_becomes_account_manager,
        [HEAD, ROWS[3]],
        [2, "客户经理",
         "You may import customers only for yourself; leave the column empty or put your user name."],
    ),
}  # fmt: skip


@pytest.mark.parametrize("what", list(CHANGES))
def test_a_change_the_dry_run_depended_on_makes_the_job_check_every_row(what, demo, checks):
    change, rows, error = CHANGES[what]
    by = demo["supervisor"]
    session = start(by, customers=rows)
    assert session.check(by=by)["bad_rows"] == 0
    change(demo)
    result = session.execute(by=fresh(by), mode=importing.ALL_OR_NOTHING)
    assert checks == {"run": 2, "recheck": 1}
    assert result["imported"] == 0 and Customer.objects.count() == 0
    assert [e[1:3] + e[4:] for e in session.errors()] == [error]


@pytest.fixture
def hx(demo):
    return services.create_customer(by=demo["manager"], name="北京华夏科技有限公司")


CONTACTS = [["客户编号", "姓名", "手机"], ["{number}", "李四", "13900139001"]]


def _archive(customer, demo):
    archive(customer, by=demo["admin"])


def _unshare(customer, demo):
    CustomerShare.objects.filter(customer=customer).delete()


def _give_away(customer, demo):
    services.assign_customers([customer], to=demo["manager2"], by=demo["supervisor"])


@pytest.mark.parametrize(
    "importer,change,message",
    [
        ("manager", _archive, "北京华夏科技有限公司 is archived."),
        ("manager2", _unshare, "You may not change {number} 北京华夏科技有限公司."),  # had a share
        ("manager", _give_away, "You may not change {number} 北京华夏科技有限公司."),  # was the owner
    ],
)
def test_a_contacts_customer_that_changed_makes_the_job_check_every_row(
    importer, change, message, hx, demo, checks
):
    by = demo[importer]
    CustomerShare.objects.create(customer=hx, user=demo["manager2"], can_edit=True)
    rows = [[c.format(number=hx.number) for c in r] for r in CONTACTS]
    session = start(by, contacts=rows)
    assert session.check(by=by)["bad_rows"] == 0
    change(hx, demo)
    result = session.execute(by=fresh(by), mode=importing.ALL_OR_NOTHING)
    assert checks == {"run": 2, "recheck": 1}
    assert result["imported"] == 0 and not Contact.objects.exists()
    assert [e[1:2] + e[4:] for e in session.errors()] == [[2, message.format(number=hx.number)]]


def test_unrelated_changes_do_not_stop_the_reuse(hx, demo, checks):
    by = demo["manager"]
    session = start(by, customers=[HEAD, ROWS[3], ROWS[4]])
    session.check(by=by)
    services.create_customer(by=demo["manager2"], name="毫不相干有限公司", phone="0755-1234 5678")
    DictEntry.objects.filter(type="industry").update(order=7)
    result = session.execute(by=fresh(by), mode=importing.ALL_OR_NOTHING)
    assert checks == {"run": 1, "recheck": 1}
    assert result["customers"] == 2


# --- the kept outcome's life ------------------------------------------------------------------------


def test_the_kept_outcome_follows_the_mapping_and_the_dry_runs(demo, checks):
    by = demo["manager"]
    session = start(by, customers=ROWS)
    mapping = list(session.files["customers"]["mapping"])
    session.check(by=by)
    assert kept(session)
    session.set_mapping("customers", mapping)  # the same mapping: still good
    assert kept(session)
    session.set_mapping("customers", [*mapping[:-1], ""])  # the mobile no longer imported
    assert not kept(session) and session.report is None
    session.check(by=by)
    assert kept(session)
    session.set_mapping("customers", mapping)
    session.check(by=by)
    # a mapping changed behind its back (not through set_mapping) is not reused either
    session.files["customers"]["mapping"] = [*mapping[:-1], ""]
    session.save()
    assert session.kept_outcome(by=fresh(by)) is None
    session.files["customers"]["mapping"] = mapping
    session.save()
    assert session.kept_outcome(by=fresh(by)) is not None
    # another user, a damaged file: checked again
    assert importing.ImportSession.open(session.pk).kept_outcome(by=fresh(demo["admin"])) is None
    path = session.folder / importing.OUTCOME_FILE
    with open(path, "rb") as fh:  # what it depends on, then the outcome: cut in the outcome
        pickle.load(fh)
        cut = fh.tell() + 100
    path.write_bytes(path.read_bytes()[:cut])
    assert session.kept_outcome(by=fresh(by)) is None
    path.write_bytes(b"not a pickle")
    assert session.kept_outcome(by=fresh(by)) is None
    checks.update(run=0, recheck=0)
    result = session.execute(by=fresh(by), mode=importing.VALID_ONLY)
    assert result["customers"] == 3 and checks["run"] == 1
    # purged with the session
    assert session.folder.is_dir()
    assert importing.purge_old_sessions(days=-1) >= 1 and not session.folder.exists()


def test_the_job_without_a_dry_run_checks_every_row(demo, checks):
    by = demo["manager"]
    session = start(by, customers=[HEAD, ROWS[3], ROWS[4]])
    result = session.execute(by=by, mode=importing.ALL_OR_NOTHING)
    assert result["customers"] == 2 and checks == {"run": 1, "recheck": 0}


def test_a_dry_run_that_cannot_keep_its_outcome_still_reports(demo, checks, monkeypatch):
    by = demo["manager"]
    session = start(by, customers=[HEAD, ROWS[3]])

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(importing.pickle, "dump", refuse)
    assert session.check(by=by)["customers"] == 1
    assert not kept(session) and not list(session.folder.glob("*.tmp"))
    monkeypatch.undo()
    assert session.execute(by=by, mode=importing.ALL_OR_NOTHING)["customers"] == 1


def test_progress_with_the_reused_outcome(demo, monkeypatch):
    from kehu.core.jobs import JobContext

    monkeypatch.setattr(importing._Progress, "every", 0)
    by = demo["manager"]
    session = start(by, customers=[HEAD, ROWS[3], ROWS[4]])
    session.check(by=by)
    job = Job.objects.create(name="customers.import", label="x", created_by=by, status=Job.Status.RUNNING)
    seen = []

    class Recording(JobContext):
        def progress(self, done, total=None, message=""):
            seen.append((done, total, str(message)))
            super().progress(done, total, message)

    session.execute(by=fresh(by), mode=importing.ALL_OR_NOTHING, ctx=Recording(job))
    assert seen[0] == (0, 4, "Checking rows…")
    assert seen[1] == (2, 4, "Writing…")
    assert seen[-1] == (4, 4, "2 customers and 0 contacts created")
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
