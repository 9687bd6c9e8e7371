"""Product centre pages (商品中心): the product list, the product page with its images, history and
the cards other modules add (:mod:`kehu.catalog.panels`), the form, the category tree and labels.

Product data is company-wide: ``catalog.view`` opens the pages (403 without it), ``catalog.edit``
changes products and categories, ``catalog.export`` exports; an unknown id answers 404."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.errors import DomainError
from kehu.core.selectors import history_for
from kehu.core.ui import Column, run_service
from kehu.customers.views import ModuleList

from . import labels, services
from .filters import ProductFilter
from .forms import CategoryForm, ImageForm, LabelForm, ProductForm
from .models import Category, Product, ProductImage
from .panels import panels_for
from .selectors import brands, category_path, category_paths, category_tree, product_detail, products

VIEW, EDIT, EXPORT, IMPORT = services.VIEW, services.EDIT, services.EXPORT, services.IMPORT
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MODULE = (gettext_lazy("Inventory"), None)
MAX_LABEL_PRODUCTS = 500


def page(right: str = VIEW, write_right: str | None = EDIT):
    """Log-in and ``catalog.view`` (and ``right``) to open; POSTs also need ``write_right`` and a
    user who is not read-only (``write_right=None``: a POST that changes nothing).  Otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not (user.has_right(VIEW) and user.has_right(right)):
                raise PermissionDenied
            if (
                write_right is not None
                and request.method not in SAFE_METHODS
                and (user.is_read_only or not user.has_right(write_right))
            ):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def can_edit(user) -> bool:
    return user.has_right(EDIT) and not user.is_read_only


def _product_or_404(pk) -> Product:
    try:
        return Product.objects.get(pk=pk)
    except (Product.DoesNotExist, ValueError, TypeError):
        raise Http404


def _list_crumb():
    return (_("Products"), reverse("catalog:list"))


def _form_error(form, exc: DomainError) -> None:
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, str(exc))


# --- the list -----------------------------------------------------------------------------------------


def _tracking(p):
    return p.get_tracking_display()


def _status(p):
    return _("On sale") if p.is_active else _("Discontinued")


PRODUCT_COLUMNS = [
    Column(gettext_lazy("Code"), "code", "code", link=True, template="catalog/cells/code.html"),
    Column(gettext_lazy("Name"), "name", "name", link=True, template="catalog/cells/name.html"),
    Column(gettext_lazy("Specification / model"), "spec", "spec"),
    Column(gettext_lazy("Category"), "category", "category__name"),
    Column(gettext_lazy("Brand"), "brand", "brand"),
    Column(gettext_lazy("Unit"), "unit"),
    Column(gettext_lazy("List price"), "list_price", "list_price", template="catalog/cells/money.html"),
    Column(gettext_lazy("Tracking"), _tracking, "tracking", template="catalog/cells/tracking.html"),
    Column(gettext_lazy("Status"), _status, "is_active", template="catalog/cells/status.html"),
]


def _export_columns():
    paths = category_paths()
    return [
        Column(gettext_lazy("Product code"), "code"),
        Column(gettext_lazy("Name"), "name"),
        Column(gettext_lazy("Specification / model"), "spec"),
        Column(gettext_lazy("Category"), lambda p: paths.get(p.category_id, "")),
        Column(gettext_lazy("Brand"), "brand"),
        Column(gettext_lazy("Unit"), "unit"),
        Column(gettext_lazy("Quantity decimals"), "quantity_decimals"),
        Column(gettext_lazy("List price"), "list_price"),
        Column(gettext_lazy("Standard cost"), "standard_cost"),
        Column(gettext_lazy("Tax rate (%)"), "tax_rate"),
        Column(gettext_lazy("Barcode"), "barcode"),
        Column(gettext_lazy("Tracking"), _tracking),
        Column(gettext_lazy("Serial number prefix"), "serial_prefix"),
        Column(gettext_lazy("Warranty (months)"), "warranty_months"),
        Column(gettext_lazy("Status"), _status),
        Column(gettext_lazy("Notes"), "notes"),
        Column(gettext_lazy("Created"), "created_at"),
    ]


class ProductListView(ModuleList):
    """商品列表: filters, sort, pagination, Excel export of what is filtered, label printing of the
    selected rows."""

    title = gettext_lazy("Products")
    template_name = "catalog/product_list.html"
    right = VIEW
    write_right = EDIT
    export_right = EXPORT
    breadcrumbs = [MODULE]
    filterset_class = ProductFilter
    filter_main = 5
    card_title = 1
    archivable = True
    default_sort = "code"
    export_name = "products"
    create_url = "catalog:create"
    create_right = EDIT

    @property
    def columns(self):
        if self.request.GET.get("export") == "xlsx":
            if not hasattr(self, "_export"):
                self._export = _export_columns()
            return self._export
        return PRODUCT_COLUMNS

    def sort_options(self):
        return {c.sort: c.sort for c in PRODUCT_COLUMNS if c.sort} | {"created_at": "created_at"}

    def get_queryset(self):
        qs = products()
        return qs.archived() if self.request.GET.get("archived") == "1" else qs.active()

    def more_context(self):
        user = self.request.user
        return {
            "can_import": user.has_right(IMPORT) and not user.is_read_only,
            "can_edit": can_edit(user),
            "label_form": LabelForm(),
        }


