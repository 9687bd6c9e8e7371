"""Marketing pages (营销管理): opportunities, the pipeline board, development plans, the forecast,
stages, campaigns and mass e-mail, and the public unsubscribe page.

Thin: check the right, find the record within the user's scope (404 outside it), parse a form,
call a service, render."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kehu.core.errors import DomainError
from kehu.core.selectors import history_for
from kehu.core.settings_store import get_setting
from kehu.core.ui import Column, ListPage, run_service

from . import services
from .filters import CampaignFilter, OpportunityFilter, PlanFilter, RecipientFilter, colleagues, departments
from .forms import (
    AssignForm,
    CampaignForm,
    ConvertForm,
    LoseForm,
    MailingForm,
    OpportunityForm,
    OutcomeForm,
    PlanItemForm,
    RespondForm,
    StageForm,
    WinForm,
)
from .models import Campaign, Mailing, Opportunity, PlanItem, Recipient, Stage
from .selectors import (
    board as board_data,
)
from .selectors import (
    campaigns_visible_to,
    mailing_counts,
    mailings_visible_to,
    opportunities_visible_to,
    opportunity_detail,
    recipients_visible_to,
    reminders_for,
)
from .selectors import (
    forecast as forecast_data,
)

VIEW, EDIT, ASSIGN, STAGES, CAMPAIGN, MAIL, EXPORT = (
    "sales.view",
    "sales.edit",
    "sales.assign",
    "sales.stages",
    "sales.campaign",
    "sales.mail",
    "sales.export",
)
SAFE = ("GET", "HEAD", "OPTIONS")
MODULE = (gettext_lazy("Marketing management"), None)


def page(right: str = VIEW, write_right: str = EDIT):
    """Log-in and ``sales.view`` plus ``right`` to open; a POST also needs ``write_right`` and a user
    who is not read-only.  Otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not (user.has_right(VIEW) and user.has_right(right)):
                raise PermissionDenied
            if request.method not in SAFE and (user.is_read_only or not user.has_right(write_right)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _get(queryset, pk):
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def _opp(request, pk) -> Opportunity:
    return _get(opportunities_visible_to(request.user), pk)


def _form_error(form, exc: DomainError) -> None:
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, str(exc))


def _crumbs(*items):
    return [MODULE, *items]


def _history(obj):
    ct = ContentType.objects.get_for_model(type(obj))
    entries = list(history_for(obj))
    for e in entries:
        e.content_type = ct
    return entries


def _customers(user):
    from kehu.customers.selectors import customers_visible_to

    return customers_visible_to(user).active()


# --- opportunities: list, form, detail ------------------------------------------------------------


def _company(o):
    return o.company


def _owner(o):
    return o.owner


class OpportunityListView(ListPage):
    template_name = "sales/opportunity_list.html"
    right = VIEW
    write_right = EDIT
    title = gettext_lazy("Opportunities")
    filterset_class = OpportunityFilter
    scoped = False
    archivable = True
    default_sort = "-created_at"
    export_name = "opportunities"
    create_url = "sales:create"
    create_right = EDIT
    breadcrumbs = [MODULE]
    columns = [
        Column(gettext_lazy("Number"), "number", "number", link=True),
        Column(gettext_lazy("Summary"), "summary", "summary", link=True),
        Column(gettext_lazy("Customer or prospect"), _company),
        Column(gettext_lazy("Stage"), "stage", "stage__order"),
        Column(gettext_lazy("Probability (%)"), "probability", "probability"),
        Column(gettext_lazy("Expected amount"), "amount", "amount"),
        Column(gettext_lazy("Expected close"), "expected_close", "expected_close"),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("Owner"), _owner),
        Column(gettext_lazy("Created"), "created_at", "created_at"),
    ]

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "xlsx" and not request.user.has_right(EXPORT):
            raise PermissionDenied
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = opportunities_visible_to(self.request.user)
        return qs.archived() if self.request.GET.get("archived") == "1" else qs.active()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_export"] = self.request.user.has_right(EXPORT)
        return ctx


opportunity_list = OpportunityListView.as_view()


