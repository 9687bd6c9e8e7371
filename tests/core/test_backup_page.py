import zipfile

import pytest
from django.urls import reverse

from kehu.core.models import Job


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_admin_backs_up_from_the_page_and_downloads_the_file(
    demo, client_for, data_dir, django_capture_on_commit_callbacks
):
    c = client_for("admin")
    assert "No backups yet." in c.get(reverse("core:backup_list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post(reverse("core:backup_create"))
    job = Job.objects.get(name="core.backup")
    assert resp.status_code == 302 and resp["Location"] == job.get_absolute_url()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    page = c.get(job.get_absolute_url()).content.decode()
    assert job.result["download_url"] in page
    listing = c.get(reverse("core:backup_list")).content.decode()
    assert job.result["file"] in listing
    resp = c.get(job.result["download_url"])
    assert resp.status_code == 200
    content = b"".join(resp.streaming_content)
    path = data_dir / "dl.zip"
    path.write_bytes(content)
    assert "manifest.json" in zipfile.ZipFile(path).namelist()


def test_backups_are_for_administrators_only(demo, client_for, data_dir):
    (data_dir / "backups").mkdir()
    (data_dir / "backups" / "kehu-backup-x.zip").write_bytes(b"PK")
    for user in ("supervisor", "executive", "manager"):
        c = client_for(user)
        assert c.get(reverse("core:backup_list")).status_code == 403
        assert c.get(reverse("core:backup_download", args=["kehu-backup-x.zip"])).status_code == 403
        assert c.post(reverse("core:backup_create")).status_code == 403
    assert not Job.objects.exists()


def test_download_refuses_anything_but_a_listed_backup(demo, client_for, data_dir, settings):
    (data_dir / "secret_key").write_text("s3cret")
    c = client_for("admin")
    assert c.get("/system/backups/secret_key").status_code == 404
    assert c.get("/system/backups/..%2Fsecret_key").status_code == 404
