"""Inventory pages (库存): stock, movements, stock notes, transfers, stocktakes, serial numbers,
safety-stock alerts, the monthly 收发存 summary, batch recall and warehouses.

Views are thin: they check the right (403), find the record (404 for an unknown id: inventory is
company-wide, there is no owner scope), parse the form and call :mod:`kehu.inventory.services`."""

from __future__ import annotations

from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from kehu.catalog.models import Product
from kehu.core.errors import DomainError
from kehu.core.export import xlsx_response
from kehu.core.selectors import history_for
from kehu.core.ui import Column, ListPage, run_service

from . import jobs as inventory_jobs
from . import selectors, services
from .filters import (
    MoveFilter,
    NoteFilter,
    SerialFilter,
    StockFilter,
    StocktakeFilter,
    TransferFilter,
    WarehouseFilter,
)
from .forms import (
    CountImportForm,
    LabelForm,
    LocationForm,
    MonthForm,
    NoteHeaderForm,
    RecallForm,
    SafetyStockForm,
    StocktakeStartForm,
    TransferHeaderForm,
    WarehouseForm,
    product_label,
    recall_products,
)
from .models import (
    DocStatus,
    Location,
    SerialUnit,
    StockMove,
    StockNote,
    Stocktake,
    Transfer,
    Warehouse,
)

VIEW, EDIT, POST, STOCKTAKE, WAREHOUSES, RECALL, COST = (
    "inventory.view",
    "inventory.edit",
    "inventory.post",
    "inventory.stocktake",
    "inventory.warehouses",
    "inventory.recall",
    "inventory.cost",
)
SAFE = ("GET", "HEAD", "OPTIONS")
MODULE = (gettext_lazy("Inventory"), None)