product_list = ProductListView.as_view()


# --- create and edit ----------------------------------------------------------------------------------


def _product_form(request, product: Product | None):
    creating = product is None
    initial = None
    if creating:
        initial = {
            "tracking": Product.Tracking.NONE,
            "tax_rate": 13,
            "quantity_decimals": 0,
            "is_active": True,
        }
        initial |= {k: request.GET[k] for k in ("name", "spec", "code") if request.GET.get(k)}
    kwargs = {"initial": initial} if initial is not None else {}
    form = ProductForm(request.POST or None, product=product, **kwargs)
    duplicates = None
    if request.method == "POST" and form.is_valid():
        data = form.service_fields()
        confirm = form.cleaned_data.get("confirm_duplicate", False)
        try:
            if creating:
                saved = services.create_product(by=request.user, confirm_duplicate=confirm, **data)
            else:
                saved = services.update_product(product, by=request.user, confirm_duplicate=confirm, **data)
        except services.DuplicateProduct as exc:
            duplicates = exc.details.get("duplicates", [])
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved %(product)s.") % {"product": saved})
            return redirect(saved.get_absolute_url())
    title = _("New product") if creating else _("Edit %(code)s") % {"code": product.code}
    crumbs = [MODULE, _list_crumb()]
    if not creating:
        crumbs.append((product.code, product.get_absolute_url()))
    return render(
        request,
        "catalog/product_form.html",
        {
            "title": title,
            "form": form,
            "product": product,
            "duplicates": duplicates,
            "show_confirm": bool(duplicates) or form.data.get("confirm_duplicate"),
            "brands": brands(),
            "cancel_url": product.get_absolute_url() if product else reverse("catalog:list"),
            "breadcrumbs": crumbs + [(title, None)],
        },
    )


@page(EDIT)
def product_create(request):
    if request.user.is_read_only:
        raise PermissionDenied
    return _product_form(request, None)


@page(EDIT)
def product_edit(request, pk):
    product = _product_or_404(pk)
    if request.user.is_read_only:
        raise PermissionDenied
    return _product_form(request, product)


@page()
def duplicate_check(request):
    """The live duplicate hint of the product form (an htmx fragment)."""
    exclude = request.GET.get("exclude") or ""
    found = services.find_duplicates(
        name=request.GET.get("name", ""),
        spec=request.GET.get("spec", ""),
        exclude_pk=int(exclude) if exclude.isdigit() else None,
    )
    return render(request, "catalog/_duplicates.html", {"duplicates": found, "live": True})


# --- the product page ---------------------------------------------------------------------------------


def _history(obj):
    ct = ContentType.objects.get_for_model(type(obj))
    entries = list(history_for(obj))
    for e in entries:
        e.content_type = ct
    return entries


@page()
def product_detail_view(request, pk):
    product = product_detail(pk)
    user = request.user
    editable = can_edit(user)
    return render(
        request,
        "catalog/product_detail.html",
        {
            "title": str(product),
            "product": product,
            "images": list(product.images.all()),
            "category_path": category_path(product.category),
            "history": _history(product),
            "panels": panels_for(request, product),
            "can_edit": editable,
            "image_form": ImageForm() if editable and not product.is_archived else None,
            "label_form": LabelForm(),
            "max_images": services.MAX_IMAGES,
            "breadcrumbs": [MODULE, _list_crumb(), (product.code, None)],
        },
    )


def _action(request, pk, func, success):
    product = _product_or_404(pk)
    run_service(request, func, product, by=request.user, success=success)
    return redirect(product.get_absolute_url())


@page(EDIT)
@require_POST
def product_archive(request, pk):
    return _action(request, pk, services.archive_product, _("Archived."))


@page(EDIT)
@require_POST
def product_restore(request, pk):
    return _action(request, pk, services.restore_product, _("Restored."))


@page(EDIT)
@require_POST
def product_discontinue(request, pk):
    return _action(request, pk, services.discontinue_product, _("The product is discontinued."))


@page(EDIT)
@require_POST
def product_reactivate(request, pk):
    return _action(request, pk, services.reactivate_product, _("The product is on sale again."))


# --- images -------------------------------------------------------------------------------------------


