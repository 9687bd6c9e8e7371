"""Inventory's background jobs (DESIGN: a long job has a progress bar and survives a reload).

* ``inventory.count_import`` — a stocktake's count sheet (xlsx, or CSV in UTF-8 or GBK: product code,
  batch, counted quantity; a header row is skipped).  The view keeps the upload in
  ``DATA_DIR/imports/stocktake-counts/<id>/`` and enqueues the job, which reads it, checks every row
  with the rules of ``enter_counts`` (:func:`services.check_counts`) and then either writes nothing
  and reports every bad row with its row number (the summary names the first ones, the whole list is
  an xlsx to download), or writes the counts through ``services.enter_counts`` — in chunks, all in
  one transaction.  The upload is deleted when the job ends.
* ``inventory.recall_export`` — the batch recall list as xlsx, written to
  ``DATA_DIR/exports/inventory/<job id>.xlsx``.

Both go through :mod:`kehu.core.jobs`: the page enqueues and redirects to the job's page
(``core:job_detail``), whose progress bar polls and whose "Download" button follows the result's
``download_url`` (:func:`kehu.inventory.views.job_file`).  Files older than :data:`KEEP_DAYS` are
removed when the next job of the same kind starts."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import time
import uuid
from datetime import date
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kehu.catalog.models import Product
from kehu.core import jobs
from kehu.core.errors import PermissionDeniedError, ValidationFailed

from . import selectors, services
from .models import Stocktake

VIEW, STOCKTAKE, RECALL = "inventory.view", "inventory.stocktake", "inventory.recall"
COUNT_IMPORT = "inventory.count_import"
RECALL_EXPORT = "inventory.recall_export"
FILE_RIGHTS = {COUNT_IMPORT: STOCKTAKE, RECALL_EXPORT: RECALL}  # a job's file needs this right too
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
CHUNK = 500  # counts per call of enter_counts (each call sends one query of 2 parameters a count)
PROGRESS_EVERY = 2000
KEEP_DAYS = 7
SUMMARY_ERRORS = 5  # bad rows named in the summary; the download has them all


def uploads_root() -> Path:
    return Path(settings.DATA_DIR) / "imports" / "stocktake-counts"


def exports_root() -> Path:
    return Path(settings.DATA_DIR) / "exports" / "inventory"


def _purge(root: Path, days: int = KEEP_DAYS) -> None:
    if not root.is_dir():
        return
    cutoff = time.time() - days * 86400
    for entry in root.iterdir():
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < cutoff:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()


def _require(user, right: str, *, write: bool = False) -> None:
    if (
        user is None
        or not user.is_active
        or not (user.has_right(VIEW) and user.has_right(right))
        or (write and user.is_read_only)
    ):
        raise PermissionDeniedError()


def _language(user, language: str = "") -> str:
    return language or getattr(user, "language", "") or settings.LANGUAGE_CODE


def job_file(job) -> Path | None:
    """The file a finished inventory job wrote (its export or its list of bad rows), if still kept."""
    name = str((job.result or {}).get("file") or "")
    if job.name not in FILE_RIGHTS or not re.fullmatch(rf"{job.pk.hex}(-errors)?\.xlsx", name):
        return None
    path = exports_root() / name
    return path if path.is_file() else None


def _write_xlsx(name: str, headers: list, rows) -> None:
    """``rows`` into ``exports_root()/name`` (write-only workbook: constant memory)."""
    from kehu.core.export import write_xlsx

    folder = exports_root()
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{name}.part"
    write_xlsx(part, headers, rows)
    part.replace(folder / name)


# --- the count import ---------------------------------------------------------------------------


def start_count_import(stocktake: Stocktake, upload, *, by, language: str = ""):
    """Keep the uploaded count sheet and enqueue its import; returns the job.  Refuses at once
    (DomainError) a stocktake that no longer counts or a file too large."""
    _require(by, STOCKTAKE, write=True)
    services.require_counting(stocktake)
    name = Path(getattr(upload, "name", "") or "counts").name[:200]
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise ValidationFailed(_too_big(name, size), details={"field": "file"})
    _purge(uploads_root())
    key = uuid.uuid4().hex
    folder = uploads_root() / key
    folder.mkdir(parents=True, exist_ok=True)
    try:
        written = 0
        with open(folder / "upload", "wb") as fh:
            chunks = (
                upload.chunks() if hasattr(upload, "chunks") else iter(partial(upload.read, 1 << 20), b"")
            )
            for chunk in chunks:
                written += len(chunk)
                if written > MAX_BYTES:
                    raise ValidationFailed(_too_big(name, written), details={"field": "file"})
                fh.write(chunk)
        if not written:
            raise ValidationFailed(_("The file is empty."), details={"field": "file"})
        return jobs.enqueue(
            COUNT_IMPORT,
            user=by,
            label=_("Import counts into %(number)s: %(file)s") % {"number": stocktake.number, "file": name},
            params={"stocktake": stocktake.pk, "upload": key, "name": name, "language": language},
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _too_big(name: str, size: int) -> str:
    return _("%(name)s has %(size)s MB; a count sheet may have at most %(max)s MB.") % {
        "name": name,
        "size": f"{size / 1024 / 1024:.1f}",
        "max": MAX_BYTES // 1024 // 1024,
    }


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _sheet_rows(path: Path, name: str):
    """(row number, first three cells as text) of an xlsx or a CSV (UTF-8 or GBK) file."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04") or name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        with open(path, "rb") as fh:  # a file, not a path: openpyxl would insist on the extension
            try:
                wb = load_workbook(fh, read_only=True, data_only=True)
                sheet = wb.active
            except Exception:  # openpyxl raises many kinds for a damaged or foreign file
                raise ValidationFailed(
                    _("%(name)s cannot be read as an Excel workbook (.xlsx).") % {"name": name}
                )
            try:
                for n, r in enumerate(sheet.iter_rows(values_only=True), start=1):
                    yield n, [_cell_text(v) for v in r[:3]]
            finally:
                wb.close()
        return
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gbk"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed(_("The file is neither UTF-8 nor GBK text."))
    for n, r in enumerate(csv.reader(io.StringIO(text)), start=1):
        yield n, r[:3]