def page(right: str = VIEW, write_right: str | None = None):
    """Log-in and ``inventory.view`` plus ``right`` to open; a POST also needs ``write_right`` (default
    ``right``) and a user who is not read-only.  Otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not (user.has_right(VIEW) and user.has_right(right)):
                raise PermissionDenied
            if request.method not in SAFE and (user.is_read_only or not user.has_right(write_right or right)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _get(model_or_qs, pk):
    qs = model_or_qs if hasattr(model_or_qs, "model") else model_or_qs.objects.all()
    try:
        return qs.get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise Http404


def _crumbs(*items):
    return [MODULE, *items]


def _can(user, right: str) -> bool:
    return not user.is_read_only and user.has_right(right)


def _fmt_qty(v):
    if v is None:
        return ""
    v = Decimal(v)
    return v.quantize(Decimal(1)) if v == v.to_integral_value() else v.normalize()


def _doc_link(move) -> str | None:
    return services.source_url(move.doc_type, move.doc_id)


# --- lists ----------------------------------------------------------------------------------------


class InventoryList(ListPage):
    right = VIEW
    scoped = False
    breadcrumbs = [MODULE]
    template_name = "core/list.html"

    def can_see_cost(self) -> bool:
        return self.request.user.has_right(COST)


class StockList(InventoryList):
    title = gettext_lazy("Stock")
    filterset_class = StockFilter
    default_sort = "product_id"  # the balance key's index gives the first page without a sort
    export_name = "stock"

    @property
    def columns(self):
        cols = [
            Column(gettext_lazy("Product code"), "product.code", "product__code"),
            Column(gettext_lazy("Product"), "product.name", "product__name"),
            Column(gettext_lazy("Specification"), "product.spec"),
            Column(gettext_lazy("Warehouse"), "warehouse.name", "warehouse__code"),
            Column(gettext_lazy("Batch"), "batch", "batch"),
            Column(gettext_lazy("Quantity"), lambda b: _fmt_qty(b.quantity), "quantity"),
            Column(gettext_lazy("Reserved"), lambda b: _fmt_qty(b.reserved), "reserved"),
            Column(gettext_lazy("Available"), lambda b: _fmt_qty(b.available)),
            Column(gettext_lazy("Unit"), "product.unit"),
        ]
        if self.can_see_cost():
            cols.append(Column(gettext_lazy("Value"), "value", "value"))
        return cols

    def get_queryset(self):
        return selectors.balances()

    def render_rows(self, objects):
        rows = super().render_rows(objects)
        return [
            (
                o,
                [
                    (
                        v,
                        reverse("inventory:moves") + f"?q={o.product.code}&warehouse={o.warehouse_id}"
                        if i == 0
                        else u,
                        lg,
                    )
                    for i, (v, u, lg) in enumerate(cells)
                ],
            )
            for o, cells in rows
        ]


stock = login_required(StockList.as_view())


class MoveList(InventoryList):
    title = gettext_lazy("Stock movements")
    filterset_class = MoveFilter
    default_sort = "-created_at"
    export_name = "stock-movements"

    @property
    def columns(self):
        cols = [
            Column(gettext_lazy("Time"), "created_at", "created_at"),
            Column(gettext_lazy("Document"), "doc_number", "doc_number"),
            Column(
                gettext_lazy("Reason"),
                lambda m: m.get_reason_display() + (_(" (reversal)") if m.is_reversal else ""),
            ),
            Column(gettext_lazy("Product code"), "product.code", "product__code"),
            Column(gettext_lazy("Product"), "product.name"),
            Column(gettext_lazy("Warehouse"), "warehouse.name", "warehouse__code"),
            Column(gettext_lazy("Batch"), "batch"),
            Column(
                gettext_lazy("Quantity"),
                lambda m: f"{_fmt_qty(m.quantity):+}" if m.quantity else "0",
                "quantity",
            ),
            Column(gettext_lazy("Balance after"), lambda m: _fmt_qty(m.balance_after)),
        ]
        if self.can_see_cost():
            cols += [Column(gettext_lazy("Unit cost"), "unit_cost"), Column(gettext_lazy("Amount"), "amount")]
        cols += [Column(gettext_lazy("Customer"), "customer.name"), Column(gettext_lazy("User"), "user")]
        return cols

    def get_queryset(self):
        return selectors.moves()

    def render_rows(self, objects):
        rows = super().render_rows(objects)
        return [
            (o, [(v, _doc_link(o) if i == 1 else u, lg) for i, (v, u, lg) in enumerate(cells)])
            for o, cells in rows
        ]


moves = login_required(MoveList.as_view())


class NoteList(InventoryList):
    filterset_class = NoteFilter
    default_sort = "-created_at"
    kind = StockNote.Kind.RECEIPT
    create_right = EDIT
    columns = [
        Column(gettext_lazy("Number"), "number", "number", link=True),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("Warehouse"), "warehouse.name", "warehouse__code"),
        Column(gettext_lazy("Reason"), "get_reason_display", "reason"),
        Column(
            gettext_lazy("Supplier / recipient"), lambda n: n.customer.name if n.customer_id else n.partner
        ),
        Column(gettext_lazy("Created by"), "created_by", "created_by__username"),
        Column(gettext_lazy("Created"), "created_at", "created_at"),
        Column(gettext_lazy("Posted"), "posted_at", "posted_at"),
    ]

    def get_queryset(self):
        return StockNote.objects.filter(kind=self.kind).select_related("warehouse", "customer", "created_by")


class ReceiptList(NoteList):
    title = gettext_lazy("Goods receipts")
    export_name = "goods-receipts"
    create_url = "inventory:receipt_create"


class IssueList(NoteList):
    title = gettext_lazy("Goods issues")
    export_name = "goods-issues"
    kind = StockNote.Kind.ISSUE
    create_url = "inventory:issue_create"


receipts = login_required(ReceiptList.as_view())
issues = login_required(IssueList.as_view())


class TransferList(InventoryList):
    title = gettext_lazy("Transfers")
    filterset_class = TransferFilter
    default_sort = "-created_at"
    export_name = "transfers"
    create_url = "inventory:transfer_create"
    create_right = EDIT
    columns = [
        Column(gettext_lazy("Number"), "number", "number", link=True),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("From warehouse"), "from_warehouse.name"),
        Column(gettext_lazy("To warehouse"), "to_warehouse.name"),
        Column(gettext_lazy("Created by"), "created_by"),
        Column(gettext_lazy("Created"), "created_at", "created_at"),
        Column(gettext_lazy("Posted"), "posted_at", "posted_at"),
    ]

    def get_queryset(self):
        return Transfer.objects.select_related("from_warehouse", "to_warehouse", "created_by")


transfers = login_required(TransferList.as_view())


class StocktakeList(InventoryList):
    title = gettext_lazy("Stocktakes")
    filterset_class = StocktakeFilter
    default_sort = "-frozen_at"
    export_name = "stocktakes"
    create_url = "inventory:stocktake_create"
    create_right = STOCKTAKE
    columns = [
        Column(gettext_lazy("Number"), "number", "number", link=True),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("Warehouse"), "warehouse.name"),
        Column(gettext_lazy("Category"), "category"),
        Column(gettext_lazy("Snapshot taken at"), "frozen_at", "frozen_at"),
        Column(gettext_lazy("Created by"), "created_by"),
        Column(gettext_lazy("Posted"), "posted_at", "posted_at"),
    ]

    def get_queryset(self):
        return Stocktake.objects.select_related("warehouse", "category", "created_by")


stocktakes = login_required(StocktakeList.as_view())


class SerialList(InventoryList):
    title = gettext_lazy("Serial numbers")
    template_name = "inventory/serial_list.html"
    filterset_class = SerialFilter
    default_sort = "serial"
    export_name = "serial-numbers"
    columns = [
        Column(gettext_lazy("Serial number"), "serial", "serial", link=True),
        Column(gettext_lazy("Product code"), "product.code", "product__code"),
        Column(gettext_lazy("Product"), "product.name"),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("Warehouse"), "warehouse.name"),
        Column(gettext_lazy("Customer"), "customer.name"),
        Column(gettext_lazy("Batch"), "batch", "batch"),
        Column(gettext_lazy("Production date"), "production_date", "production_date"),
        Column(gettext_lazy("Warranty end"), "warranty_end", "warranty_end"),
    ]

    def get_queryset(self):
        return selectors.serial_units()

    def get(self, request, *args, **kwargs):
        serial = request.GET.get("find", "").strip()
        if serial:  # the "find by serial" box: straight to the unit when there is exactly one
            found = list(SerialUnit.objects.filter(serial=serial).values_list("pk", flat=True)[:2])
            if len(found) == 1:
                return redirect("inventory:serial_detail", found[0])
            return redirect(reverse("inventory:serials") + "?serial=" + serial)
        return super().get(request, *args, **kwargs)


serials = login_required(SerialList.as_view())


class WarehouseList(InventoryList):
    title = gettext_lazy("Warehouses")
    filterset_class = WarehouseFilter
    default_sort = "code"
    archivable = True
    export_name = "warehouses"
    create_url = "inventory:warehouse_create"
    create_right = WAREHOUSES
    columns = [
        Column(gettext_lazy("Code"), "code", "code", link=True),
        Column(gettext_lazy("Name"), "name", "name", link=True),
        Column(gettext_lazy("Address"), "address"),
        Column(gettext_lazy("Warehouse keeper"), "keeper"),
    ]

    def get_queryset(self):
        qs = Warehouse.objects.select_related("keeper")
        return qs.archived() if self.request.GET.get("archived") == "1" else qs.active()


warehouses = login_required(WarehouseList.as_view())


# --- warehouses -----------------------------------------------------------------------------------


@page(WAREHOUSES)
def warehouse_form(request, pk=None):
    wh = _get(Warehouse, pk) if pk else Warehouse()
    form = WarehouseForm(request.POST or None, instance=wh)
    if request.method == "POST" and form.is_valid():
        try:
            wh = services.save_warehouse(form.save(commit=False), by=request.user)
        except DomainError as exc:
            field = exc.details.get("field")
            form.add_error(field if field in form.fields else None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect(wh.get_absolute_url())
    title = _("Edit warehouse") if pk else _("New warehouse")
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": wh.get_absolute_url() if pk else reverse("inventory:warehouses"),
            "breadcrumbs": _crumbs((_("Warehouses"), reverse("inventory:warehouses")), (title, None)),
        },
    )


@page(VIEW, WAREHOUSES)
def warehouse_detail(request, pk):
    wh = _get(Warehouse.objects.select_related("keeper"), pk)
    loc_form = LocationForm(prefix="loc")
    ss_form = SafetyStockForm(prefix="ss")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "location":
            loc_form = LocationForm(request.POST, prefix="loc")
            if loc_form.is_valid():
                run_service(
                    request,
                    services.add_location,
                    wh,
                    by=request.user,
                    success=_("Location added."),
                    **loc_form.cleaned_data,
                )
                return redirect(wh.get_absolute_url() + "#locations")
        elif action == "delete_location":
            loc = _get(Location.objects.filter(warehouse=wh), request.POST.get("location"))
            run_service(
                request, services.delete_location, loc, by=request.user, success=_("Location removed.")
            )
            return redirect(wh.get_absolute_url() + "#locations")
        elif action == "safety":
            ss_form = SafetyStockForm(request.POST, prefix="ss")
            if ss_form.is_valid():
                d = ss_form.cleaned_data
                ok, _r = run_service(
                    request,
                    services.set_safety_stock,
                    d["product"],
                    wh,
                    minimum=d["minimum"],
                    maximum=d["maximum"],
                    by=request.user,
                    success=_("Safety stock saved."),
                )
                return redirect(wh.get_absolute_url() + "#safety")
        elif action in ("archive", "restore"):
            func = services.restore_warehouse if action == "restore" else services.archive_warehouse
            run_service(
                request,
                func,
                wh,
                by=request.user,
                success=_("Restored.") if action == "restore" else _("Archived."),
            )
            return redirect(wh.get_absolute_url())
    from .models import SafetyStock

    ctx = {
        "title": str(wh),
        "wh": wh,
        "locations": wh.locations.all(),
        "safety": SafetyStock.objects.filter(warehouse=wh)
        .select_related("product")
        .order_by("product__code"),
        "alerts": {a["product"].pk for a in selectors.safety_alerts([wh.pk])},
        "loc_form": loc_form,
        "ss_form": ss_form,
        "can_edit": _can(request.user, WAREHOUSES),
        "summary": wh.balances.filter(quantity__gt=0).count(),
        "history": history_for(wh),
        "breadcrumbs": _crumbs((_("Warehouses"), reverse("inventory:warehouses")), (str(wh), None)),
    }
    return render(request, "inventory/warehouse_detail.html", ctx)


# --- document lines from a form -------------------------------------------------------------------


def _lines_from_post(post) -> list[dict]:
    names = ("product", "quantity", "batch", "unit_cost", "serials", "production_date", "production_line")
    cols = {n: post.getlist(n) for n in names}
    count = len(cols["product"])
    rows = []
    for i in range(count):
        row = {n: (cols[n][i] if i < len(cols[n]) else "") for n in names}
        if not row["product"] and not row["quantity"].strip() and not row["serials"].strip():
            continue
        row["product"] = int(row["product"]) if str(row["product"]).isdigit() else 0
        row["production_date"] = row["production_date"] or None
        rows.append(row)
    return rows


def _line_rows_for_form(lines) -> list[dict]:
    return [
        {
            "product": ln.product_id,
            "quantity": _fmt_qty(ln.quantity),
            "batch": ln.batch,
            "unit_cost": "" if getattr(ln, "unit_cost", None) is None else ln.unit_cost.normalize(),
            "serials": ln.serials,
            "production_date": getattr(ln, "production_date", None) and ln.production_date.isoformat(),
            "production_line": getattr(ln, "production_line", ""),
        }
        for ln in lines
    ]


PICKER_FIELDS = ("pk", "code", "name", "spec", "tracking", "serial_prefix")


def _product_label(p: dict) -> str:
    return " ".join(x for x in (p["code"], p["name"], p["spec"]) if x)


def _lines_with_picked(lines) -> list[dict]:
    """The form's line rows, each with the product it names (only active ones): the picker renders
    just that option, the rest load as you type (``product_options``)."""
    ids = {ln.get("product") for ln in lines if ln.get("product")}
    found = {p["pk"]: p for p in Product.objects.active().filter(pk__in=ids).values(*PICKER_FIELDS)}
    for p in found.values():
        p["label"] = _product_label(p)
    return [{**ln, "picked": found.get(ln.get("product"))} for ln in lines]


def _check_line_products(lines) -> str | None:
    """Every line's product must exist and be active (the picker only offers those)."""
    ids = {ln["product"] for ln in lines}
    if not ids:
        return None
    if Product.objects.active().filter(pk__in=ids).count() != len(ids):
        return _("A product was not found; reload the page.")
    return None


