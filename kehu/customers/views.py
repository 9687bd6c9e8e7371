"""Customer pages (客户管理): lists, the 360° page, forms and the ownership actions.

Views are thin: they check the right, find the record within the user's scope (404 outside it),
parse a form, call a service from ``services`` and render.  Later modules add panels to the
customer's 360° page with :func:`register_customer_panel` (orders, receivables, service tickets,
serial units held)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.errors import DomainError
from kehu.core.selectors import history_for
from kehu.core.ui import Column, ListPage, run_service
from kehu.core.views import archive_action
from kehu.core.widgets import speed_up_selects

from . import services
from .filters import (
    OPEN_STATUSES,
    ActivityFilter,
    ChurnFilter,
    ContactFilter,
    CustomerFilter,
    PoolFilter,
    VisitFilter,
    colleagues,
    customer_search_q,
)
from .forms import (
    ActivityForm,
    AssignForm,
    CallerIdForm,
    CommentForm,
    ConfirmChurnForm,
    ContactForm,
    CustomerForm,
    DeferChurnForm,
    DocumentForm,
    ReleaseForm,
    ShareForm,
    VisitForm,
)
from .models import ChurnCase, Contact, Customer, CustomerDocument, FieldVisit
from .selectors import (
    activities_visible_to,
    caller_id_lookup,
    churn_cases_visible_to,
    contacts_visible_to,
    customer_360,
    customers_visible_to,
    pool_customers,
    visits_visible_to,
)

VIEW, EDIT, ASSIGN, EXPORT, MERGE = (
    "customers.view",
    "customers.edit",
    "customers.assign",
    "customers.export",
    "customers.merge",
)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MODULE = (gettext_lazy("Customer management"), None)


# --- panels that later modules add to the 360° page ---------------------------------------------


@dataclass(frozen=True)
class CustomerPanel:
    """A card on the customer's 360° page, filled by another module.

    ``template`` is included with ``customer`` and ``panel`` (and ``data``: what ``context(request,
    customer)`` returned) in its context; ``right`` hides the card from users without it."""

    code: str
    title: object
    template: str
    right: str | None = None
    order: int = 100
    icon: str = "grid"
    context: Callable | None = None


# Slots the later modules fill: 订单 Orders, 应收 Receivables, 服务 Services, 持有序列号 Serial
# units held.  Nothing is shown while the list is empty.
CUSTOMER_360_SLOTS: list[CustomerPanel] = []


def register_customer_panel(panel: CustomerPanel) -> None:
    """Called from another app's ``ready()``; registering the same code twice replaces it."""
    CUSTOMER_360_SLOTS[:] = [p for p in CUSTOMER_360_SLOTS if p.code != panel.code] + [panel]
    CUSTOMER_360_SLOTS.sort(key=lambda p: p.order)


# --- access ---------------------------------------------------------------------------------------


def page(right: str = VIEW, write_right: str = EDIT):
    """Log-in, ``customers.view`` and ``right`` to open; writes (POST) also need ``write_right`` and
    a user who is not read-only.  Otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not (user.has_right(VIEW) and user.has_right(right)):
                raise PermissionDenied
            if request.method not in SAFE_METHODS and (user.is_read_only or not user.has_right(write_right)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _get_or_404(queryset, **lookup):
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404


def _customer_or_404(request, pk) -> Customer:
    return _get_or_404(customers_visible_to(request.user), pk=pk)


def _detail(customer_or_pk, anchor: str = ""):
    pk = getattr(customer_or_pk, "pk", customer_or_pk)
    url = reverse("customers:detail", args=[pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _next_or(request, fallback: str) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure()):
        return nxt
    return fallback


def _form_error(form, exc: DomainError) -> None:
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, str(exc))


def _crumbs(*items):
    return [MODULE, *items]


def _list_crumb():
    return (_("Customers"), reverse("customers:list"))


def _customer_crumb(customer):
    return (customer.name, customer.get_absolute_url())


def sales_users(user):
    """Colleagues who work with customers, within the user's scope: whom a supervisor assigns to."""
    return colleagues(user).filter(roles__rights__code=EDIT).distinct()


def share_users():
    """Whom a customer may be shared with: any active colleague who opens customers."""
    from kehu.accounts.models import User

    return User.objects.filter(is_active=True, roles__rights__code=VIEW).distinct().order_by("username")


# --- lists ----------------------------------------------------------------------------------------


