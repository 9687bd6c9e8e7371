"""Customer import pages: upload, column mapping and dry run, the import job, the error list and
the template.  The work is done by :mod:`kehu.customers.importing`."""

from __future__ import annotations

from datetime import datetime

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

from kehu.core.export import xlsx_response
from kehu.core.import_views import review_action, session_job
from kehu.core.models import DictEntry

from . import importing as imp
from .models import Contact, Customer

ERRORS_PER_PAGE = 100


def _require(request) -> None:
    user = request.user
    if not user.has_right(imp.RIGHT) or user.is_read_only:
        raise PermissionDenied


def _session_or_404(request, pk) -> imp.ImportSession:
    try:
        return imp.ImportSession.open(pk, user=request.user)
    except imp.SessionNotFound:
        raise Http404


def _breadcrumbs(*more):
    return [(_("Customer management"), None), (_("Import"), reverse("customers:import")), *more]


# --- forms ----------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    customers_file = forms.FileField(
        label=gettext_lazy("Customers file"),
        required=False,
        help_text=gettext_lazy("One customer a row; contacts may be in the same row (联系人, 手机…)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.txt"}),
    )
    contacts_file = forms.FileField(
        label=gettext_lazy("Contacts file (optional)"),
        required=False,
        help_text=gettext_lazy(
            "Contacts of customers named by 客户编号 or 客户名称, existing or in the customers file."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.txt"}),
    )

    def clean(self):
        data = super().clean()
        if not data.get("customers_file") and not data.get("contacts_file") and not self.errors:
            raise forms.ValidationError(_("Choose a file to import."))
        for name in ("customers_file", "contacts_file"):
            upload = data.get(name)
            if upload is not None:
                try:
                    imp.check_size(upload.size, upload.name)
                except imp.ImportFileError as exc:
                    self.add_error(name, exc.message)
        return data

    def uploads(self) -> dict:
        found = {
            imp.CUSTOMERS: self.cleaned_data.get("customers_file"),
            imp.CONTACTS: self.cleaned_data.get("contacts_file"),
        }
        return {k: v for k, v in found.items() if v}


class MappingForm(forms.Form):
    """One select per column of each file: which field it fills."""

    def __init__(self, session: imp.ImportSession, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.tables = []
        for kind in session.kinds():
            info = session.files[kind]
            choices = [("", _("— not imported —"))] + [(f.key, f.label) for f in imp.FIELDS_BY_KIND[kind]]
            rows = []
            for i, header in enumerate(info["headers"]):
                name = f"{kind}-{i}"
                self.fields[name] = forms.ChoiceField(
                    label=header,
                    choices=choices,
                    required=False,
                    initial=info["mapping"][i],
                    widget=forms.Select(
                        attrs={
                            "class": "form-select form-select-sm",
                            "aria-label": _("Field for column %(column)s") % {"column": header},
                        }
                    ),
                )
                rows.append(
                    (
                        imp.column_letter(i),
                        header,
                        info["samples"][i] if i < len(info["samples"]) else [],
                        name,
                    )
                )
            self.tables.append((kind, imp.FILE_KINDS[kind], info, rows))

    def mapping(self, kind: str) -> list[str]:
        count = len(self.session.files[kind]["headers"])
        return [self.cleaned_data.get(f"{kind}-{i}") or "" for i in range(count)]

    def clean(self):
        data = super().clean()
        for kind in self.session.kinds():
            prefix = f"{self.session.files[kind]['name']}: " if len(self.session.files) > 1 else ""
            for problem in imp.mapping_problems(kind, self.mapping(kind)):
                self.add_error(None, prefix + problem)
        return data

    def bound_rows(self):
        for kind, label, info, rows in self.tables:
            yield (
                kind,
                label,
                info,
                [(letter, header, samples, self[name]) for letter, header, samples, name in rows],
            )


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


# --- pages ----------------------------------------------------------------------------------------


@login_required
def import_start(request):
    _require(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = imp.ImportSession.start(user=request.user, files=form.uploads())
        except imp.ImportFileError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("customers:import_review", pk=session.pk_uuid)
    return render(
        request,
        "customers/import_start.html",
        {
            "title": _("Import customers"),
            "form": form,
            "max_mb": imp.MAX_BYTES // 1024 // 1024,
            "max_bytes": imp.MAX_BYTES,
            "max_rows": imp.MAX_ROWS,
            "customer_fields": imp.CUSTOMER_FIELDS,
            "contact_fields": imp.CONTACT_FILE_FIELDS,
            "breadcrumbs": _breadcrumbs(),
        },
    )


@login_required
def import_review(request, pk):
    _require(request)
    session = _session_or_404(request, pk)
    mapping_form = MappingForm(session, request.POST if request.POST.get("action") == "check" else None)
    run_form = RunForm(request.POST if request.POST.get("action") == "run" else None)

    def check():
        for kind in session.kinds():
            session.set_mapping(kind, mapping_form.mapping(kind))
        return session.check(by=request.user)

    done = review_action(
        request,
        session,
        mapping_form=mapping_form,
        run_form=run_form,
        check=check,
        review_url=reverse("customers:import_review", args=[session.pk_uuid]),
    )
    if done is not None:
        return done
    report = session.report
    errors = session.errors() if report else []
    page = Paginator(errors, ERRORS_PER_PAGE).get_page(request.GET.get("page")) if errors else None
    job = session_job(session)
    return render(
        request,
        "customers/import_review.html",
        {
            "title": _("Import customers: check"),
            "session": session,
            "files": [(imp.FILE_KINDS[k], session.files[k]) for k in session.kinds()],
            "mapping_form": mapping_form,
            "run_form": run_form,
            "report": report,
            "report_at": timezone.localtime(datetime.fromisoformat(report["at"])) if report else None,
            "page": page,
            "kind_labels": imp.FILE_KINDS,
            "job": job,
            "breadcrumbs": _breadcrumbs((_("Check"), None)),
        },
    )


@login_required
def import_errors(request, pk):
    """Every bad row of the last check or import, as xlsx."""
    _require(request)
    session = _session_or_404(request, pk)
    rows = (
        [imp.FILE_KINDS.get(kind, kind), row, column, value, message]
        for kind, row, column, value, message in session.errors()
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx_response(
        f"import-errors-{stamp}.xlsx", [_("File"), _("Row"), _("Column"), _("Value"), _("Reason")], rows
    )


@login_required
def import_template(request):
    """An xlsx to fill in: the headings, one example row, and the allowed values on a second sheet."""
    _require(request)
    kind = request.GET.get("kind", imp.CUSTOMERS)
    if kind not in imp.FIELDS_BY_KIND:
        raise Http404
    return _template_response(request, kind)


def _template_response(request, kind: str) -> HttpResponse:
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    zh = (translation.get_language() or "").lower().startswith("zh")
    fields = imp.FIELDS_BY_KIND[kind]
    wb = Workbook()
    ws = wb.active
    ws.title = _("Customers") if kind == imp.CUSTOMERS else _("Contacts")
    entries = {}
    for e in DictEntry.objects.filter(enabled=True, type__in=list(imp.DICT_FIELDS.values())).order_by(
        "type", "order", "pk"
    ):
        entries.setdefault(e.type, []).append(e)
    example = {f.key: f.example for f in fields}
    for key, dict_type in imp.DICT_FIELDS.items():
        if entries.get(dict_type):
            example[key] = entries[dict_type][0].label_zh if zh else entries[dict_type][0].label_en
    if kind == imp.CUSTOMERS:
        example["owner"] = request.user.username
        example["kind"] = str(Customer.Kind.COMPANY.label)
        example["status"] = str(Customer.Status.PROSPECT.label)
        example["contact_gender"] = str(Contact.Gender.MALE.label)
        if zh:
            example.update(kind="公司", status="意向", contact_gender="男")
    else:
        example["contact_gender"] = "女" if zh else str(Contact.Gender.FEMALE.label)
    bold, required = Font(bold=True), Font(bold=True, color="C00000")
    fill = PatternFill("solid", fgColor="DDEBF7")
    for col, f in enumerate(fields, start=1):
        c = ws.cell(row=1, column=col, value=(f.zh if zh else f.en) + (" *" if f.required else ""))
        c.font = required if f.required else bold
        c.fill = fill
        value = example.get(f.key, "")
        cell = ws.cell(row=2, column=col, value=value)
        cell.number_format = "@"  # phone numbers, accounts and tax numbers stay text
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = max(12, min(40, len(str(value)) * 2 + 2))
        ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"

    values = wb.create_sheet(_("Allowed values"))
    columns = [
        (str(registry_label(t)), [e.label_zh if zh else e.label_en for e in entries.get(t, [])])
        for t in imp.DICT_FIELDS.values()
    ]
    columns.append((_("Kind"), ["公司", "个人"] if zh else [str(x.label) for x in Customer.Kind]))
    columns.append(
        (_("Status"), ["意向", "签约", "沉默", "流失"] if zh else [str(x.label) for x in Customer.Status])
    )
    columns.append((_("Gender"), ["男", "女"] if zh else [str(x.label) for x in Contact.Gender]))
    columns.append((_("Ratings"), ["1", "2", "3", "4", "5"]))
    if kind == imp.CUSTOMERS:
        columns.append((_("Owners you may choose"), _owners_for(request.user)))
    for col, (title, items) in enumerate(columns, start=1):
        c = values.cell(row=1, column=col, value=title)
        c.font = bold
        c.fill = fill
        for r, item in enumerate(items, start=2):
            values.cell(row=r, column=col, value=item)
        values.column_dimensions[get_column_letter(col)].width = 18
    notes = values.cell(row=1, column=len(columns) + 2, value=_("Notes"))
    notes.font = bold
    for r, line in enumerate(_template_notes(kind), start=2):
        values.cell(row=r, column=len(columns) + 2, value=line)
    values.column_dimensions[get_column_letter(len(columns) + 2)].width = 80

    buf = io.BytesIO()
    wb.save(buf)
    from urllib.parse import quote

    name = (
        _("customer-import-template") if kind == imp.CUSTOMERS else _("contact-import-template")
    ) + ".xlsx"
    resp = HttpResponse(
        buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return resp


def registry_label(dict_type: str):
    from kehu.core.registry import registry

    return registry.dict_types.get(dict_type, dict_type)


def _owners_for(user) -> list[str]:
    from kehu.accounts.models import User

    if not (user.is_administrator or user.has_right("customers.assign")):
        return [user.username]
    qs = User.objects.filter(is_active=True).order_by("username")
    if not (user.is_administrator or user.data_scope == "all"):
        qs = qs.filter(department_id__in=user.scope_department_ids()) | User.objects.filter(pk=user.pk)
    return [u.username for u in qs[:500] if u.pk == user.pk or u.has_right("customers.view")]


def _template_notes(kind: str) -> list[str]:
    lines = [
        _("Row 1 holds the headings; each row below is imported. Headings may be in Chinese or English."),
        _("Columns marked * are required. Empty cells are left empty."),
        _("Type values, not formulas: a cell starting with = makes its row bad."),
        _("Dates as 2026-11-23; ratings 1 to 5; amounts in 10k yuan for capital and revenue."),
    ]
    if kind == imp.CUSTOMERS:
        lines += [
            _("Tags: several separated by commas."),
            _("Owner: a user name; empty means you."),
            _(
                "More contacts of one customer: leave the customer columns empty in the rows below it "
                "and fill only the contact columns."
            ),
        ]
    else:
        lines += [_("Name the customer by 客户编号 (customer number) or 客户名称 (customer name).")]
    return lines