def _line_error(exc: DomainError) -> str:
    bad = exc.details.get("serials")
    if isinstance(bad, dict) and bad:
        return str(exc)
    return str(exc)


# --- stock notes ----------------------------------------------------------------------------------


@page(EDIT)
def note_form(request, kind=None, pk=None):
    note = _get(StockNote.objects.select_related("warehouse"), pk) if pk else None
    kind = note.kind if note else kind
    if note and note.status != DocStatus.DRAFT:
        messages.error(request, _("%(number)s is posted and read-only.") % {"number": note.number})
        return redirect(note.get_absolute_url())
    initial = {}
    if note:
        initial = {
            "warehouse": note.warehouse_id,
            "reason": note.reason,
            "partner": note.partner,
            "customer": note.customer_id,
            "notes": note.notes,
        }
    form = NoteHeaderForm(request.POST or None, kind=kind, user=request.user, initial=initial)
    lines = (
        _lines_from_post(request.POST)
        if request.method == "POST"
        else (_line_rows_for_form(note.lines.all()) if note else [])
    )
    line_error = _check_line_products(lines) if request.method == "POST" else None
    if request.method == "POST" and form.is_valid() and not line_error:
        d = form.cleaned_data
        try:
            with transaction.atomic():  # "save and post": a refused posting saves nothing either
                note = _save_note(request, note, kind, d, lines)
            return redirect(note.get_absolute_url())
        except DomainError as exc:
            field = exc.details.get("field")
            if field in form.fields:
                form.add_error(field, str(exc))
            else:
                line_error = _line_error(exc)
    is_receipt = kind == StockNote.Kind.RECEIPT
    title = (
        _("Edit %(number)s") % {"number": note.number}
        if note
        else (_("New goods receipt") if is_receipt else _("New goods issue"))
    )
    return _render_note_form(request, form, note, lines, line_error, title, is_receipt)