class ModuleList(ListPage):
    """The module's lists: customers.view to open; the Excel export needs customers.export."""

    template_name = "customers/list.html"
    right = VIEW
    write_right = EDIT
    scoped = False
    export_right = EXPORT
    breadcrumbs = [MODULE]
    filter_main = 99  # filters always shown; the others fold under "More filters"
    card_title = 0  # the column that heads a row's card on a phone

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "xlsx" and not request.user.has_right(self.export_right):
            raise PermissionDenied
        return super().get(request, *args, **kwargs)

    def row_url(self, obj) -> str | None:
        return obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else None

    def row_group(self, obj):
        return None

    def more_context(self) -> dict:
        return {}

    _more: dict | None = None

    def _more_context(self) -> dict:
        if self._more is None:
            self._more = self.more_context()
        return self._more

    def render_rows(self, objects) -> list[dict]:
        """Rows with the raw values, the row's link, a week-like group heading when it changes, and
        every cell rendered to HTML here, once: the table and the phone's cards show the same cells,
        and a cell template rendered in a loop of ``{% include %}`` cost about a millisecond a row."""
        from django.middleware.csrf import get_token
        from django.template import Context
        from django.template.loader import get_template
        from django.utils.html import conditional_escape, format_html
        from django.utils.safestring import mark_safe

        from kehu.core.templatetags.kehu import cell

        from .cells import FAST_CELLS

        context = Context(
            {"request": self.request, "csrf_token": get_token(self.request), **self._more_context()},
            autoescape=True,
        )
        templates: dict[str, object] = {}

        def render(c, obj, v, url):
            fast = FAST_CELLS.get(c.template)
            if fast is not None:
                return fast(obj, v, url)
            t = templates.get(c.template)
            if t is None:
                t = templates[c.template] = get_template(c.template).template
            with context.push(obj=obj, value=v, url=url):
                return t.render(context)

        labels = [str(c.label) for c in self.columns]  # lazy translations, resolved once
        label_tags = {
            label: format_html('<span class="text-body-secondary">{}</span> ', label) if label else ""
            for label in labels
        }

        def label_html(label) -> str:
            return label_tags[label]

        rows, last = [], object()
        for obj in objects:
            group = self.row_group(obj)
            url = self.row_url(obj)
            cells = [(c, c.value(obj)) for c in self.columns]
            shown = [render(c, obj, v, url) if c.template else None for c, v in cells]
            table = []
            for (c, v), h in zip(cells, shown, strict=True):
                if h is None:
                    h = (
                        format_html('<a href="{}">{}</a>', url, cell(v))
                        if c.link and url
                        else conditional_escape(cell(v))
                    )
                table.append((h, len(str(v)) > 60))
            t = self.card_title
            tc, tv = cells[t]
            if shown[t] is not None:
                title = shown[t]
            elif url:
                title = format_html('<a href="{}">{}</a>', url, cell(tv))
            else:
                title = conditional_escape(cell(tv))
            rest = [
                (labels[i], shown[i] if shown[i] is not None else conditional_escape(cell(v)))
                for i, (c, v) in enumerate(cells)
                if i != t and ((c.template and not labels[i]) or v or v == 0)
            ]
            rows.append(
                {
                    "obj": obj,
                    "cells": cells,
                    "html": table,
                    "tds": mark_safe(  # noqa: S308 - every piece is escaped or rendered above
                        "".join(
                            f'<td class="kehu-cell-long">{h}</td>' if long else f"<td>{h}</td>"
                            for h, long in table
                        )
                    ),
                    "title_html": title,
                    "rest_html": rest,
                    "rest": mark_safe(  # noqa: S308
                        "".join(
                            f'<span class="text-break">{label_html(label)}{h}</span>' for label, h in rest
                        )
                    ),
                    "url": url,
                    "group": group if group != last else None,
                }
            )
            last = group
        return rows

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if ctx["rows"] and not isinstance(ctx["rows"][0], dict):  # a ListPage that does not call render_rows
            ctx["rows"] = self.render_rows(kwargs["page"].object_list)
        ctx["can_export"] = self.request.user.has_right(self.export_right)
        ctx["colspan"] = len(self.columns) + 1
        filterset = kwargs.get("filterset")
        if filterset is not None:
            extra = list(filterset.form.fields)[self.filter_main :]
            ctx["filter_main"] = self.filter_main
            ctx["has_more_filters"] = bool(extra)
            ctx["more_filters_open"] = any(self.request.GET.get(name) for name in extra)
        ctx.update(self._more_context())
        return ctx


TEL = "customers/cells/tel.html"
STATUS = "customers/cells/status.html"
CUSTOMER = "customers/cells/customer.html"


def _owner(c):
    return c.owner if c.owner_id else _("Public pool")


def _tags(c):
    return ", ".join(t.name for t in c.tags.all())


CUSTOMER_COLUMNS = [
    Column(gettext_lazy("Number"), "number", "number", template="customers/cells/number.html"),
    Column(gettext_lazy("Name"), "name", "name", link=True, template="customers/cells/name.html"),
    Column(gettext_lazy("Status"), "get_status_display", "status", template=STATUS),
    Column(gettext_lazy("Level"), "level", "level__order"),
    Column(gettext_lazy("Region"), "region", "region__order"),
    Column(gettext_lazy("Phone"), "phone", template=TEL),
    Column(gettext_lazy("Owner"), _owner, "owner__username"),
    Column(gettext_lazy("Last contact"), "last_activity_at", "last_activity_at"),
    Column(gettext_lazy("Tags"), _tags, template="customers/cells/tags.html"),
]

CUSTOMER_EXPORT_COLUMNS = [
    Column(gettext_lazy("Number"), "number"),
    Column(gettext_lazy("Name"), "name"),
    Column(gettext_lazy("Short name"), "short_name"),
    Column(gettext_lazy("Kind"), "get_kind_display"),
    Column(gettext_lazy("Status"), "get_status_display"),
    Column(gettext_lazy("Intent stage"), "get_stage_display"),
    Column(gettext_lazy("Level"), "level"),
    Column(gettext_lazy("Region"), "region"),
    Column(gettext_lazy("Industry"), "industry"),
    Column(gettext_lazy("Source"), "source"),
    Column(gettext_lazy("Owner"), _owner),
    Column(gettext_lazy("Phone"), "phone"),
    Column(gettext_lazy("Fax"), "fax"),
    Column(gettext_lazy("Address"), "address"),
    Column(gettext_lazy("Postcode"), "postcode"),
    Column(gettext_lazy("Website"), "website"),
    Column(gettext_lazy("Tax number"), "tax_number"),
    Column(gettext_lazy("Legal representative"), "legal_representative"),
    Column(gettext_lazy("Credit rating"), "credit_rating"),
    Column(gettext_lazy("Satisfaction"), "satisfaction"),
    Column(gettext_lazy("Birthday"), "birthday"),
    Column(gettext_lazy("Tags"), _tags),
    Column(gettext_lazy("Last contact"), "last_activity_at"),
    Column(gettext_lazy("Created"), "created_at"),
]