def _opportunity_form(request, opp: Opportunity | None):
    user = request.user
    creating = opp is None
    assignees = services.assignable_users(user) if creating and services.is_supervisor(user) else None
    initial = {}
    if creating:
        if request.GET.get("customer", "").isdigit():
            initial["customer"] = int(request.GET["customer"])
    else:
        initial = {
            f: getattr(opp, f)
            for f in (
                "prospect_name",
                "prospect_contact",
                "prospect_phone",
                "prospect_email",
                "summary",
                "source",
                "stage",
                "probability",
                "amount",
                "expected_close",
                "description",
            )
        }
        initial["customer"] = opp.customer_id
    form = OpportunityForm(
        request.POST or None, customers=_customers(user), assignees=assignees, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.service_fields()
        try:
            if creating:
                saved = services.create_opportunity(
                    by=user, assignee=form.cleaned_data.get("assignee"), **data
                )
            else:
                saved = services.update_opportunity(opp, by=user, **data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved %(n)s.") % {"n": saved.number})
            return redirect(saved.get_absolute_url())
    title = _("New opportunity") if creating else _("Edit %(n)s") % {"n": opp.number}
    return render(
        request,
        "sales/opportunity_form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": opp.get_absolute_url() if opp else reverse("sales:list"),
            "customer_search_url": reverse("sales:customer_options"),
            "breadcrumbs": _crumbs((_("Opportunities"), reverse("sales:list")), (title, None)),
        },
    )


@page()
def opportunity_create(request):
    if not request.user.has_right(EDIT) or request.user.is_read_only:
        raise PermissionDenied
    return _opportunity_form(request, None)


@page()
def opportunity_edit(request, pk):
    opp = _opp(request, pk)
    if not services.can_edit(request.user, opp):
        raise PermissionDenied
    return _opportunity_form(request, opp)


@page()
def customer_options(request):
    """The customer picker's search (JSON): name, pinyin, number or phone, in the user's scope."""
    from kehu.customers.filters import customer_search_q

    q = request.GET.get("q", "").strip()
    qs = _customers(request.user)
    if q:
        qs = qs.filter(customer_search_q(q))
    rows = qs.order_by("name").values("pk", "name", "number")[:20]
    return JsonResponse(
        {"results": [{"value": r["pk"], "text": f"{r['name']} ({r['number']})"} for r in rows]}
    )


@page()
def opportunity_detail_view(request, pk):
    user = request.user
    opp = opportunity_detail(user, pk)
    plan_items = list(opp.plan_items.all())
    work = services.can_work(user, opp)
    supervisor = services.is_supervisor(user, opp) and opp.is_open and not opp.is_archived
    ctx = {
        "title": f"{opp.number} {opp.summary}",
        "opp": opp,
        "plan_items": plan_items,
        "stage_history": list(opp.stage_history.all()),
        "history": _history(opp),
        "stages": list(Stage.objects.filter(enabled=True).order_by("order", "pk")),
        "perm": {
            "edit": services.can_edit(user, opp) and not opp.is_archived,
            "work": work and not opp.is_archived,
            "assign": supervisor,
            "archive": services.can_edit(user, opp),
        },
        "assign_form": AssignForm(users=services.assignable_users(user).exclude(pk=opp.assignee_id or 0))
        if supervisor
        else None,
        "plan_form": PlanItemForm(initial={"planned_on": timezone.localdate()}) if work else None,
        "outcome_form": OutcomeForm() if work else None,
        "win_form": WinForm(customers=_customers(user)) if work else None,
        "lose_form": LoseForm() if work else None,
        "customer_search_url": reverse("sales:customer_options"),
        "today": timezone.localdate(),
        "breadcrumbs": _crumbs((_("Opportunities"), reverse("sales:list")), (opp.number, None)),
    }
    return render(request, "sales/opportunity_detail.html", ctx)


def _back(opp, anchor=""):
    url = reverse("sales:detail", args=[opp.pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


@page(write_right=ASSIGN)
@require_POST
def opportunity_assign(request, pk):
    opp = _opp(request, pk)
    form = AssignForm(request.POST, users=services.assignable_users(request.user))
    if form.is_valid():
        run_service(
            request,
            services.assign_opportunity,
            opp,
            to=form.cleaned_data["to"],
            by=request.user,
            success=_("Assigned to %(u)s.") % {"u": form.cleaned_data["to"]},
        )
    else:
        messages.error(request, _("Choose whom to assign it to."))
    return _back(opp)


@page()
@require_POST
def opportunity_move(request, pk):
    """The board's drop (JSON) and the detail page's stage buttons (redirect): the same service."""
    opp = _opp(request, pk)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    try:
        stage = Stage.objects.get(pk=int(request.POST.get("stage", "")))
    except (Stage.DoesNotExist, ValueError):
        if wants_json:
            return JsonResponse(
                {"code": "invalid", "message": _("Unknown stage."), "details": {}}, status=400
            )
        raise Http404 from None
    try:
        moved = services.move_opportunity(opp, stage=stage, by=request.user)
    except DomainError as exc:
        if wants_json:
            return JsonResponse(
                {"code": exc.code, "message": str(exc), "details": exc.details}, status=exc.status
            )
        messages.error(request, str(exc))
        return _back(opp)
    if wants_json:
        return JsonResponse(
            {
                "id": moved.pk,
                "stage": moved.stage_id,
                "status": moved.status,
                "probability": moved.probability,
                "message": _("%(n)s moved to %(s)s.") % {"n": moved.number, "s": moved.stage},
            }
        )
    messages.success(request, _("%(n)s moved to %(s)s.") % {"n": moved.number, "s": moved.stage})
    return _back(moved)


@page()
@require_POST
def opportunity_win(request, pk):
    opp = _opp(request, pk)
    form = WinForm(request.POST, customers=_customers(request.user))
    if not form.is_valid():
        messages.error(request, _("Choose a customer you can see."))
        return _back(opp)
    try:
        services.win_opportunity(
            opp,
            by=request.user,
            customer=form.cleaned_data.get("customer"),
            confirm_duplicate=form.cleaned_data.get("confirm_duplicate", False),
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        if exc.code == "duplicate":
            return redirect(reverse("sales:detail", args=[opp.pk]) + "?win=duplicate#close")
    else:
        messages.success(request, _("Won. The customer is signed."))
    return _back(opp)


@page()
@require_POST
def opportunity_lose(request, pk):
    opp = _opp(request, pk)
    form = LoseForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            services.lose_opportunity,
            opp,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            by=request.user,
            success=_("Marked as lost."),
        )
    else:
        messages.error(request, _("Choose why the opportunity was lost."))
    return _back(opp)


@page()
@require_POST
def opportunity_archive(request, pk):
    opp = _opp(request, pk)
    ok, _r = run_service(
        request, services.archive_opportunity, opp, by=request.user, success=_("Deleted (archived).")
    )
    return redirect("sales:list") if ok else _back(opp)


@page()
@require_POST
def opportunity_restore(request, pk):
    opp = _opp(request, pk)
    run_service(request, services.restore_opportunity, opp, by=request.user, success=_("Restored."))
    return _back(opp)


@page()
@require_POST
def plan_add(request, pk):
    opp = _opp(request, pk)
    form = PlanItemForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            services.add_plan_item,
            opp,
            by=request.user,
            success=_("Step added."),
            **form.cleaned_data,
        )
    else:
        messages.error(request, _("Give the date and what is to be done."))
    return _back(opp, "plan")


def _plan_item(request, pk) -> PlanItem:
    from kehu.core.scopes import visible_to

    return _get(visible_to(PlanItem.objects.select_related("opportunity"), request.user), pk)


@page()
@require_POST
def plan_outcome(request, pk):
    item = _plan_item(request, pk)
    form = OutcomeForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            services.record_outcome,
            item,
            outcome=form.cleaned_data["outcome"],
            by=request.user,
            success=_("Outcome recorded."),
        )
    else:
        messages.error(request, _("Describe the outcome."))
    return _back(item.opportunity, "plan")


@page()
@require_POST
def plan_delete(request, pk):
    item = _plan_item(request, pk)
    run_service(request, services.delete_plan_item, item, by=request.user, success=_("Step removed."))
    return _back(item.opportunity, "plan")


# --- the board ------------------------------------------------------------------------------------


@page()
def board(request):
    user = request.user
    people = list(colleagues(user))
    depts = list(departments(user))
    owner = request.GET.get("owner", "")
    owner_id = (
        user.pk
        if owner == "me"
        else (int(owner) if owner.isdigit() and any(u.pk == int(owner) for u in people) else None)
    )
    dept = request.GET.get("department", "")
    dept_id = int(dept) if dept.isdigit() and any(d.pk == int(dept) for d in depts) else None
    per_column = get_setting("sales.board_cards")
    data = board_data(user, owner=owner_id, department=dept_id, per_column=per_column)
    return render(
        request,
        "sales/board.html",
        {
            "title": _("Pipeline board"),
            "board": data,
            "people": people,
            "departments": depts,
            "owner": owner,
            "department": dept,
            "per_column": per_column,
            "can_move": user.has_right(EDIT) and not user.is_read_only,
            "list_url": reverse("sales:list"),
            "base": reverse("sales:list"),  # card links as base + id (no reverse() per card)
            "breadcrumbs": _crumbs((_("Pipeline board"), None)),
        },
    )


# --- development plans ----------------------------------------------------------------------------


class PlanListView(ListPage):
    right = VIEW
    title = gettext_lazy("Development plans")
    template_name = "sales/list.html"
    filterset_class = PlanFilter
    scoped = True
    default_sort = "planned_on"
    export_name = "development-plans"
    breadcrumbs = [MODULE]
    queryset = PlanItem.objects.select_related(
        "opportunity", "opportunity__assignee", "opportunity__customer"
    )
    columns = [
        Column(gettext_lazy("Date"), "planned_on", "planned_on"),
        Column(
            gettext_lazy("Opportunity"),
            lambda i: f"{i.opportunity.number} {i.opportunity.summary}",
            "opportunity__number",
            link=True,
        ),
        Column(gettext_lazy("Customer or prospect"), lambda i: i.opportunity.company),
        Column(gettext_lazy("What to do"), "todo", "todo"),
        Column(gettext_lazy("Outcome"), "outcome"),
        Column(gettext_lazy("Assignee"), "opportunity.assignee", "opportunity__assignee__username"),
    ]

    def get(self, request, *args, **kwargs):
        if not request.GET:
            request.GET = request.GET.copy()
            request.GET["state"] = "pending"
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return super().get_queryset().filter(opportunity__archived_at__isnull=True)

    def render_rows(self, objects):
        rows = super().render_rows(objects)
        for o, cells in rows:
            url = reverse("sales:detail", args=[o.opportunity_id]) + "#plan"
            cells[1] = (cells[1][0], url, cells[1][2])
        return rows


plan_list = PlanListView.as_view()


# --- forecast -------------------------------------------------------------------------------------


def _chart(data) -> dict:
    from kehu.core.templatetags.kehu import cell

    return {
        "months": [m["month"].strftime("%Y-%m") for m in data["months"]],
        "weighted": [float(m["weighted"]) for m in data["months"]],
        "stages": [str(s["stage"]) for s in data["stages"]],
        "stage_weighted": [float(s["weighted"]) for s in data["stages"]],
        "overdue": float(data["overdue"]),
        "labels": {
            "weighted": _("Weighted amount"),
            "month": _("Expected close month"),
            "today": str(cell(timezone.localdate())),
        },
    }


@page()
def forecast(request):
    try:
        months = max(1, min(24, int(request.GET.get("months", 6))))
    except ValueError:
        months = 6
    data = forecast_data(request.user, months=months)
    return render(
        request,
        "sales/forecast.html",
        {
            "title": _("Forecast"),
            "f": data,
            "months": months,
            "chart": _chart(data),
            "breadcrumbs": _crumbs((_("Forecast"), None)),
        },
    )


# --- stages ---------------------------------------------------------------------------------------


@page(right=STAGES, write_right=STAGES)
def stage_list(request):
    from django.db.models import Count, Q

    stages = Stage.objects.annotate(
        open=Count("opportunities", filter=Q(opportunities__status__in=Opportunity.OPEN))
    ).order_by("order", "pk")
    return render(
        request,
        "sales/stage_list.html",
        {"title": _("Stages"), "stages": stages, "breadcrumbs": _crumbs((_("Stages"), None))},
    )


def _stage_form(request, stage):
    form = StageForm(request.POST or None, instance=stage)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_stage(form.instance, by=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved %(s)s.") % {"s": form.instance.name})
            return redirect("sales:stage_list")
    title = stage.name if stage.pk else _("New stage")
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": reverse("sales:stage_list"),
            "history": _history(stage) if stage.pk else None,
            "breadcrumbs": _crumbs((_("Stages"), reverse("sales:stage_list")), (title, None)),
        },
    )