def _save_note(request, note, kind, d, lines):
    if note:
        note = services.update_note(
            note,
            warehouse=d["warehouse"],
            reason=d["reason"],
            lines=lines,
            partner=d["partner"],
            customer=d["customer"],
            notes=d["notes"],
            by=request.user,
        )
    else:
        note = services.create_note(
            kind=kind,
            warehouse=d["warehouse"],
            reason=d["reason"],
            lines=lines,
            partner=d["partner"],
            customer=d["customer"],
            notes=d["notes"],
            by=request.user,
        )
    if request.POST.get("then") == "post":
        if not _can(request.user, POST):
            raise PermissionDenied
        services.post_note(note, by=request.user)
        messages.success(request, _("%(number)s posted.") % {"number": note.number})
    else:
        messages.success(request, _("%(number)s saved as a draft.") % {"number": note.number})
    return note


def _render_note_form(request, form, note, lines, line_error, title, is_receipt):
    list_url = reverse("inventory:receipts" if is_receipt else "inventory:issues")
    return render(
        request,
        "inventory/doc_form.html",
        {
            "title": title,
            "form": form,
            "doc": note,
            "lines": _lines_with_picked(lines or [{}]),
            "line_error": line_error,
            "with_cost": is_receipt,
            "with_production": is_receipt,
            "serial_mode": "in" if is_receipt else "out",
            "can_post": _can(request.user, POST),
            "cancel_url": note.get_absolute_url() if note else list_url,
            "breadcrumbs": _crumbs(
                (_("Goods receipts") if is_receipt else _("Goods issues"), list_url), (title, None)
            ),
        },
    )


def _doc_moves(doc_type, pk):
    return list(
        StockMove.objects.filter(doc_type=doc_type, doc_id=pk)
        .select_related("product", "warehouse")
        .order_by("pk")
    )


@page(VIEW, POST)
def note_detail(request, pk):
    note = _get(
        StockNote.objects.select_related("warehouse", "customer", "created_by", "posted_by", "reverses"), pk
    )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "post":
            run_service(
                request,
                services.post_note,
                note,
                by=request.user,
                success=_("%(number)s posted.") % {"number": note.number},
            )
        elif action == "reverse":
            ok, rev = run_service(request, services.reverse_note, note, by=request.user)
            if ok:
                messages.success(request, _("Reversed by %(number)s.") % {"number": rev.number})
                return redirect(rev.get_absolute_url())
        elif action == "cancel":
            if not _can(request.user, EDIT):
                raise PermissionDenied
            run_service(request, services.cancel_note, note, by=request.user, success=_("Cancelled."))
        return redirect(note.get_absolute_url())
    lines = list(note.lines.select_related("product", "product__unit"))
    reversed_by = StockNote.objects.filter(reverses=note).first()
    is_receipt = note.kind == StockNote.Kind.RECEIPT
    list_url = reverse("inventory:receipts" if is_receipt else "inventory:issues")
    return render(
        request,
        "inventory/note_detail.html",
        {
            "title": f"{note.get_kind_display()} {note.number}",
            "note": note,
            "lines": lines,
            "moves": _doc_moves(note.doc_type, note.pk),
            "reversed_by": reversed_by,
            "has_serials": any(ln.serials for ln in lines),
            "can_edit": _can(request.user, EDIT),
            "can_post": _can(request.user, POST),
            "can_cost": request.user.has_right(COST),
            "label_form": LabelForm(),
            "history": history_for(note),
            "breadcrumbs": _crumbs(
                (_("Goods receipts") if is_receipt else _("Goods issues"), list_url), (note.number, None)
            ),
        },
    )


# --- transfers ------------------------------------------------------------------------------------