def _is_number(text) -> bool:
    from decimal import Decimal

    try:
        Decimal(str(text).strip())
    except ArithmeticError:
        return False
    return True


def read_count_file(path: Path, name: str) -> list[dict]:
    """The counts of a sheet, ``[{"row", "code", "batch", "quantity"}]`` in file order: the first three
    columns; a first row whose third cell is not a number is a header; rows without a product code
    are skipped."""
    out = []
    for n, r in _sheet_rows(path, name):
        if not r or not str(r[0]).strip():
            continue
        if n == 1 and not _is_number(r[2] if len(r) > 2 else ""):
            continue  # a header row
        if len(out) >= MAX_ROWS:
            raise ValidationFailed(
                _("The file has more than %(max)s rows. Split it into smaller files.")
                % {"max": f"{MAX_ROWS:,}"}
            )
        out.append(
            {
                "row": n,
                "code": str(r[0]).strip(),
                "batch": (r[1] if len(r) > 1 else "") or "",
                "quantity": r[2] if len(r) > 2 else "",
            }
        )
    return out


def check_count_rows(rows: list[dict]) -> tuple[list[dict], list[tuple[int, str]]]:
    """Product codes (any case) to products, then the rules of a count (``services.check_counts``):
    ``(counts ready for enter_counts, problems as (row, message))``, every bad row reported."""
    codes = sorted({r["code"].upper() for r in rows})
    found: dict[str, int] = {}
    for i in range(0, len(codes), CHUNK):
        for pk, code in (
            Product.objects.annotate(code_key=Upper("code"))
            .filter(code_key__in=codes[i : i + CHUNK])
            .values_list("pk", "code")
        ):
            found[code.upper()] = pk
    problems, counts = [], []
    for r in rows:
        pk = found.get(r["code"].upper())
        if pk is None:
            problems.append(
                (
                    r["row"],
                    _("Row %(row)s: unknown product code %(code)s.") % {"row": r["row"], "code": r["code"]},
                )
            )
            continue
        counts.append({"row": r["row"], "product": pk, "batch": r["batch"], "quantity": r["quantity"]})
    for i in range(0, len(counts), CHUNK):
        problems.extend(services.check_counts(counts[i : i + CHUNK])[1])
    problems.sort(key=lambda p: p[0])
    return counts, problems


@jobs.job(COUNT_IMPORT)
def count_import_job(ctx, *, stocktake: int, upload: str, name: str, language: str = "") -> dict:
    folder = uploads_root() / upload if re.fullmatch(r"[0-9a-f]{32}", str(upload)) else None
    try:
        with translation.override(_language(ctx.user, language)):
            return _import_counts(ctx, stocktake, folder, name)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _import_counts(ctx, stocktake_id: int, folder: Path | None, name: str) -> dict:
    by = ctx.user
    _require(by, STOCKTAKE, write=True)
    st = Stocktake.objects.filter(pk=stocktake_id).first()
    if st is None:
        raise ValidationFailed(_("The stocktake no longer exists."))
    path = folder / "upload" if folder is not None else None
    if path is None or not path.is_file():
        raise ValidationFailed(_("The uploaded file is no longer kept; upload it again."))
    services.require_counting(st)
    ctx.progress(0, 0, _("Reading the file…"))
    rows = read_count_file(path, name)
    total = len(rows)
    if not total:
        raise ValidationFailed(
            _("The file has no counts: one row a product (code, batch, counted quantity).")
        )
    ctx.progress(0, total * 2, _("Checking rows…"))
    counts, problems = check_count_rows(rows)
    if problems:
        return _refused(ctx, st, rows, problems)
    ctx.progress(total, total * 2, _("Writing…"))
    done = 0
    with transaction.atomic():  # all or nothing, as from the page
        for i in range(0, len(counts), CHUNK):
            done += services.enter_counts(st, counts[i : i + CHUNK], by=by)
            ctx.progress(total + min(i + CHUNK, total), total * 2, _("Writing…"))
    summary = _("%(n)s counts imported.") % {"n": done}
    ctx.progress(total * 2, total * 2, _("Counts saved."))
    return {"summary": summary, "imported": done, "rows": total, "errors": 0, "stocktake": st.pk}


