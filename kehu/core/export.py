"""Excel export of what a list shows (openpyxl, write-only: constant memory for long lists)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

FORMULA_PREFIXES = ("=", "+", "-", "@")


def safe_cell(value):
    """Turn a value into something a spreadsheet shows as typed (never as a formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, int | float | Decimal | dt.date):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return text


def write_xlsx(target, headers: list, rows) -> None:
    """A workbook of one sheet (bold headers, then ``rows`` through :func:`safe_cell`) saved to
    ``target`` (a path or a file), write-only: constant memory for long lists."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    bold = Font(bold=True)
    head = []
    for h in headers:
        c = WriteOnlyCell(ws, value=str(h))
        c.font = bold
        head.append(c)
    ws.append(head)
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    wb.save(target)


def xlsx_response(filename: str, headers: list, rows) -> StreamingHttpResponse:
    import tempfile

    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the response is
    write_xlsx(tmp, headers, rows)
    tmp.seek(0)
    resp = StreamingHttpResponse(
        iter(lambda: tmp.read(65536), b""),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    from urllib.parse import quote

    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return resp