@page(EDIT)
def transfer_form(request, pk=None):
    tr = _get(Transfer, pk) if pk else None
    if tr and tr.status != DocStatus.DRAFT:
        messages.error(request, _("%(number)s is posted and read-only.") % {"number": tr.number})
        return redirect(tr.get_absolute_url())
    initial = (
        {"from_warehouse": tr.from_warehouse_id, "to_warehouse": tr.to_warehouse_id, "notes": tr.notes}
        if tr
        else {}
    )
    form = TransferHeaderForm(request.POST or None, initial=initial)
    lines = (
        _lines_from_post(request.POST)
        if request.method == "POST"
        else (_line_rows_for_form(tr.lines.all()) if tr else [])
    )
    line_error = _check_line_products(lines) if request.method == "POST" else None
    if request.method == "POST" and form.is_valid() and not line_error:
        d = form.cleaned_data
        try:
            with transaction.atomic():
                tr = _save_transfer(request, tr, d, lines)
            return redirect(tr.get_absolute_url())
        except DomainError as exc:
            field = exc.details.get("field")
            if field in form.fields:
                form.add_error(field, str(exc))
            else:
                line_error = str(exc)
    return _render_transfer_form(request, form, tr, lines, line_error)


def _save_transfer(request, tr, d, lines):
    kwargs = {
        "from_warehouse": d["from_warehouse"],
        "to_warehouse": d["to_warehouse"],
        "lines": lines,
        "notes": d["notes"],
        "by": request.user,
    }
    tr = services.update_transfer(tr, **kwargs) if tr else services.create_transfer(**kwargs)
    if request.POST.get("then") == "post":
        if not _can(request.user, POST):
            raise PermissionDenied
        services.post_transfer(tr, by=request.user)
        messages.success(request, _("%(number)s posted.") % {"number": tr.number})
    else:
        messages.success(request, _("%(number)s saved as a draft.") % {"number": tr.number})
    return tr


def _render_transfer_form(request, form, tr, lines, line_error):
    title = _("Edit %(number)s") % {"number": tr.number} if tr else _("New transfer")
    return render(
        request,
        "inventory/doc_form.html",
        {
            "title": title,
            "form": form,
            "doc": tr,
            "lines": _lines_with_picked(lines or [{}]),
            "line_error": line_error,
            "with_cost": False,
            "with_production": False,
            "serial_mode": "transfer",
            "can_post": _can(request.user, POST),
            "cancel_url": tr.get_absolute_url() if tr else reverse("inventory:transfers"),
            "breadcrumbs": _crumbs((_("Transfers"), reverse("inventory:transfers")), (title, None)),
        },
    )


@page(VIEW, POST)
def transfer_detail(request, pk):
    tr = _get(
        Transfer.objects.select_related("from_warehouse", "to_warehouse", "created_by", "posted_by"), pk
    )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "post":
            run_service(
                request,
                services.post_transfer,
                tr,
                by=request.user,
                success=_("%(number)s posted.") % {"number": tr.number},
            )
        elif action == "cancel":
            run_service(request, services.cancel_transfer, tr, by=request.user, success=_("Cancelled."))
        return redirect(tr.get_absolute_url())
    return render(
        request,
        "inventory/transfer_detail.html",
        {
            "title": f"{_('Transfer')} {tr.number}",
            "tr": tr,
            "lines": list(tr.lines.select_related("product", "product__unit")),
            "moves": _doc_moves("transfer", tr.pk),
            "can_edit": _can(request.user, EDIT),
            "can_post": _can(request.user, POST),
            "can_cost": request.user.has_right(COST),
            "history": history_for(tr),
            "breadcrumbs": _crumbs((_("Transfers"), reverse("inventory:transfers")), (tr.number, None)),
        },
    )


# --- stocktakes -----------------------------------------------------------------------------------


@page(STOCKTAKE)
def stocktake_create(request):
    form = StocktakeStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        ok, st = run_service(
            request,
            services.start_stocktake,
            warehouse=d["warehouse"],
            category=d["category"],
            notes=d["notes"],
            by=request.user,
            success=_("Snapshot taken: start counting."),
        )
        if ok:
            return redirect(st.get_absolute_url())
    title = _("New stocktake")
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": reverse("inventory:stocktakes"),
            "breadcrumbs": _crumbs((_("Stocktakes"), reverse("inventory:stocktakes")), (title, None)),
        },
    )