def _refused(ctx, st: Stocktake, rows: list[dict], problems: list[tuple[int, str]]) -> dict:
    total = len(rows)
    by_row = {r["row"]: r for r in rows}
    file_name = f"{ctx.job.pk.hex}-errors.xlsx"
    _purge(exports_root())
    _write_xlsx(
        file_name,
        [_("Row"), _("Product code"), _("Batch"), _("Counted"), _("Reason")],
        (
            [
                n,
                by_row.get(n, {}).get("code", ""),
                by_row.get(n, {}).get("batch", ""),
                by_row.get(n, {}).get("quantity", ""),
                message,
            ]
            for n, message in problems
        ),
    )
    bad = len({n for n, _m in problems})
    first = " ".join(m for _n, m in problems[:SUMMARY_ERRORS]) + (
        " …" if len(problems) > SUMMARY_ERRORS else ""
    )
    summary = (
        _("Nothing was imported: %(bad)s of %(rows)s rows have errors. Correct the file and import it again.")
        % {"bad": bad, "rows": total}
        + " "
        + first
    )
    ctx.progress(total * 2, total * 2, _("Nothing was imported."))
    return {
        "summary": summary,
        "imported": 0,
        "rows": total,
        "errors": len(problems),
        "stocktake": st.pk,
        "file": file_name,
        "download_name": f"count-import-errors-{st.number}.xlsx",
        "download_url": reverse("inventory:job_file", args=[ctx.job.pk]),
    }


# --- the recall export --------------------------------------------------------------------------


def recall_headers() -> list[str]:
    return [
        _("Serial number"),
        _("Product code"),
        _("Batch"),
        _("Production date"),
        _("Production line"),
        _("Status"),
        _("Warehouse"),
        _("Customer"),
        _("Customer number"),
        _("Delivered on"),
        _("Delivery document"),
        _("Warranty end"),
    ]


def recall_row(u) -> list:
    return [
        u.serial,
        u.product.code,
        u.batch,
        u.production_date,
        u.production_line,
        u.get_status_display(),
        u.warehouse.name if u.warehouse else "",
        u.customer.name if u.customer else "",
        u.customer.number if u.customer else "",
        u.delivered_on,
        u.delivery_number or "",
        u.warranty_end,
    ]


def start_recall_export(cleaned: dict, *, by, language: str = ""):
    """Enqueue the export of a recall list (``cleaned``: a valid RecallForm's data); returns the job.
    An export writes no business data: read-only users with the right may export too."""
    _require(by, RECALL)
    product = cleaned["product"]
    return jobs.enqueue(
        RECALL_EXPORT,
        user=by,
        label=_("Recall list of %(product)s") % {"product": product},
        params={
            "product": product.pk,
            "batch": cleaned.get("batch") or "",
            "produced_from": cleaned["produced_from"].isoformat() if cleaned.get("produced_from") else None,
            "produced_to": cleaned["produced_to"].isoformat() if cleaned.get("produced_to") else None,
            "language": language,
        },
    )


@jobs.job(RECALL_EXPORT)
def recall_export_job(
    ctx,
    *,
    product: int,
    batch: str = "",
    produced_from: str | None = None,
    produced_to: str | None = None,
    language: str = "",
) -> dict:
    with translation.override(_language(ctx.user, language)):
        _require(ctx.user, RECALL)
        p = Product.objects.filter(pk=product, tracking=Product.Tracking.SERIAL).first()
        if p is None:
            raise ValidationFailed(_("The product no longer exists or is not tracked by serial number."))
        units = selectors.recall_units(
            p,
            batch=batch,
            produced_from=date.fromisoformat(produced_from) if produced_from else None,
            produced_to=date.fromisoformat(produced_to) if produced_to else None,
        )
        total = units.order_by().count()
        ctx.progress(0, total, _("Writing the list…"))
        _purge(exports_root())
        done = 0

        def rows():
            nonlocal done
            for u in units.iterator(chunk_size=PROGRESS_EVERY):
                yield recall_row(u)
                done += 1
                if done % PROGRESS_EVERY == 0:
                    ctx.progress(done, total)

        file_name = f"{ctx.job.pk.hex}.xlsx"
        _write_xlsx(file_name, recall_headers(), rows())
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        summary = ngettext("%(n)s unit in the list.", "%(n)s units in the list.", done) % {"n": done}
        ctx.progress(done, done, _("The file is ready to download."))
        return {
            "summary": summary,
            "units": done,
            "file": file_name,
            "download_name": f"recall-{p.code}-{stamp}.xlsx",
            "download_url": reverse("inventory:job_file", args=[ctx.job.pk]),
        }
