"""Product import pages: upload, column mapping and dry run, the import job, the error list and the
template.  The work is done by :mod:`kehu.catalog.importing`."""

from __future__ import annotations

import io
from datetime import datetime
from urllib.parse import quote

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import DomainError
from kehu.core.export import xlsx_response
from kehu.core.import_views import review_action, session_job
from kehu.core.models import DictEntry

from . import importing as imp
from .models import Product
from .selectors import category_paths

ERRORS_PER_PAGE = 100


def _require(request) -> None:
    user = request.user
    if not (user.has_right(imp.RIGHT) and user.has_right("catalog.edit")) or user.is_read_only:
        raise PermissionDenied


def _session_or_404(request, pk) -> imp.ProductImport:
    try:
        return imp.ProductImport.open(pk, user=request.user)
    except imp.SessionNotFound:
        raise Http404


def _breadcrumbs(*more):
    return [
        (_("Inventory"), None),
        (_("Products"), reverse("catalog:list")),
        (_("Import"), reverse("catalog:import")),
        *more,
    ]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Products file"),
        help_text=gettext_lazy("Excel (.xlsx) or CSV in UTF-8 or GBK; one product a row, headings in row 1."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.txt"}),
    )


class MappingForm(forms.Form):
    update_existing = forms.BooleanField(
        label=gettext_lazy("Update products whose code exists (otherwise such rows are errors)"),
        required=False,
    )

    def __init__(self, session: imp.ProductImport, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        report = session.meta.get("report") or {}
        self.fields["update_existing"].initial = bool(report.get("update_existing"))
        choices = [("", _("— not imported —"))] + [(f.key, f.label) for f in imp.FIELDS]
        self.rows = []
        samples = session.meta.get("samples", [])
        for i, header in enumerate(session.headers):
            name = f"col-{i}"
            self.fields[name] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=session.mapping[i],
                widget=forms.Select(
                    attrs={
                        "class": "form-select form-select-sm",
                        "aria-label": _("Field for column %(column)s") % {"column": header},
                    }
                ),
            )
            self.rows.append((imp.column_letter(i), header, samples[i] if i < len(samples) else [], name))

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"col-{i}") or "" for i in range(len(self.session.headers))]

    def clean(self):
        data = super().clean()
        update = bool(data.get("update_existing"))
        for problem in imp.mapping_problems(self.mapping(), update_existing=update):
            self.add_error(None, problem)
        return data

    def bound_rows(self):
        return [(letter, header, samples, self[name]) for letter, header, samples, name in self.rows]


class RunForm(forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("How to import"),
        choices=[
            (imp.ALL_OR_NOTHING, gettext_lazy("All or nothing: import only if every row is valid")),
            (imp.VALID_ONLY, gettext_lazy("Valid rows only: skip the bad rows")),
        ],
        initial=imp.ALL_OR_NOTHING,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )


@login_required
def import_start(request):
    _require(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = imp.ProductImport.start(user=request.user, upload=form.cleaned_data["file"])
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("catalog:import_review", pk=session.pk_uuid)
    return render(
        request,
        "catalog/import_start.html",
        {
            "title": _("Import products"),
            "form": form,
            "fields": imp.FIELDS,
            "max_mb": imp.MAX_BYTES // 1024 // 1024,
            "max_rows": imp.MAX_ROWS,
            "breadcrumbs": _breadcrumbs(),
        },
    )


@login_required
def import_review(request, pk):
    _require(request)
    session = _session_or_404(request, pk)
    action = request.POST.get("action") if request.method == "POST" else None
    mapping_form = MappingForm(session, request.POST if action == "check" else None)
    run_form = RunForm(request.POST if action == "run" else None)

    def check():
        session.set_mapping(mapping_form.mapping())
        return session.check(by=request.user, update_existing=mapping_form.cleaned_data["update_existing"])

    done = review_action(
        request,
        session,
        mapping_form=mapping_form,
        run_form=run_form,
        check=check,
        review_url=reverse("catalog:import_review", args=[session.pk_uuid]),
    )
    if done is not None:
        return done
    report = session.report
    errors = session.problems("errors") if report else []
    warnings = session.problems("warnings") if report else []
    page = Paginator(errors, ERRORS_PER_PAGE).get_page(request.GET.get("page")) if errors else None
    job = session_job(session)
    return render(
        request,
        "catalog/import_review.html",
        {
            "title": _("Import products: check"),
            "session": session,
            "info": session.meta,
            "mapping_form": mapping_form,
            "run_form": run_form,
            "report": report,
            "report_at": timezone.localtime(datetime.fromisoformat(report["at"])) if report else None,
            "page": page,
            "warnings": warnings[:200],
            "job": job,
            "breadcrumbs": _breadcrumbs((_("Check"), None)),
        },
    )


@login_required
def import_errors(request, pk):
    """Every bad row (and warning) of the last check or import, as xlsx."""
    _require(request)
    session = _session_or_404(request, pk)
    rows = [[_("Error"), *e] for e in session.problems("errors")] + [
        [_("Warning"), *w] for w in session.problems("warnings")
    ]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx_response(
        f"product-import-errors-{stamp}.xlsx",
        [_("Kind"), _("Row"), _("Column"), _("Value"), _("Reason")],
        rows,
    )


@login_required
def import_template(request):
    """An xlsx to fill in: the headings, two example rows, and the allowed values on a second sheet."""
    _require(request)
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    zh = (translation.get_language() or "").lower().startswith("zh")
    wb = Workbook()
    ws = wb.active
    ws.title = _("Products")
    bold, required = Font(bold=True), Font(bold=True, color="C00000")
    fill = PatternFill("solid", fgColor="DDEBF7")
    second = {
        "code": "TONER-88A",
        "name": "硒鼓" if zh else "Toner cartridge",
        "spec": "CC388A",
        "category": "耗材/硒鼓" if zh else "Supplies/Toner",
        "brand": "惠普" if zh else "HP",
        "unit": "个" if zh else "piece",
        "quantity_decimals": "0",
        "list_price": "320.00",
        "standard_cost": "210.00",
        "tax_rate": "13",
        "barcode": "",
        "tracking": "批次" if zh else "batch",
        "serial_prefix": "",
        "warranty_months": "0",
        "status": "在售" if zh else "on sale",
        "notes": "",
    }
    for col, f in enumerate(imp.FIELDS, start=1):
        c = ws.cell(row=1, column=col, value=(f.zh if zh else f.en) + (" *" if f.required else ""))
        c.font = required if f.required else bold
        c.fill = fill
        example = f.example
        if not zh and f.key in ("name", "category", "brand", "unit", "tracking", "status"):
            example = {
                "name": "Industrial PC",
                "category": "Computers/Industrial PCs",
                "brand": "Advantech",
                "unit": "unit",
                "tracking": "serial",
                "status": "on sale",
            }[f.key]
        for row, value in ((2, example), (3, second.get(f.key, ""))):
            cell = ws.cell(row=row, column=col, value=value)
            cell.number_format = "@"
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = max(12, min(30, len(str(example)) * 2 + 2))
        ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"

    values = wb.create_sheet(_("Allowed values"))
    units = [
        e.label_zh if zh else e.label_en
        for e in DictEntry.objects.filter(type="unit", enabled=True).order_by("order", "pk")
    ]
    columns = [
        (_("Unit"), units),
        (_("Tracking"), ["无", "批次", "序列号"] if zh else ["none", "batch", "serial"]),
        (_("Status"), ["在售", "停售"] if zh else ["on sale", "discontinued"]),
        (_("Categories"), sorted(category_paths().values())[:1000]),
    ]
    for col, (title, items) in enumerate(columns, start=1):
        c = values.cell(row=1, column=col, value=str(title))
        c.font = bold
        c.fill = fill
        for r, item in enumerate(items, start=2):
            values.cell(row=r, column=col, value=item)
        values.column_dimensions[get_column_letter(col)].width = 24
    notes = [
        _("Row 1 holds the headings (Chinese or English); each row below is one product."),
        _(
            "Columns marked * are required. The product code must be new "
            "unless you choose to update existing products."
        ),
        _("Category: a path such as 电脑设备/工控机; missing categories are created."),
        _("Prices in yuan, rounded to 0.01; tax rate in percent (0 to 100); quantity decimals 0 to 4."),
        _("Type values, not formulas."),
    ]
    c = values.cell(row=1, column=len(columns) + 2, value=_("Notes"))
    c.font = bold
    for r, line in enumerate(notes, start=2):
        values.cell(row=r, column=len(columns) + 2, value=str(line))
    values.column_dimensions[get_column_letter(len(columns) + 2)].width = 90

    buf = io.BytesIO()
    wb.save(buf)
    name = _("product-import-template") + ".xlsx"
    resp = HttpResponse(
        buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return resp


__all__ = ["import_start", "import_review", "import_errors", "import_template", "Product"]