@page(VIEW, STOCKTAKE)
def stocktake_detail(request, pk):
    st = _get(Stocktake.objects.select_related("warehouse", "category", "created_by", "posted_by"), pk)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "counts":
            counts = []
            for key, value in request.POST.items():
                if key.startswith("count-") and value.strip() != "":
                    pid, _sep, batch = key[6:].partition("|")
                    counts.append(
                        {"product": int(pid) if pid.isdigit() else 0, "batch": batch, "quantity": value}
                    )
            if counts:
                run_service(
                    request, services.enter_counts, st, counts, by=request.user, success=_("Counts saved.")
                )
        elif action == "import":  # a background job: the file may have tens of thousands of rows
            form = CountImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    job = inventory_jobs.start_count_import(
                        st,
                        form.cleaned_data["file"],
                        by=request.user,
                        language=translation.get_language() or "",
                    )
                except DomainError as exc:
                    messages.error(request, str(exc))
                else:
                    messages.info(
                        request, _("The counts are imported in the background; this page shows the progress.")
                    )
                    return redirect(job.get_absolute_url())
            else:
                messages.error(request, _("Choose a file."))
        elif action == "serials":
            ok, res = run_service(
                request, services.count_serials, st, request.POST.get("serials", ""), by=request.user
            )
            if ok:
                messages.success(request, _("%(n)s serial numbers counted.") % {"n": res["counted"]})
                for s, why in list(res["errors"].items())[:20]:
                    messages.error(request, f"{s}: {why}")
        elif action == "post":
            run_service(request, services.post_stocktake, st, by=request.user, success=_("Stocktake posted."))
        elif action == "cancel":
            run_service(request, services.cancel_stocktake, st, by=request.user, success=_("Cancelled."))
        return redirect(st.get_absolute_url())
    lines = list(st.lines.select_related("product", "product__unit"))
    serial_rows = st.serials.select_related("product", "unit")
    book = serial_rows.filter(in_book=True).count()
    counted = serial_rows.filter(counted=True).count()
    missing = list(serial_rows.filter(in_book=True, counted=False).order_by("serial")[:200])
    return render(
        request,
        "inventory/stocktake_detail.html",
        {
            "title": f"{_('Stocktake')} {st.number}",
            "st": st,
            "lines": [ln for ln in lines if not ln.product.is_serial],
            "serial_lines": [ln for ln in lines if ln.product.is_serial],
            "serial_book": book,
            "serial_counted": counted,
            "serial_missing": missing,
            "moved_lines": sum(1 for ln in lines if ln.moved_quantity),
            "counting": st.status == Stocktake.Status.COUNTING,
            "can_count": _can(request.user, STOCKTAKE),
            "import_form": CountImportForm(),
            "count_imports": _count_imports(request.user, st),
            "moves": _doc_moves("stocktake", st.pk),
            "history": history_for(st),
            "breadcrumbs": _crumbs((_("Stocktakes"), reverse("inventory:stocktakes")), (st.number, None)),
        },
    )


@page(STOCKTAKE)
@require_POST
def stocktake_scan(request, pk):
    """The scanner's endpoint: count one serial, answer JSON at once."""
    st = _get(Stocktake, pk)
    try:
        res = services.count_serials(st, [request.POST.get("serial", "")], by=request.user)
    except DomainError as exc:
        return JsonResponse({"ok": False, "message": str(exc)}, status=exc.status)
    serial = request.POST.get("serial", "").strip()
    if res["errors"]:
        return JsonResponse({"ok": False, "message": next(iter(res["errors"].values()))})
    if res["repeated"]:
        return JsonResponse({"ok": False, "message": _("already counted")})
    return JsonResponse({"ok": True, "serial": serial, "counted": st.serials.filter(counted=True).count()})


# --- serial numbers -------------------------------------------------------------------------------


@page(VIEW)
def serial_detail(request, pk):
    unit = _get(selectors.serial_units(), pk)
    events = selectors.serial_history(unit)
    for e in events:
        e.url = services.source_url(e.doc_type, e.doc_id)
        e.label = _event_label(e.kind)
    same = SerialUnit.objects.filter(serial=unit.serial).exclude(pk=unit.pk).select_related("product")[:5]
    return render(
        request,
        "inventory/serial_detail.html",
        {
            "title": f"{_('Serial number')} {unit.serial}",
            "unit": unit,
            "events": events,
            "same_serial": same,
            "today": timezone.localdate(),
            "label_form": LabelForm(),
            "breadcrumbs": _crumbs((_("Serial numbers"), reverse("inventory:serials")), (unit.serial, None)),
        },
    )


def _event_label(kind: str) -> str:
    from .models import Reason

    reversal = kind.startswith("reversal:")
    code = kind.split(":", 1)[1] if reversal else kind
    label = str(Reason(code).label) if code in Reason.values else code
    return _("%(what)s (reversal)") % {"what": label} if reversal else label


@page(VIEW)
def serial_check(request):
    """For the scanner and the paste box: may this serial move in this document?  JSON
    ``{"ok": bool, "message": str}``.  ``mode`` is in (a receipt), out (an issue) or transfer."""
    product = Product.objects.filter(pk=request.GET.get("product") or 0).first()
    if product is None:
        return JsonResponse({"ok": False, "message": _("Choose the product first.")})
    serial = request.GET.get("serial", "").strip()
    mode = request.GET.get("mode", "in")
    reason = request.GET.get("reason") or ("purchase_receipt" if mode == "in" else "sales_issue")
    if mode == "transfer":
        reason = "transfer"
    warehouse = request.GET.get("warehouse")
    wh_id = int(warehouse) if warehouse and warehouse.isdigit() else None
    problem = services.check_serial(
        product, serial, sign=1 if mode == "in" else -1, reason=reason, warehouse_id=wh_id
    )
    return JsonResponse({"ok": problem is None, "serial": serial, "message": problem or _("OK")})


@page(VIEW)
def serial_generate(request):
    """The generation rule (prefix + date + sequence): the next free serials of a product."""
    from datetime import date as _date

    product = Product.objects.filter(pk=request.GET.get("product") or 0).first()
    if product is None:
        return JsonResponse({"ok": False, "message": _("Choose the product first.")}, status=400)
    prefix = request.GET.get("prefix", product.serial_prefix or "").strip()
    try:
        on = _date.fromisoformat(request.GET.get("date") or timezone.localdate().isoformat())
        count = int(request.GET.get("count") or 0)
        start = int(request.GET.get("start") or services.next_serial_start(product, prefix, on))
        serials = services.generate_serials(prefix, on, start, count)
    except (ValueError, DomainError) as exc:
        return JsonResponse({"ok": False, "message": str(exc)}, status=400)
    return JsonResponse({"ok": True, "serials": serials})