class CustomerListView(ModuleList):
    title = gettext_lazy("Customers")
    template_name = "customers/customer_list.html"
    filterset_class = CustomerFilter
    filter_main = 5
    card_title = 1
    archivable = True
    default_sort = "-created_at"
    export_name = "customers"
    create_url = "customers:create"
    create_right = EDIT

    @property
    def columns(self):
        return CUSTOMER_EXPORT_COLUMNS if self.request.GET.get("export") == "xlsx" else CUSTOMER_COLUMNS

    def sort_options(self):
        return {c.sort: c.sort for c in CUSTOMER_COLUMNS if c.sort} | {"created_at": "created_at"}

    def get_queryset(self):
        qs = customers_visible_to(self.request.user).prefetch_related("tags")
        return qs.archived() if self.request.GET.get("archived") == "1" else qs.active()

    def more_context(self):
        user = self.request.user
        can_assign = user.has_right(ASSIGN) and not user.is_read_only
        assign_form = AssignForm(users=sales_users(user)) if can_assign else None
        if assign_form is not None:
            speed_up_selects(assign_form)  # a few hundred colleagues on every page of the list
        return {
            "can_assign": can_assign,
            "assign_form": assign_form,
            "can_import": user.has_right("customers.import"),
        }


customer_list = CustomerListView.as_view()


class ContactListView(ModuleList):
    title = gettext_lazy("Contacts")
    filterset_class = ContactFilter
    archivable = True
    default_sort = "name"
    export_name = "contacts"
    columns = [
        Column(gettext_lazy("Name"), "name", "name", link=True),
        Column(gettext_lazy("Customer"), "customer", "customer__name", template=CUSTOMER),
        Column(gettext_lazy("Title"), "title", "title"),
        Column(gettext_lazy("Mobile"), "mobile", template=TEL),
        Column(gettext_lazy("Phone"), "phone", template=TEL),
        Column(gettext_lazy("E-mail"), "email", "email", template="customers/cells/email.html"),
        Column(gettext_lazy("WeChat"), "wechat"),
        Column(gettext_lazy("Birthday"), "birthday", "birthday"),
        Column(gettext_lazy("Primary contact"), "is_primary", "is_primary"),
    ]

    def get_queryset(self):
        qs = contacts_visible_to(self.request.user).filter(customer__archived_at__isnull=True)
        return qs.archived() if self.request.GET.get("archived") == "1" else qs.active()

    def row_url(self, obj):
        if obj.is_archived:
            return reverse("customers:contact_edit", args=[obj.pk])
        return reverse("customers:detail", args=[obj.customer_id]) + "#contacts"


contact_list = ContactListView.as_view()


def _comment_state(a):
    if not a.commented_at:
        return ""
    return _("unread") if a.comment_read_at is None else _("read")


class ActivityListView(ModuleList):
    title = gettext_lazy("Activities")
    filterset_class = ActivityFilter
    filter_main = 5
    card_title = 4
    default_sort = "-happened_at"
    export_name = "activities"
    columns = [
        Column(gettext_lazy("Date"), "happened_at", "happened_at", link=True),
        Column(gettext_lazy("Type"), "kind", "kind__order"),
        Column(gettext_lazy("Customer"), "customer", "customer__name", template=CUSTOMER),
        Column(gettext_lazy("Contact"), "contact", "contact__name"),
        Column(gettext_lazy("Subject"), "subject", "subject"),
        Column(gettext_lazy("Recorded by"), "author", "author__username"),
        Column(gettext_lazy("Next follow-up"), "next_follow_up", "next_follow_up"),
        Column(gettext_lazy("Supervisor's comment"), "comment", template="customers/cells/comment.html"),
        Column(gettext_lazy("Comment"), _comment_state, "commented_at"),
    ]

    def get_queryset(self):
        return activities_visible_to(self.request.user)

    def row_url(self, obj):
        return reverse("customers:detail", args=[obj.customer_id]) + f"#activity-{obj.pk}"


activity_list = ActivityListView.as_view()


class VisitListView(ModuleList):
    title = gettext_lazy("Field visits")
    filterset_class = VisitFilter
    card_title = 2
    default_sort = "planned_on"
    export_name = "field-visits"
    columns = [
        Column(gettext_lazy("Planned for"), "planned_on", "planned_on", link=True),
        Column(gettext_lazy("Who"), "user", "user__username"),
        Column(gettext_lazy("Customer"), "customer", "customer__name", template=CUSTOMER),
        Column(gettext_lazy("Purpose"), "purpose", "purpose"),
        Column(gettext_lazy("Place"), "place", "place"),
        Column(gettext_lazy("Status"), "get_status_display", "status", template=STATUS),
        Column("", lambda v: "", template="customers/cells/visit_actions.html"),
    ]

    def get(self, request, *args, **kwargs):
        if not any(
            k in request.GET for k in ("week", "since", "until", "status", "user", "customer", "page")
        ):
            request.GET = request.GET.copy()
            request.GET["week"] = "this"
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return visits_visible_to(self.request.user)

    def row_url(self, obj):
        return reverse("customers:detail", args=[obj.customer_id]) + "#visits"

    def row_group(self, obj):
        if self.request.GET.get("sort", self.default_sort).lstrip("-") != "planned_on":
            return None
        year, week, _day = obj.planned_on.isocalendar()
        return _("Week %(week)s of %(year)s") % {"week": week, "year": year}


