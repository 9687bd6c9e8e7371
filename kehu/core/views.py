from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core import numbering, services
from kehu.core.errors import DomainError
from kehu.core.filters import AuditFilter, DictEntryFilter, JobFilter
from kehu.core.forms import DictEntryForm, NumberingRuleForm
from kehu.core.models import DictEntry, Job, NumberingRule
from kehu.core.registry import registry
from kehu.core.selectors import audit_entries, global_search, history_for, jobs_visible_to
from kehu.core.templatetags.kehu import changes_text
from kehu.core.ui import Column, ListPage, run_service


def healthz(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as exc:  # the database is unreachable
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor, "version": settings.KEHU_VERSION})


def dashboard_cards(user) -> list[dict]:
    """The registered dashboard cards this user may see, each with its data."""
    cards = []
    for card in sorted(registry.dashboard.values(), key=lambda c: (c.order, c.key)):
        if card.right and not user.has_right(card.right):
            continue
        data = card.data(user)
        if data is not None:
            cards.append({"key": card.key, "template": card.template, "data": data})
    return cards


@login_required
def dashboard(request):
    user = request.user
    ctx = {
        "title": _("Dashboard"),
        "jobs": jobs_visible_to(user).filter(created_by=user)[:5],
        "roles": list(user._role_rows),
    }
    if user.has_right("system.logs"):
        from kehu.accounts.models import LoginLog, User

        since = timezone.now() - timedelta(days=7)
        ctx["admin_stats"] = {
            "users": User.objects.filter(is_active=True).count(),
            "logins": LoginLog.objects.filter(event=LoginLog.Event.SUCCESS, at__gte=since).count(),
            "failures": LoginLog.objects.filter(
                event__in=[LoginLog.Event.FAILURE, LoginLog.Event.LOCKED], at__gte=since
            ).count(),
        }
        ctx["recent_changes"] = audit_entries().order_by("-timestamp")[:8]
    from django.apps import apps

    if apps.is_installed("kehu.customers"):
        from kehu.customers.views import dashboard_data

        ctx["customers"] = dashboard_data(user)  # reminders and my customers (None without the right)
    ctx["cards"] = dashboard_cards(user)
    return render(request, "core/dashboard.html", ctx)


@login_required
def search(request):
    q = request.GET.get("q", "").strip()
    sections = global_search(request.user, q, limit=20)
    return render(
        request,
        "core/search.html",
        {"title": _("Search"), "q": q, "sections": sections, "breadcrumbs": [(_("Search"), None)]},
    )


def set_language(request):
    """Switch the interface language: kept in a cookie, the session and (when logged in) the profile."""
    if request.method != "POST":
        return redirect("core:dashboard")
    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        nxt = "/"
    response = HttpResponseRedirect(nxt)
    if lang in dict(settings.LANGUAGES) and check_for_language(lang):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 86400, samesite="Lax")
        request.session["kehu_language"] = lang
        if request.user.is_authenticated:
            from kehu.accounts.services import set_user_language

            set_user_language(request.user, language=lang)
    return response


# --- data dictionary ------------------------------------------------------------------------


class DictListView(ListPage):
    right = "basedata.dictionary"
    title = gettext_lazy("Data dictionary")
    queryset = DictEntry.objects.all()
    filterset_class = DictEntryFilter
    scoped = False
    default_sort = "type"
    export_name = "dictionary"
    create_url = "core:dict_create"
    columns = [
        Column(gettext_lazy("Type"), "type_label", "type"),
        Column(gettext_lazy("Code"), "code", "code", link=True),
        Column(gettext_lazy("Chinese label"), "label_zh", "label_zh"),
        Column(gettext_lazy("English label"), "label_en", "label_en"),
        Column(gettext_lazy("Order"), "order", "order"),
        Column(gettext_lazy("Enabled"), "enabled", "enabled"),
    ]
    breadcrumbs = [(gettext_lazy("Base data"), None)]

    def get(self, request, *args, **kwargs):
        self.default_sort = "type"
        return super().get(request, *args, **kwargs)


def _require(request, right, write=False):
    if not request.user.has_right(right):
        raise PermissionDenied
    if write and request.user.is_read_only:
        raise PermissionDenied