@page(right=STAGES, write_right=STAGES)
def stage_create(request):
    return _stage_form(request, Stage(order=(Stage.objects.count() + 1) * 10))


@page(right=STAGES, write_right=STAGES)
def stage_edit(request, pk):
    return _stage_form(request, _get(Stage.objects.all(), pk))


# --- campaigns and mailings -----------------------------------------------------------------------


class CampaignListView(ListPage):
    right = VIEW
    title = gettext_lazy("Campaigns")
    template_name = "sales/list.html"
    filterset_class = CampaignFilter
    scoped = True
    archivable = True
    default_sort = "-created_at"
    export_name = "campaigns"
    create_url = "sales:campaign_create"
    create_right = CAMPAIGN
    breadcrumbs = [MODULE]
    queryset = Campaign.objects.select_related("created_by")
    columns = [
        Column(gettext_lazy("Name"), "name", "name", link=True),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("Starts on"), "starts_on", "starts_on"),
        Column(gettext_lazy("Ends on"), "ends_on", "ends_on"),
        Column(gettext_lazy("Budget"), "budget", "budget"),
        Column(gettext_lazy("Created by"), "created_by", "created_by__username"),
        Column(gettext_lazy("Created"), "created_at", "created_at"),
    ]


campaign_list = CampaignListView.as_view()