visit_list = VisitListView.as_view()


class PoolView(ModuleList):
    title = gettext_lazy("Public pool")
    filterset_class = PoolFilter
    card_title = 1
    default_sort = "-released_at"
    export_name = "public-pool"
    columns = [
        Column(gettext_lazy("Number"), "number", "number", template="customers/cells/number.html"),
        Column(gettext_lazy("Name"), "name", "name", link=True),
        Column(gettext_lazy("Status"), "get_status_display", "status", template=STATUS),
        Column(gettext_lazy("Level"), "level", "level__order"),
        Column(gettext_lazy("Region"), "region", "region__order"),
        Column(gettext_lazy("Industry"), "industry", "industry__order"),
        Column(gettext_lazy("Released"), "released_at", "released_at"),
        Column(gettext_lazy("Why it was released"), "release_reason"),
        Column(gettext_lazy("Last contact"), "last_activity_at", "last_activity_at"),
        Column("", lambda c: "", template="customers/cells/claim.html"),
    ]

    def get_queryset(self):
        return pool_customers()

    def more_context(self):
        from kehu.core.settings_store import get_setting

        user = self.request.user
        return {
            "can_claim": user.has_right(EDIT) and not user.is_read_only,
            "intro": _("Customers without an owner. Claim one to work with it (at most %(n)s a day).")
            % {"n": get_setting("customers.pool_claim_limit")},
        }


pool = PoolView.as_view()


class ChurnListView(ModuleList):
    title = gettext_lazy("Churn cases")
    filterset_class = ChurnFilter
    default_sort = "-opened_at"
    export_name = "churn-cases"
    columns = [
        Column(gettext_lazy("Customer"), "customer", "customer__name", link=True),
        Column(gettext_lazy("Owner"), lambda c: _owner(c.customer), "customer__owner__username"),
        Column(gettext_lazy("Status"), "get_status_display", "status", template=STATUS),
        Column(gettext_lazy("Last order or contact"), "last_order_at", "last_order_at"),
        Column(gettext_lazy("Opened"), "opened_at", "opened_at"),
        Column(gettext_lazy("Lost reason"), "reason"),
        Column(gettext_lazy("Closed"), "closed_at", "closed_at"),
    ]

    def get(self, request, *args, **kwargs):
        if "status" not in request.GET:
            request.GET = request.GET.copy()
            request.GET["status"] = OPEN_STATUSES
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return churn_cases_visible_to(self.request.user).filter(customer__archived_at__isnull=True)

    def row_url(self, obj):
        return reverse("customers:churn_detail", args=[obj.pk])


churn_list = ChurnListView.as_view()


# --- customers: create, edit, duplicates ----------------------------------------------------------


def _customer_form(request, customer: Customer | None):
    user = request.user
    creating = customer is None
    owners = sales_users(user) if creating and user.has_right(ASSIGN) else None
    initial = {k: request.GET[k] for k in ("name", "phone") if creating and request.GET.get(k)}
    form = CustomerForm(
        request.POST or None, instance=customer or Customer(), user=user, owners=owners, initial=initial
    )
    duplicates = None
    if request.method == "POST" and form.is_valid():
        data, tags = form.service_fields(), form.cleaned_data["tags"]
        confirm = form.cleaned_data.get("confirm_duplicate", False)
        try:
            if creating:
                owner = form.cleaned_data.get("owner") if "owner" in form.fields else None
                saved = services.create_customer(
                    by=user, owner=owner, tags=tags, confirm_duplicate=confirm, **data
                )
            else:
                saved = services.update_customer(
                    customer, by=user, tags=tags, confirm_duplicate=confirm, **data
                )
        except services.Duplicate as exc:
            duplicates = exc.details.get("duplicates", [])
            visible = set(
                customers_visible_to(user)
                .filter(pk__in=[d["id"] for d in duplicates])
                .values_list("pk", flat=True)
            )
            for d in duplicates:
                d["visible"] = d["id"] in visible
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved %(name)s.") % {"name": saved.name})
            return _detail(saved)
    title = _("New customer") if creating else _("Edit %(name)s") % {"name": customer.name}
    crumbs = [_list_crumb()] + ([] if creating else [_customer_crumb(customer)]) + [(title, None)]
    return render(
        request,
        "customers/customer_form.html",
        {
            "title": title,
            "form": form,
            "customer": customer,
            "duplicates": duplicates,
            "show_confirm": bool(duplicates) or form.data.get("confirm_duplicate"),
            "cancel_url": customer.get_absolute_url() if customer else reverse("customers:list"),
            "breadcrumbs": _crumbs(*crumbs),
        },
    )


@page()
def customer_create(request):
    if not request.user.has_right(EDIT) or request.user.is_read_only:
        raise PermissionDenied
    return _customer_form(request, None)


@page()
def customer_edit(request, pk):
    customer = _customer_or_404(request, pk)
    if not services.can_edit_customer(request.user, customer):
        raise PermissionDenied
    return _customer_form(request, customer)