@page(VIEW)
def serial_labels(request):
    """Code 128 / QR labels of serial units as a PDF: ``?ids=1,2`` or ``?note=<id>`` (its serials)."""
    try:
        from kehu.catalog.labels import labels_pdf
    except ImportError:
        raise Http404
    form = LabelForm(request.GET or None)
    layout, symbology, copies = "roll_50x30", "both", 1
    if form.is_valid():
        layout, symbology, copies = (
            form.cleaned_data["layout"],
            form.cleaned_data["symbology"],
            form.cleaned_data["copies"],
        )
    units = SerialUnit.objects.select_related("product")
    if request.GET.get("note"):
        note = _get(StockNote, request.GET["note"])
        wanted = [(ln.product_id, s) for ln in note.lines.all() for s in ln.serial_list]
        serial_set = {s for _p, s in wanted}
        found = {(u.product_id, u.serial): u for u in units.filter(serial__in=serial_set)}
        chosen = [found[k] for k in wanted if k in found]
    else:
        ids = [int(x) for x in request.GET.get("ids", "").split(",") if x.strip().isdigit()]
        chosen = list(units.filter(pk__in=ids).order_by("serial"))
    if not chosen:
        raise Http404
    items = [
        (f"{u.product.name} {u.product.spec}".strip(), f"SN {u.serial} · {u.product.code}", u.serial)
        for u in chosen
    ]
    try:
        pdf = labels_pdf(items, layout=layout, copies=copies, symbology=symbology)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect(request.META.get("HTTP_REFERER") or reverse("inventory:serials"))
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = 'inline; filename="serial-labels.pdf"'
    return resp


# --- reports --------------------------------------------------------------------------------------


@page(VIEW)
def alerts(request):
    wh = request.GET.get("warehouse")
    rows = selectors.safety_alerts([int(wh)] if wh and wh.isdigit() else None)
    if request.GET.get("export") == "xlsx":
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return xlsx_response(
            f"safety-stock-alerts-{stamp}.xlsx",
            [
                _("Product code"),
                _("Product"),
                _("Warehouse"),
                _("On hand"),
                _("Safety stock"),
                _("Shortage"),
                _("Suggested replenishment"),
            ],
            (
                [
                    r["product"].code,
                    r["product"].name,
                    r["warehouse"].name,
                    r["quantity"],
                    r["minimum"],
                    r["shortage"],
                    r["suggested"],
                ]
                for r in rows
            ),
        )
    return render(
        request,
        "inventory/alerts.html",
        {
            "title": _("Safety-stock alerts"),
            "rows": rows,
            "warehouses": Warehouse.objects.active(),
            "warehouse": wh,
            "breadcrumbs": _crumbs((_("Safety-stock alerts"), None)),
        },
    )


MONTHLY_PAGE_SIZE = 100


@page(VIEW)
def monthly(request):
    """收发存 of one month: a page of rows at a time, the value totals of all of them; the Excel export
    holds every row."""
    data = request.GET.copy()
    if not data.get("month"):  # this month, also when only a product or a warehouse is chosen
        data["month"] = timezone.localdate().strftime("%Y-%m")
    form = MonthForm(data)
    rows, ym = [], None
    if form.is_valid():
        ym = form.cleaned_data["month"]
    if ym:
        product_ids = None
        q = (request.GET.get("q") or "").strip()
        if q:
            from .filters import product_q

            product_ids = list(Product.objects.filter(product_q("", q)).values_list("pk", flat=True)[:5000])
        wh = request.GET.get("warehouse")
        rows = selectors.monthly_summary(
            ym[0], ym[1], warehouse_id=int(wh) if wh and wh.isdigit() else None, product_ids=product_ids
        )
    see_cost = request.user.has_right(COST)
    if ym and request.GET.get("export") == "xlsx":
        head = [
            _("Product code"),
            _("Product"),
            _("Warehouse"),
            _("Opening"),
            _("In"),
            _("Out"),
            _("Closing"),
        ]
        if see_cost:
            head += [_("Opening value"), _("In value"), _("Out value"), _("Closing value")]

        def cells(r):
            base = [
                r.product.code,
                r.product.name,
                r.warehouse.name,
                r.opening,
                r.received,
                r.issued,
                r.closing,
            ]
            return base + (
                [r.opening_value, r.received_value, r.issued_value, r.closing_value] if see_cost else []
            )

        return xlsx_response(f"stock-summary-{ym[0]}{ym[1]:02d}.xlsx", head, (cells(r) for r in rows))
    totals = rows.totals if rows and see_cost else None
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/monthly.html",
        {
            "title": _("Stock summary (收发存)"),
            "form": form,
            "page": Paginator(rows, MONTHLY_PAGE_SIZE).get_page(request.GET.get("page")),
            "query_without_page": query.urlencode(),
            "ym": ym,
            "see_cost": see_cost,
            "totals": totals,
            "breadcrumbs": _crumbs((_("Stock summary (收发存)"), None)),
        },
    )


@page(RECALL)
def recall(request):
    form = RecallForm(request.GET or None)
    units = None
    if request.GET and form.is_valid():
        d = form.cleaned_data
        units = selectors.recall_units(
            d["product"], batch=d["batch"], produced_from=d["produced_from"], produced_to=d["produced_to"]
        )
    page_units, summary = None, None
    if units is not None:
        summary = {r["status"]: r["n"] for r in units.order_by().values("status").annotate(n=Count("id"))}
        summary = [(SerialUnit.Status(k).label, v) for k, v in summary.items()]
        page_units = Paginator(units, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/recall.html",
        {
            "title": _("Batch recall"),
            "form": form,
            "page": page_units,
            "summary": summary,
            "query": query.urlencode(),
            "export_fields": [
                (name, request.GET.get(name, ""))
                for name in ("product", "batch", "produced_from", "produced_to")
            ],
            "breadcrumbs": _crumbs((_("Batch recall"), None)),
        },
    )