def _campaign(request, pk) -> Campaign:
    return _get(campaigns_visible_to(request.user), pk)


def _campaign_form(request, campaign: Campaign | None):
    initial = CampaignForm.initial_for(campaign) if campaign else {"status": Campaign.Status.PLANNED}
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if campaign is None:
                saved = services.create_campaign(by=request.user, **form.service_fields())
            else:
                saved = services.update_campaign(campaign, by=request.user, **form.service_fields())
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved %(n)s.") % {"n": saved.name})
            return redirect(saved.get_absolute_url())
    title = _("New campaign") if campaign is None else _("Edit %(n)s") % {"n": campaign.name}
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "cancel_url": campaign.get_absolute_url() if campaign else reverse("sales:campaign_list"),
            "breadcrumbs": _crumbs((_("Campaigns"), reverse("sales:campaign_list")), (title, None)),
        },
    )


@page(write_right=CAMPAIGN)
def campaign_create(request):
    if not request.user.has_right(CAMPAIGN) or request.user.is_read_only:
        raise PermissionDenied
    return _campaign_form(request, None)


@page(write_right=CAMPAIGN)
def campaign_edit(request, pk):
    campaign = _campaign(request, pk)
    if not request.user.has_right(CAMPAIGN) or request.user.is_read_only:
        raise PermissionDenied
    return _campaign_form(request, campaign)