@page()
def duplicate_check(request):
    """The live duplicate hint of the customer form (an htmx fragment)."""
    exclude = request.GET.get("exclude") or None
    found = services.find_duplicates(
        name=request.GET.get("name", ""),
        phone=request.GET.get("phone", ""),
        tax_number=request.GET.get("tax_number", ""),
        exclude_pk=int(exclude) if exclude and exclude.isdigit() else None,
    )
    visible = set(
        customers_visible_to(request.user)
        .filter(pk__in=[d["id"] for d in found])
        .values_list("pk", flat=True)
    )
    for d in found:
        d["visible"] = d["id"] in visible
    return render(request, "customers/_duplicates.html", {"duplicates": found, "live": True})


# --- the 360° page --------------------------------------------------------------------------------


def _history(obj):
    """history_for() with the content type filled in, so the audit rows cost no query each."""
    ct = ContentType.objects.get_for_model(type(obj))
    entries = list(history_for(obj))
    for e in entries:
        e.content_type = ct
    return entries


def _can_comment(user, activity, dept_ids) -> bool:
    if user.is_administrator:
        return True
    return (
        user.has_right(ASSIGN)
        and not user.is_read_only
        and activity.author_id != user.pk
        and (user.data_scope == "all" or activity.author.department_id in dept_ids)
    )


TIMELINE_LIMIT = 100


@page()
def customer_detail(request, pk):
    user = request.user
    customer = customer_360(user, pk, timeline=TIMELINE_LIMIT)
    contacts = list(customer.contacts.all())
    activities = customer.recent_activities
    visits = list(customer.field_visits.all())
    shares = list(customer.shares.all())
    churn_cases = list(customer.churn_cases.all())
    in_pool = customer.owner_id is None
    is_owner = customer.owner_id == user.pk
    writer = user.has_right(EDIT) and not user.is_read_only
    supervisor = services.is_supervisor_of(user, customer)
    can_edit = services.can_edit_customer(user, customer)
    dept_ids = user.scope_department_ids() if user.has_right(ASSIGN) and not user.is_read_only else set()

    timeline = []
    unread_mine = False
    for a in activities:
        unread = a.author_id == user.pk and a.commented_at is not None and a.comment_read_at is None
        unread_mine |= unread
        timeline.append({"a": a, "unread": unread, "can_comment": _can_comment(user, a, dept_ids)})
    if unread_mine:
        services.mark_comments_read(user, customer=customer)

    can_record = writer and not in_pool and not customer.is_archived
    can_share = not user.is_read_only and not in_pool and (is_owner or supervisor)
    assignees = sales_users(user).exclude(pk=customer.owner_id) if supervisor else None
    panels = []
    for panel in CUSTOMER_360_SLOTS:
        if user.has_right(panel.right):
            panels.append({"panel": panel, "data": panel.context(request, customer) if panel.context else {}})
    ctx = {
        "title": customer.name,
        "customer": customer,
        "contacts": contacts,
        "timeline": timeline,
        "more_activities": customer.activity_total > len(activities),
        "activity_count": customer.activity_total,
        "visits": visits,
        "planned_visits": [v for v in visits if v.status == FieldVisit.Status.PLANNED],
        "documents": list(customer.documents.all()),
        "shares": shares,
        "churn_cases": churn_cases,
        "open_churn": next((c for c in churn_cases if c.status in ("open", "deferred")), None),
        "tags": list(customer.tags.all()),
        "history": _history(customer),
        "panels": panels,
        "perm": {
            "edit": can_edit,
            "record": can_record,
            "contacts": can_edit,
            "documents": can_edit,
            "plan_visit": can_record,
            "share": can_share,
            "assign": supervisor and not customer.is_archived,
            "release": not in_pool and (is_owner or supervisor) and not user.is_read_only,
            "claim": in_pool and writer and not customer.is_archived,
            "merge": user.has_right(MERGE) and can_edit and not customer.is_archived,
            "archive": can_edit,
            "owner": is_owner,
        },
        "activity_form": ActivityForm(customer=customer, user=user, contacts=contacts)
        if can_record
        else None,
        "contact_form": ContactForm(prefix="contact") if can_edit else None,
        "visit_form": VisitForm(initial={"planned_on": timezone.localdate()}) if can_record else None,
        "document_form": DocumentForm() if can_edit else None,
        "share_form": ShareForm(users=share_users().exclude(pk=customer.owner_id)) if can_share else None,
        "assign_form": AssignForm(users=assignees) if supervisor and not customer.is_archived else None,
        "release_form": ReleaseForm(),
        "comment_form": CommentForm(),
        "breadcrumbs": _crumbs(
            _list_crumb() if not in_pool else (_("Public pool"), reverse("customers:pool")),
            (customer.name, None),
        ),
    }
    return render(request, "customers/customer_detail.html", ctx)


# --- ownership ------------------------------------------------------------------------------------


def _expected_owner(value):
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except ValueError:
        return None


@page(write_right=ASSIGN)
@require_POST
def customer_assign(request, pk):
    customer = _customer_or_404(request, pk)
    form = AssignForm(request.POST, users=sales_users(request.user))
    if not form.is_valid():
        messages.error(request, _("Choose a colleague to assign the customer to."))
        return _detail(customer)
    expected = {customer.pk: _expected_owner(request.POST.get("expected_owner"))}
    if "expected_owner" not in request.POST:
        expected = None
    run_service(
        request,
        services.assign_customers,
        [customer],
        to=form.cleaned_data["to"],
        by=request.user,
        expected_owner_ids=expected,
        success=_("%(name)s now belongs to %(user)s.")
        % {"name": customer.name, "user": form.cleaned_data["to"]},
    )
    return _detail(customer)