@login_required
@require_POST
def recall_export(request):
    """The recall list as Excel, written by a background job (a recall may concern tens of thousands
    of units); answers with the job's page, its progress bar and then its download.  An export
    writes no business data: read-only users with the right may export too."""
    user = request.user
    if not (user.has_right(VIEW) and user.has_right(RECALL)):
        raise PermissionDenied
    form = RecallForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
        fields = {k: request.POST.get(k, "") for k in ("product", "batch", "produced_from", "produced_to")}
        from urllib.parse import urlencode

        return redirect(reverse("inventory:recall") + "?" + urlencode(fields))
    job = inventory_jobs.start_recall_export(
        form.cleaned_data, by=user, language=translation.get_language() or ""
    )
    messages.info(request, _("The recall list is written in the background; this page shows the progress."))
    return redirect(job.get_absolute_url())


@page(RECALL)
@require_GET
def recall_product_options(request):
    """The recall picker's search (JSON): serial-tracked products only, discontinued and archived
    ones too (a recall often concerns products no longer sold), by code, name, specification,
    brand, barcode or pinyin initials, at most 20.  Needs the recall right, like the page."""
    from kehu.catalog.selectors import product_search_q

    q = (request.GET.get("q") or "").strip()
    qs = recall_products()
    if q:
        qs = qs.filter(product_search_q(q))
    rows = qs.order_by("code").values(*PICKER_FIELDS, "archived_at", "is_active")[:20]
    return JsonResponse(
        {
            "results": [
                {
                    "value": r["pk"],
                    "text": product_label(
                        r["code"],
                        r["name"],
                        r["spec"],
                        archived=r["archived_at"] is not None,
                        active=r["is_active"],
                    ),
                    "tracking": r["tracking"],
                    "prefix": r["serial_prefix"],
                }
                for r in rows
            ]
        }
    )


def _count_imports(user, st) -> list:
    """The count imports of this stocktake the user may see, newest first (their job pages)."""
    from kehu.core.selectors import jobs_visible_to

    return list(
        jobs_visible_to(user)
        .filter(name=inventory_jobs.COUNT_IMPORT, params__stocktake=st.pk)
        .order_by("-created_at")[:5]
    )


@page(VIEW)
def job_file(request, pk):
    """The file an inventory job wrote (a recall export, a count import's bad rows): only for who
    may see the job (its creator; an administrator) — 404 otherwise — and has the job's right."""
    from kehu.core.models import Job
    from kehu.core.selectors import jobs_visible_to

    job = (
        jobs_visible_to(request.user)
        .filter(pk=pk, name__in=list(inventory_jobs.FILE_RIGHTS), status=Job.Status.SUCCEEDED)
        .first()
    )
    if job is None:
        raise Http404
    if not request.user.has_right(inventory_jobs.FILE_RIGHTS[job.name]):
        raise PermissionDenied
    path = inventory_jobs.job_file(job)
    if path is None:
        raise Http404
    name = job.result.get("download_name") or path.name
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name)  # noqa: SIM115


@page(VIEW)
def customer_options(request):
    """Customers in the user's scope matching ``q`` (name, pinyin, number, phone), for the picker."""
    from kehu.core.scopes import visible_to
    from kehu.customers.filters import customer_search_q
    from kehu.customers.models import Customer

    q = (request.GET.get("q") or "").strip()
    qs = visible_to(Customer.objects.active(), request.user)
    if q:
        qs = qs.filter(customer_search_q(q))
    rows = qs.order_by("name").values("pk", "number", "name")[:20]
    return JsonResponse({"results": [{"value": r["pk"], "text": f"{r['number']} {r['name']}"} for r in rows]})


@page()
def product_options(request):
    """The line product picker's search (JSON): active products by code, name, specification,
    brand, barcode or pinyin initials (the catalog's product search), at most 20."""
    from kehu.catalog.selectors import product_search_q

    q = (request.GET.get("q") or "").strip()
    qs = Product.objects.active()
    if q:
        qs = qs.filter(product_search_q(q))
    rows = qs.order_by("code").values(*PICKER_FIELDS)[:20]
    return JsonResponse(
        {
            "results": [
                {
                    "value": r["pk"],
                    "text": _product_label(r),
                    "tracking": r["tracking"],
                    "prefix": r["serial_prefix"],
                }
                for r in rows
            ]
        }
    )


# --- dashboard card, product panel, customer panel --------------------------------------------------


def dashboard_card(user):
    rows = selectors.safety_alerts(limit=8)
    return {"rows": rows, "url": reverse("inventory:alerts")}


def product_panel_context(request, product):
    data = {
        "rows": selectors.product_stock(product),
        "can_cost": request.user.has_right(COST),
        "stock_url": reverse("inventory:stock") + f"?q={product.code}",
        "moves_url": reverse("inventory:moves") + f"?q={product.code}",
    }
    if product.is_serial:
        data["serials_url"] = reverse("inventory:serials") + f"?q={product.code}"
        data["in_stock"] = SerialUnit.objects.filter(
            product=product, status__in=["in_stock", "returned"]
        ).count()
    return data


def customer_panel_context(request, customer):
    units = list(selectors.customer_units(customer)[:50])
    return {
        "units": units,
        "today": timezone.localdate(),
        "more_url": reverse("inventory:serials") + f"?customer={customer.name}",
    }