def segment_summary(campaign: Campaign, user) -> dict:
    from kehu.customers.models import Contact

    customers = services.segment_customers(campaign.segment, user)
    return {
        "customers": customers.count(),
        "addresses": Contact.objects.active()
        .filter(customer_id__in=customers.order_by().values("pk"))
        .exclude(email="")
        .count(),
        "filters": _segment_labels(campaign.segment),
    }


def _segment_labels(segment: dict) -> list[tuple[str, str]]:
    from kehu.core.models import DictEntry
    from kehu.customers.models import Customer, Tag

    labels = []
    names = {
        "status": _("Customer status"),
        "level": _("Level"),
        "region": _("Region"),
        "industry": _("Industry"),
        "tag": _("Tag"),
        "q": _("Name, pinyin, number or phone"),
        "owner": _("Owner"),
    }
    for k, v in (segment or {}).items():
        text = v
        if k in ("level", "region", "industry") and str(v).isdigit():
            e = DictEntry.objects.filter(pk=int(v)).first()
            text = e.label if e else v
        elif k == "tag" and str(v).isdigit():
            t = Tag.objects.filter(pk=int(v)).first()
            text = t.name if t else v
        elif k == "status":
            text = dict(Customer.Status.choices).get(v, v)
        labels.append((names.get(k, k), text))
    return labels