@page(write_right=ASSIGN)
@require_POST
def bulk_assign(request):
    """分配: the customers ticked in the list go to one colleague; the owners the supervisor saw
    travel along (``owner_<id>``) so a transfer made meanwhile by someone else is refused."""
    back = _next_or(request, reverse("customers:list"))
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    if not ids:
        messages.error(request, _("Tick the customers to assign first."))
        return redirect(back)
    form = AssignForm(request.POST, users=sales_users(request.user))
    if not form.is_valid():
        messages.error(request, _("Choose a colleague to assign the customers to."))
        return redirect(back)
    customers = list(customers_visible_to(request.user).filter(pk__in=ids))
    if len(customers) != len(set(ids)):
        raise Http404
    expected = {
        pk: _expected_owner(request.POST.get(f"owner_{pk}")) for pk in ids if f"owner_{pk}" in request.POST
    }
    ok, n = run_service(
        request,
        services.assign_customers,
        customers,
        to=form.cleaned_data["to"],
        by=request.user,
        expected_owner_ids=expected,
    )
    if ok:
        messages.success(
            request, _("%(n)s customers now belong to %(user)s.") % {"n": n, "user": form.cleaned_data["to"]}
        )
    return redirect(back)


@page()
@require_POST
def customer_share(request, pk):
    customer = _customer_or_404(request, pk)
    form = ShareForm(request.POST, users=share_users().exclude(pk=customer.owner_id))
    if not form.is_valid():
        messages.error(request, _("Choose a colleague to share the customer with."))
    else:
        run_service(
            request,
            services.share_customer,
            customer,
            user=form.cleaned_data["user"],
            can_edit=form.cleaned_data["can_edit"],
            by=request.user,
            success=_("Shared with %(user)s.") % {"user": form.cleaned_data["user"]},
        )
    return _detail(customer, "shares")


@page()
@require_POST
def customer_unshare(request, pk, user_id):
    from kehu.accounts.models import User

    customer = _customer_or_404(request, pk)
    colleague = _get_or_404(User.objects.all(), pk=user_id)
    run_service(
        request,
        services.unshare_customer,
        customer,
        user=colleague,
        by=request.user,
        success=_("No longer shared with %(user)s.") % {"user": colleague},
    )
    return _detail(customer, "shares")


@page()
@require_POST
def customer_release(request, pk):
    customer = _customer_or_404(request, pk)
    form = ReleaseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    ok, _c = run_service(
        request,
        services.release_to_pool,
        customer,
        by=request.user,
        reason=reason,
        success=_("%(name)s is in the public pool now.") % {"name": customer.name},
    )
    return redirect(_next_or(request, customer.get_absolute_url()))


@page()
@require_POST
def customer_claim(request, pk):
    customer = _customer_or_404(request, pk)
    ok, _c = run_service(
        request,
        services.claim_from_pool,
        customer,
        by=request.user,
        success=_("%(name)s is yours now.") % {"name": customer.name},
    )
    return redirect(_next_or(request, customer.get_absolute_url()))


@page(right=MERGE, write_right=MERGE)
def customer_merge(request, pk):
    """合并: pick the customer to keep (search by number or name), confirm; this one is archived."""
    source = _customer_or_404(request, pk)
    user = request.user
    if not services.can_edit_customer(user, source):
        raise PermissionDenied
    if request.method == "POST":
        target = _get_or_404(customers_visible_to(user), pk=request.POST.get("target"))
        ok, merged = run_service(
            request,
            services.merge_customers,
            source,
            target,
            by=user,
            success=_("%(source)s was merged into %(target)s.")
            % {"source": source.name, "target": target.name},
        )
        if ok:
            return _detail(merged)
        back = reverse("customers:merge", args=[pk])
        return redirect(back if target.pk == source.pk else f"{back}?target={target.pk}")
    q = request.GET.get("q", "").strip()
    candidates = []
    if q:
        candidates = list(
            customers_visible_to(user)
            .active()
            .exclude(pk=source.pk)
            .filter(owner__isnull=False)
            .filter(customer_search_q(q))
            .order_by("name")[:20]
        )
    target = None
    if request.GET.get("target"):
        target = _get_or_404(customers_visible_to(user), pk=request.GET["target"])
    counts = None
    if target is not None:
        counts = Customer.objects.filter(pk=source.pk).aggregate(
            contacts=Count("contacts", distinct=True),
            activities=Count("activities", distinct=True),
            documents=Count("documents", distinct=True),
        )
    title = _("Merge %(name)s") % {"name": source.name}
    return render(
        request,
        "customers/merge.html",
        {
            "title": title,
            "source": source,
            "search": q,
            "candidates": candidates,
            "target": target,
            "counts": counts,
            "breadcrumbs": _crumbs(_list_crumb(), _customer_crumb(source), (_("Merge"), None)),
        },
    )


@page()
@require_POST
def customer_archive(request, pk):
    customer = _customer_or_404(request, pk)
    if not services.can_edit_customer(request.user, customer):
        raise PermissionDenied
    return archive_action(request, customer, restore=False, back=customer.get_absolute_url())