@page(EDIT)
@require_POST
def image_upload(request, pk):
    product = _product_or_404(pk)
    form = ImageForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
    else:
        run_service(
            request,
            services.add_product_image,
            product,
            upload=form.cleaned_data["image"],
            by=request.user,
            success=_("Image added."),
        )
    return redirect(product.get_absolute_url() + "#images")


def _image_or_404(pk) -> ProductImage:
    try:
        return ProductImage.objects.select_related("product").get(pk=pk)
    except (ProductImage.DoesNotExist, ValueError, TypeError):
        raise Http404


@page(EDIT)
@require_POST
def image_delete(request, pk):
    image = _image_or_404(pk)
    run_service(request, services.remove_product_image, image, by=request.user, success=_("Image removed."))
    return redirect(image.product.get_absolute_url() + "#images")


@page(EDIT)
@require_POST
def image_main(request, pk):
    image = _image_or_404(pk)
    run_service(request, services.make_main_image, image, by=request.user, success=_("Main image set."))
    return redirect(image.product.get_absolute_url() + "#images")


@page()
def image_file(request, pk):
    """Images are served through here (``catalog.view``), never from a public media URL."""
    image = _image_or_404(pk)
    try:
        handle = image.image.open("rb")
    except (FileNotFoundError, ValueError, OSError):
        raise Http404
    response = FileResponse(handle)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- categories ---------------------------------------------------------------------------------------


def _category_or_404(pk) -> Category:
    try:
        return Category.objects.get(pk=pk)
    except (Category.DoesNotExist, ValueError, TypeError):
        raise Http404


@page()
def category_list(request):
    """商品分类: the tree with product counts; adding, renaming, moving and deleting."""
    editable = can_edit(request.user)
    form = CategoryForm(request.POST or None) if editable else None
    if request.method == "POST" and form.is_valid():
        try:
            c = services.create_category(
                name=form.cleaned_data["name"],
                parent=form.cleaned_data["parent"],
                order=form.cleaned_data["order"],
                by=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Added the category %(name)s.") % {"name": c.name})
            return redirect("catalog:categories")
    if form is not None and request.method == "GET" and request.GET.get("parent", "").isdigit():
        form = CategoryForm(initial={"parent": int(request.GET["parent"]), "order": 100})
    return render(
        request,
        "catalog/category_list.html",
        {
            "title": _("Product categories"),
            "tree": category_tree(with_counts=True),
            "form": form,
            "can_edit": editable,
            "breadcrumbs": [(gettext_lazy("Base data"), None), (_("Product categories"), None)],
        },
    )


@page(EDIT)
def category_edit(request, pk):
    category = _category_or_404(pk)
    if request.user.is_read_only:
        raise PermissionDenied
    form = CategoryForm(request.POST or None, category=category)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_category(category, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("catalog:categories")
    title = _("Edit category %(name)s") % {"name": category.name}
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": reverse("catalog:categories"),
            "history": _history(category),
            "breadcrumbs": [
                (gettext_lazy("Base data"), None),
                (_("Product categories"), reverse("catalog:categories")),
                (title, None),
            ],
        },
    )


@page(EDIT)
@require_POST
def category_delete(request, pk):
    category = _category_or_404(pk)
    run_service(request, services.delete_category, category, by=request.user, success=_("Deleted."))
    return redirect("catalog:categories")


# --- labels -------------------------------------------------------------------------------------------


def _ids(values) -> list[int]:
    out = []
    for v in values:
        for part in str(v).split(","):
            if part.strip().isdigit():
                out.append(int(part))
    return list(dict.fromkeys(out))


@page(write_right=None)  # printing labels changes nothing
def product_labels(request):
    """Labels of the chosen products: GET shows the products and the options, POST answers the PDF."""
    source = request.POST if request.method == "POST" else request.GET
    ids = _ids(source.getlist("ids"))
    if len(ids) > MAX_LABEL_PRODUCTS:
        messages.error(request, _("Choose at most %(n)s products.") % {"n": MAX_LABEL_PRODUCTS})
        ids = ids[:MAX_LABEL_PRODUCTS]
    found = {p.pk: p for p in Product.objects.filter(pk__in=ids)}
    chosen = [found[i] for i in ids if i in found]
    if ids and not chosen:
        raise Http404
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and chosen:
        try:
            pdf = labels.labels_pdf(
                labels.product_label_items(chosen),
                layout=form.cleaned_data["layout"],
                copies=form.cleaned_data["copies"],
                symbology=form.cleaned_data["symbology"],
                skip=form.cleaned_data.get("skip") or 0,
                title=_("Product labels"),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return pdf_response(pdf, f"labels-{timezone.localtime():%Y%m%d-%H%M}.pdf")
    return render(
        request,
        "catalog/labels.html",
        {
            "title": _("Print labels"),
            "products": chosen,
            "form": form,
            "breadcrumbs": [MODULE, _list_crumb(), (_("Print labels"), None)],
        },
    )


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    from urllib.parse import quote

    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return resp