@page()
def campaign_detail(request, pk):
    user = request.user
    campaign = _campaign(request, pk)
    mailings = list(campaign.mailings.select_related("created_by", "job").order_by("-created_at"))
    return render(
        request,
        "sales/campaign_detail.html",
        {
            "title": campaign.name,
            "campaign": campaign,
            "segment": segment_summary(campaign, user),
            "mailings": mailings,
            "opportunities": list(
                campaign.opportunities.select_related("stage", "customer").order_by("-created_at")[:50]
            ),
            "can_edit": user.has_right(CAMPAIGN) and not user.is_read_only,
            "can_mail": user.has_right(MAIL)
            and not user.is_read_only
            and campaign.status != Campaign.Status.CLOSED
            and not campaign.is_archived,
            "history": _history(campaign),
            "breadcrumbs": _crumbs((_("Campaigns"), reverse("sales:campaign_list")), (campaign.name, None)),
        },
    )


@page(write_right=CAMPAIGN)
@require_POST
def campaign_archive(request, pk):
    from kehu.core.views import archive_action

    campaign = _campaign(request, pk)
    return archive_action(
        request, campaign, restore=request.POST.get("restore") == "1", back=campaign.get_absolute_url()
    )


def _fields_help():
    return [(f"{{{{ {k} }}}}", v) for k, v in services.TEMPLATE_FIELDS.items()]


def _mailing_form(request, campaign: Campaign, mailing: Mailing | None):
    user = request.user
    if not user.has_right(MAIL) or user.is_read_only:
        raise PermissionDenied
    initial = (
        {"subject": mailing.subject, "body": mailing.body, "from_email": mailing.from_email}
        if mailing
        else {"body": _("Dear {{ contact.name }},\n\n…\n\nTo unsubscribe: {{ unsubscribe_url }}")}
    )
    form = MailingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if mailing is None:
                saved = services.create_mailing(campaign, by=user, **form.cleaned_data)
            else:
                saved = services.update_mailing(mailing, by=user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved. Check the preview, then send it."))
            return redirect(saved.get_absolute_url())
    title = _("New mailing") if mailing is None else _("Edit mailing")
    return render(
        request,
        "sales/mailing_form.html",
        {
            "title": title,
            "form": form,
            "fields_help": _fields_help(),
            "unsubscribe_hint": _(
                "Any other field is refused. Without %(f)s in the body, "
                "an unsubscribe line is added at the end."
            )
            % {"f": "{{ unsubscribe_url }}"},
            "cancel_url": mailing.get_absolute_url() if mailing else campaign.get_absolute_url(),
            "breadcrumbs": _crumbs(
                (_("Campaigns"), reverse("sales:campaign_list")),
                (campaign.name, campaign.get_absolute_url()),
                (title, None),
            ),
        },
    )


@page(write_right=MAIL)
def mailing_create(request, pk):
    return _mailing_form(request, _campaign(request, pk), None)


def _mailing(request, pk) -> Mailing:
    return _get(mailings_visible_to(request.user), pk)


@page(write_right=MAIL)
def mailing_edit(request, pk):
    mailing = _mailing(request, pk)
    if mailing.status != Mailing.Status.DRAFT:
        messages.error(request, _("Only a draft mailing can be changed."))
        return redirect(mailing.get_absolute_url())
    return _mailing_form(request, mailing.campaign, mailing)


def _preview(mailing: Mailing, user):
    """The message as the first recipient of the segment would get it (nothing is sent)."""
    from kehu.customers.models import Contact

    from .mailer import build_message

    first = (
        Contact.objects.active()
        .exclude(email="")
        .filter(
            customer_id__in=services.segment_customers(mailing.campaign.segment, user).order_by().values("pk")
        )
        .select_related("customer")
        .order_by("customer_id", "-is_primary", "pk")
        .first()
    )
    if first is None:
        return None
    r = Recipient(
        mailing=mailing,
        customer=first.customer,
        contact=first,
        email=first.email,
        email_key=first.email.lower(),
    )
    msg = build_message(mailing, r)
    return {"to": first.email, "subject": msg.subject, "body": msg.body}


@page()
def mailing_detail(request, pk):
    user = request.user
    mailing = _mailing(request, pk)
    qs = recipients_visible_to(user).filter(mailing=mailing).order_by("pk")
    fs = RecipientFilter(request.GET, queryset=qs, request=request)
    rows = fs.qs if fs.is_valid() else qs.none()
    page_obj = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    can_respond = user.has_right(CAMPAIGN) and not user.is_read_only
    return render(
        request,
        "sales/mailing_detail.html",
        {
            "title": mailing.subject,
            "mailing": mailing,
            "counts": mailing_counts(mailing),
            "filterset": fs,
            "page": page_obj,
            "query_without_page": query.urlencode(),
            "preview": _preview(mailing, user) if mailing.status == Mailing.Status.DRAFT else None,
            "can_send": mailing.status == Mailing.Status.DRAFT
            and user.has_right(MAIL)
            and not user.is_read_only,
            "can_respond": can_respond,
            "respond_form": RespondForm(),
            "convert_form": ConvertForm(),
            "breadcrumbs": _crumbs(
                (_("Campaigns"), reverse("sales:campaign_list")),
                (mailing.campaign.name, mailing.campaign.get_absolute_url()),
                (mailing.subject, None),
            ),
        },
    )


@page(write_right=MAIL)
@require_POST
def mailing_send(request, pk):
    mailing = _mailing(request, pk)
    ok, m = run_service(
        request,
        services.queue_mailing,
        mailing,
        by=request.user,
        base_url=request.build_absolute_uri("/"),
    )
    if ok:
        messages.success(
            request, _("%(n)s e-mails queued; they are sent in the background.") % {"n": m.recipient_count}
        )
    return redirect(mailing.get_absolute_url())


def _recipient(request, pk) -> Recipient:
    return _get(recipients_visible_to(request.user).select_related("mailing", "mailing__campaign"), pk)


@page(write_right=CAMPAIGN)
@require_POST
def recipient_respond(request, pk):
    r = _recipient(request, pk)
    form = RespondForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            services.mark_responded,
            r,
            by=request.user,
            note=form.cleaned_data["note"],
            success=_("Response recorded."),
        )
    return redirect(reverse("sales:mailing_detail", args=[r.mailing_id]) + f"#r{r.pk}")