@page()
@require_POST
def customer_restore(request, pk):
    customer = _customer_or_404(request, pk)
    if not services.can_edit_customer(request.user, customer):
        raise PermissionDenied
    return archive_action(request, customer, restore=True, back=customer.get_absolute_url())


# --- contacts -------------------------------------------------------------------------------------


def _contact_page(request, customer, form, title, contact=None):
    actions = []
    if contact is not None and contact.is_archived:
        actions.append(
            {
                "url": reverse("customers:contact_restore", args=[contact.pk]),
                "label": _("Restore"),
                "icon": "arrow-counterclockwise",
                "id": "restore-contact",
            }
        )
    elif contact is not None:
        actions.append(
            {
                "url": reverse("customers:contact_archive", args=[contact.pk]),
                "label": _("Archive (left the company)"),
                "icon": "archive",
                "css": "btn-outline-danger",
                "confirm": _("Archive this contact?"),
                "id": "archive-contact",
            }
        )
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": customer.get_absolute_url() + "#contacts",
            "extra_actions": actions,
            "breadcrumbs": _crumbs(_list_crumb(), _customer_crumb(customer), (title, None)),
        },
    )


@page()
def contact_create(request, pk):
    customer = _customer_or_404(request, pk)
    if not services.can_edit_customer(request.user, customer):
        raise PermissionDenied
    form = ContactForm(request.POST or None, prefix="contact")
    if request.method == "POST" and form.is_valid():
        contact = form.instance
        contact.customer = customer
        try:
            services.save_contact(contact, by=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Added the contact %(name)s.") % {"name": contact.name})
            return _detail(customer, "contacts")
    return _contact_page(request, customer, form, _("New contact of %(name)s") % {"name": customer.name})


def _contact_or_404(request, pk) -> Contact:
    return _get_or_404(contacts_visible_to(request.user), pk=pk)


@page()
def contact_edit(request, pk):
    contact = _contact_or_404(request, pk)
    customer = contact.customer
    if not services.can_edit_customer(request.user, customer):
        raise PermissionDenied
    form = ContactForm(request.POST or None, instance=contact, prefix="contact")
    if request.method == "POST" and form.is_valid():
        try:
            services.save_contact(form.instance, by=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved %(name)s.") % {"name": contact.name})
            return _detail(customer, "contacts")
    return _contact_page(
        request, customer, form, _("Edit contact %(name)s") % {"name": contact.name}, contact=contact
    )


@page()
@require_POST
def contact_archive(request, pk):
    contact = _contact_or_404(request, pk)
    run_service(
        request,
        services.archive_contact,
        contact,
        by=request.user,
        success=_("Archived the contact %(name)s.") % {"name": contact.name},
    )
    return _detail(contact.customer_id, "contacts")


@page()
@require_POST
def contact_restore(request, pk):
    contact = _contact_or_404(request, pk)
    run_service(
        request,
        services.restore_contact,
        contact,
        by=request.user,
        success=_("Restored the contact %(name)s.") % {"name": contact.name},
    )
    return _detail(contact.customer_id, "contacts")


@page()
@require_POST
def contact_primary(request, pk):
    contact = _contact_or_404(request, pk)
    run_service(
        request,
        services.set_primary_contact,
        contact,
        by=request.user,
        success=_("%(name)s is the primary contact now.") % {"name": contact.name},
    )
    return _detail(contact.customer_id, "contacts")


# --- activities -----------------------------------------------------------------------------------


@page()
def activity_create(request, pk):
    customer = _customer_or_404(request, pk)
    user = request.user
    initial = {"field_visit": request.GET.get("visit")} if request.GET.get("visit") else {}
    form = ActivityForm(request.POST or None, customer=customer, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.record_activity(
                customer=customer,
                by=user,
                kind=d["kind"],
                subject=d["subject"],
                happened_at=d["happened_at"],
                contact=d["contact"],
                place=d["place"],
                summary=d["summary"],
                next_follow_up=d["next_follow_up"],
                field_visit=d["field_visit"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Recorded: %(subject)s.") % {"subject": d["subject"]})
            return _detail(customer, "activities")
    title = _("Record an activity with %(name)s") % {"name": customer.name}
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": customer.get_absolute_url() + "#activities",
            "breadcrumbs": _crumbs(_list_crumb(), _customer_crumb(customer), (title, None)),
        },
    )


@page(write_right=ASSIGN)
@require_POST
def activity_comment(request, pk):
    """批复: the author's supervisor comments on an activity."""
    activity = _get_or_404(activities_visible_to(request.user), pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a comment."))
    else:
        run_service(
            request,
            services.comment_activity,
            activity,
            comment=form.cleaned_data["comment"],
            by=request.user,
            success=_("Comment saved; %(user)s will see it.") % {"user": activity.author},
        )
    return _detail(activity.customer_id, f"activity-{activity.pk}")


# --- documents ------------------------------------------------------------------------------------


@page()
@require_POST
def document_upload(request, pk):
    customer = _customer_or_404(request, pk)
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
    else:
        run_service(
            request,
            services.add_document,
            customer,
            upload=form.cleaned_data["file"],
            by=request.user,
            success=_("Uploaded %(name)s.") % {"name": form.cleaned_data["file"].name},
        )
    return _detail(customer, "documents")


@page()
def document_download(request, pk):
    """Documents are served through here, never from a public media URL: the customer must be
    within the user's scope."""
    doc = _get_or_404(CustomerDocument.objects.all(), pk=pk)
    _customer_or_404(request, doc.customer_id)
    try:
        handle = doc.file.open("rb")
    except (FileNotFoundError, ValueError, OSError):
        raise Http404
    return FileResponse(handle, as_attachment=True, filename=doc.name)


@page()
@require_POST
def document_remove(request, pk):
    doc = _get_or_404(CustomerDocument.objects.select_related("customer"), pk=pk)
    _customer_or_404(request, doc.customer_id)
    run_service(
        request,
        services.remove_document,
        doc,
        by=request.user,
        success=_("Removed the document %(name)s.") % {"name": doc.name},
    )
    return _detail(doc.customer_id, "documents")


# --- field visits ---------------------------------------------------------------------------------


@page()
def visit_create(request, pk):
    customer = _customer_or_404(request, pk)
    form = VisitForm(request.POST or None, initial={"planned_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.plan_field_visit(
                customer=customer,
                by=request.user,
                planned_on=d["planned_on"],
                purpose=d["purpose"],
                place=d["place"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Visit planned for %(date)s.") % {"date": d["planned_on"]})
            return _detail(customer, "visits")
    title = _("Plan a visit to %(name)s") % {"name": customer.name}
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": customer.get_absolute_url() + "#visits",
            "breadcrumbs": _crumbs(_list_crumb(), _customer_crumb(customer), (title, None)),
        },
    )


@page()
@require_POST
def visit_cancel(request, pk):
    visit = _get_or_404(visits_visible_to(request.user), pk=pk)
    run_service(request, services.cancel_field_visit, visit, by=request.user, success=_("Visit cancelled."))
    return redirect(_next_or(request, reverse("customers:detail", args=[visit.customer_id]) + "#visits"))


# --- churn ----------------------------------------------------------------------------------------


@page()
def churn_detail(request, pk):
    user = request.user
    case = _get_or_404(churn_cases_visible_to(user).prefetch_related("measures__author"), pk=pk)
    customer = case.customer
    is_open = case.status in (ChurnCase.Status.OPEN, ChurnCase.Status.DEFERRED)
    can_handle = (
        is_open
        and not user.is_read_only
        and (customer.owner_id == user.pk or services.is_supervisor_of(user, customer))
    )
    action = request.POST.get("action") if request.method == "POST" else None
    defer_form = DeferChurnForm(request.POST if action == "defer" else None, prefix="defer")
    confirm_form = ConfirmChurnForm(request.POST if action == "confirm" else None, prefix="confirm")
    if action == "defer" and defer_form.is_valid():
        ok, _m = run_service(
            request,
            services.defer_churn,
            case,
            measure=defer_form.cleaned_data["measure"],
            follow_up_on=defer_form.cleaned_data["follow_up_on"],
            by=user,
            success=_("Measure recorded."),
        )
        if ok:
            return redirect("customers:churn_detail", pk=pk)
    elif action == "confirm" and confirm_form.is_valid():
        ok, _c = run_service(
            request,
            services.confirm_churn,
            case,
            reason=confirm_form.cleaned_data["reason"],
            by=user,
            success=_("%(name)s is marked as lost.") % {"name": customer.name},
        )
        if ok:
            return redirect("customers:churn_detail", pk=pk)
    elif action == "recover":
        ok, _c = run_service(
            request,
            services.recover_churn,
            case,
            by=user,
            success=_("%(name)s is kept as a customer.") % {"name": customer.name},
        )
        if ok:
            return redirect("customers:churn_detail", pk=pk)
    elif action is not None and action not in ("defer", "confirm"):
        raise Http404
    title = _("Churn case: %(name)s") % {"name": customer.name}
    return render(
        request,
        "customers/churn_detail.html",
        {
            "title": title,
            "case": case,
            "customer": customer,
            "measures": list(case.measures.all()),
            "can_handle": can_handle,
            "defer_form": defer_form,
            "confirm_form": confirm_form,
            "history": _history(case),
            "breadcrumbs": _crumbs(
                (_("Churn cases"), reverse("customers:churn_list")), (customer.name, None)
            ),
        },
    )


# --- caller ID ------------------------------------------------------------------------------------


@page()
def caller_id(request):
    """来电弹屏: type (or let the phone system open this page with ?number=) the calling number."""
    form = CallerIdForm(request.GET or None)
    result = None
    if form.is_valid():
        result = caller_id_lookup(request.user, form.cleaned_data["number"])
        if not result["number"]:
            form.add_error(
                "number", _("%(number)s is not a phone number.") % {"number": form.cleaned_data["number"]}
            )
            result = None
    return render(
        request,
        "customers/caller_id.html",
        {
            "title": _("Caller ID"),
            "form": form,
            "result": result,
            "can_create": request.user.has_right(EDIT) and not request.user.is_read_only,
            "breadcrumbs": _crumbs((_("Caller ID"), None)),
        },
    )


# --- dashboard ------------------------------------------------------------------------------------


def dashboard_data(user) -> dict | None:
    """The customer cards of the dashboard: reminders and my customers by status (fixed queries)."""
    if not user.has_right(VIEW):
        return None
    from .reminders import reminders_for

    rows = Customer.objects.active().filter(owner=user).values("status").annotate(n=Count("pk")).order_by()
    counts = {r["status"]: r["n"] for r in rows}
    by_status = [(value, label, counts.get(value, 0)) for value, label in Customer.Status.choices]
    return {
        "reminders": reminders_for(user),
        "by_status": by_status,
        "my_total": sum(counts.values()),
        "pool_url": reverse("customers:pool"),
        "list_url": reverse("customers:list"),
    }
