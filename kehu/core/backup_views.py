"""数据备份: administrators make a backup as a background job and download the files.  Restoring
replaces every record, so it stays on the command line (``kehu restore FILE``)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core import jobs
from kehu.core.backup import create_backup

RIGHT = "system.backup"


def backup_folder() -> Path:
    return Path(settings.DATA_DIR) / "backups"


def list_backups() -> list[dict]:
    folder = backup_folder()
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob("*.zip") if p.is_file() and not p.name.startswith(".")]
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [
        {
            "name": p.name,
            "size": p.stat().st_size,
            "modified": timezone.datetime.fromtimestamp(
                p.stat().st_mtime, tz=timezone.get_current_timezone()
            ),
        }
        for p in files
    ]


@jobs.job("core.backup")
def backup_job(ctx):
    ctx.progress(0, 1, _("Writing the backup…"))
    folder = backup_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = create_backup(folder)
    ctx.progress(1, 1)
    from django.urls import reverse

    return {
        "file": path.name,
        "download_url": reverse("core:backup_download", args=[path.name]),
        "summary": _("Backup %(name)s written (%(size)s bytes).")
        % {"name": path.name, "size": path.stat().st_size},
    }


def _require(request, write=False):
    if not request.user.has_right(RIGHT) or (write and request.user.is_read_only):
        raise PermissionDenied


@login_required
def backup_list(request):
    _require(request)
    return render(
        request,
        "core/backup_list.html",
        {
            "title": _("Backups"),
            "backups": list_backups(),
            "breadcrumbs": [(_("System management"), None), (_("Backups"), None)],
        },
    )


@login_required
@require_POST
def backup_create(request):
    _require(request, write=True)
    job = jobs.enqueue("core.backup", user=request.user, label=_("Backup of all data"))
    messages.info(request, _("The backup runs in the background; this page shows its progress."))
    return redirect(job.get_absolute_url())


@login_required
def backup_download(request, name: str):
    _require(request)
    if name not in {b["name"] for b in list_backups()}:
        raise Http404
    return FileResponse(open(backup_folder() / name, "rb"), as_attachment=True, filename=name)  # noqa: SIM115