@page(write_right=CAMPAIGN)
@require_POST
def recipient_convert(request, pk):
    r = _recipient(request, pk)
    form = ConvertForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the amount."))
        return redirect(r.mailing.get_absolute_url())
    ok, opp = run_service(request, services.response_to_opportunity, r, by=request.user, **form.cleaned_data)
    if ok:
        messages.success(request, _("Opportunity %(n)s created.") % {"n": opp.number})
        return redirect(opp.get_absolute_url())
    return redirect(r.mailing.get_absolute_url())


# --- unsubscribe (public) -------------------------------------------------------------------------


@csrf_exempt  # the link is the credential (signed); mail clients post List-Unsubscribe=One-Click
def unsubscribe(request, token):
    try:
        data = services.read_unsubscribe_token(token)
    except DomainError:
        return render(
            request, "sales/unsubscribe.html", {"title": _("Unsubscribe"), "invalid": True}, status=400
        )
    done = False
    if request.method == "POST":
        services.unsubscribe(token)
        done = True
    return render(
        request, "sales/unsubscribe.html", {"title": _("Unsubscribe"), "email": data["e"], "done": done}
    )


# --- dashboard cards and the customer panel -------------------------------------------------------


def dashboard_reminders(user):
    r = reminders_for(user)
    return r if r["count"] else {**r, "empty": True}


def dashboard_forecast(user):
    if not user.has_right(VIEW):
        return None
    data = forecast_data(user, months=6)
    return {"f": data, "chart": _chart(data), "url": reverse("sales:forecast")}


def _customer_panel(request, customer):
    qs = opportunities_visible_to(request.user).active().filter(customer=customer).order_by("-created_at")
    return {
        "opportunities": list(qs[:20]),
        "create_url": reverse("sales:create") + f"?customer={customer.pk}"
        if request.user.has_right(EDIT) and not request.user.is_read_only
        else None,
    }


def register_panels():
    from kehu.customers.views import CustomerPanel, register_customer_panel

    register_customer_panel(
        CustomerPanel(
            code="opportunities",
            title=gettext_lazy("Opportunities"),
            template="sales/_customer_panel.html",
            right=VIEW,
            order=5,
            icon="lightbulb",
            context=_customer_panel,
        )
    )