def _dict_form(request, entry):
    _require(request, "basedata.dictionary", write=request.method == "POST")
    form = DictEntryForm(request.POST or None, instance=entry, initial={"type": request.GET.get("type")})
    if entry.pk and entry.is_system:
        form.fields["code"].disabled = True
        form.fields["type"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_dict_entry(form.instance, by=request.user)
        except DomainError as exc:
            form.add_error(
                exc.details.get("field") if exc.details.get("field") in form.fields else None, str(exc)
            )
        else:
            messages.success(request, _("Saved %(label)s.") % {"label": saved.label})
            return redirect("core:dict_edit", pk=saved.pk)
    title = entry.label if entry.pk else _("New dictionary entry")
    return render(
        request,
        "core/dict_form.html",
        {
            "title": title,
            "form": form,
            "entry": entry,
            "history": history_for(entry) if entry.pk else [],
            "breadcrumbs": [
                (_("Base data"), None),
                (_("Data dictionary"), reverse("core:dict_list")),
                (title, None),
            ],
        },
    )


@login_required
def dict_create(request):
    return _dict_form(request, DictEntry())


@login_required
def dict_edit(request, pk):
    _require(request, "basedata.dictionary")
    return _dict_form(request, get_object_or_404(DictEntry, pk=pk))


@login_required
@require_POST
def dict_toggle(request, pk):
    _require(request, "basedata.dictionary", write=True)
    entry = get_object_or_404(DictEntry, pk=pk)
    run_service(
        request,
        services.set_dict_entry_enabled,
        entry,
        enabled=not entry.enabled,
        by=request.user,
        success=_("Enabled.") if not entry.enabled else _("Disabled."),
    )
    return redirect("core:dict_edit", pk=pk)


@login_required
@require_POST
def dict_delete(request, pk):
    _require(request, "basedata.dictionary", write=True)
    entry = get_object_or_404(DictEntry, pk=pk)
    ok, _r = run_service(request, services.delete_dict_entry, entry, by=request.user, success=_("Deleted."))
    return redirect("core:dict_list") if ok else redirect("core:dict_edit", pk=pk)


# --- numbering rules ------------------------------------------------------------------------


@login_required
def numbering_list(request):
    _require(request, "basedata.numbering")
    rules = list(NumberingRule.objects.all())
    today = timezone.localdate()
    rows = [(r, numbering.render(r.pattern, today, 1)) for r in rules]
    return render(
        request,
        "core/numbering_list.html",
        {
            "title": _("Numbering rules"),
            "rows": rows,
            "breadcrumbs": [(_("Base data"), None), (_("Numbering rules"), None)],
        },
    )


@login_required
def numbering_edit(request, pk):
    _require(request, "basedata.numbering", write=request.method == "POST")
    rule = get_object_or_404(NumberingRule, pk=pk)
    form = NumberingRuleForm(request.POST or None, initial={"pattern": rule.pattern})
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            services.update_numbering_rule(rule, pattern=form.cleaned_data["pattern"], by=request.user)
        except DomainError as exc:
            form.add_error("pattern", str(exc))
        else:
            messages.success(
                request,
                _("Saved. The next number looks like %(n)s.") % {"n": numbering.preview(rule.pattern)},
            )
            return redirect("core:numbering_list")
    else:
        preview = numbering.preview(rule.pattern)
    return render(
        request,
        "core/numbering_form.html",
        {
            "title": str(rule.label),
            "form": form,
            "rule": rule,
            "preview": preview,
            "history": history_for(rule),
            "breadcrumbs": [
                (_("Base data"), None),
                (_("Numbering rules"), reverse("core:numbering_list")),
                (str(rule.label), None),
            ],
        },
    )


# --- audit log ------------------------------------------------------------------------------


def _action_label(entry):
    return entry.get_action_display()


class AuditListView(ListPage):
    right = "system.logs"
    title = gettext_lazy("Audit log")
    template_name = "core/audit_list.html"
    queryset = audit_entries()
    filterset_class = AuditFilter
    scoped = False
    default_sort = "-timestamp"
    export_name = "audit-log"
    columns = [
        Column(gettext_lazy("Time"), "timestamp", "timestamp"),
        Column(gettext_lazy("User"), "actor", "actor__username"),
        Column(gettext_lazy("IP address"), "remote_addr", "remote_addr"),
        Column(
            gettext_lazy("Record type"),
            lambda e: (
                e.content_type.model_class()._meta.verbose_name
                if e.content_type.model_class()
                else e.content_type.model
            ),
        ),
        Column(gettext_lazy("Record"), "object_repr", "object_repr"),
        Column(gettext_lazy("Action"), _action_label, "action"),
        Column(gettext_lazy("Changes"), changes_text),
    ]
    breadcrumbs = [(gettext_lazy("System management"), None)]


# --- background jobs ------------------------------------------------------------------------


class JobListView(ListPage):
    title = gettext_lazy("Background jobs")
    queryset = Job.objects.select_related("created_by")
    filterset_class = JobFilter
    scoped = False
    default_sort = "-created_at"
    export_name = "jobs"
    columns = [
        Column(gettext_lazy("Created"), "created_at", "created_at"),
        Column(gettext_lazy("Description"), "label", "label", link=True),
        Column(gettext_lazy("Status"), "get_status_display", "status"),
        Column(gettext_lazy("Progress"), lambda j: f"{j.percent}%"),
        Column(gettext_lazy("Created by"), "created_by", "created_by__username"),
        Column(gettext_lazy("Finished"), "finished_at", "finished_at"),
    ]
    breadcrumbs = [(gettext_lazy("System management"), None)]

    def get_queryset(self):
        return jobs_visible_to(self.request.user)


def _job_or_404(request, pk):
    try:
        return jobs_visible_to(request.user).get(pk=pk)
    except Job.DoesNotExist as exc:
        raise Http404 from exc


@login_required
def job_detail(request, pk):
    job = _job_or_404(request, pk)
    template = "core/_job_progress.html" if request.headers.get("HX-Request") else "core/job_detail.html"
    return render(
        request,
        template,
        {
            "title": job.label,
            "job": job,
            "breadcrumbs": [(_("Background jobs"), reverse("core:job_list")), (job.label, None)],
        },
    )


def archive_action(request, obj, *, restore: bool, back: str):
    if request.method != "POST":
        raise Http404
    if request.user.is_read_only:
        raise PermissionDenied
    if restore:
        run_service(request, services.restore, obj, by=request.user, success=_("Restored."))
    else:
        run_service(request, services.archive, obj, by=request.user, success=_("Archived."))
    return redirect(back)


def hard_delete_action(request, obj, *, back_ok: str, back_fail: str):
    if request.method != "POST":
        raise Http404
    if not request.user.is_administrator:
        raise PermissionDenied
    ok, _r = run_service(request, services.hard_delete, obj, by=request.user, success=_("Deleted for good."))
    return redirect(back_ok if ok else back_fail)
