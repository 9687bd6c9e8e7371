from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import DomainError
from kehu.core.scopes import get_visible_or_404
from kehu.core.selectors import history_for
from kehu.core.ui import Column, ListPage, run_service
from kehu.core.views import archive_action, hard_delete_action

from . import services
from .filters import DepartmentFilter, LoginLogFilter, UserFilter
from .forms import DepartmentForm, RoleForm, UserForm
from .models import Department, LoginLog, Right, Role, User

SYSTEM = (gettext_lazy("System management"), None)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("core:dashboard")

    def form_valid(self, form):
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)


def _require(request, right, write=False):
    if not request.user.has_right(right) or (write and request.user.is_read_only):
        raise PermissionDenied


def _form_errors(form, exc: DomainError):
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, str(exc))


# --- users ----------------------------------------------------------------------------------


class UserListView(ListPage):
    right = "accounts.team"
    title = gettext_lazy("Users")
    queryset = User.objects.select_related("department", "manager").prefetch_related("roles")
    filterset_class = UserFilter
    default_sort = "username"
    export_name = "users"
    create_url = "accounts:user_create"
    create_right = "system.users"
    columns = [
        Column(gettext_lazy("User name"), "username", "username", link=True),
        Column(gettext_lazy("Full name"), "full_name", "full_name"),
        Column(gettext_lazy("Department"), "department", "department__name"),
        Column(gettext_lazy("Manager"), "manager", "manager__username"),
        Column(gettext_lazy("Roles"), lambda u: ", ".join(str(r) for r in u.roles.all())),
        Column(gettext_lazy("Mobile"), "phone"),
        Column(gettext_lazy("Active"), "is_active", "is_active"),
        Column(gettext_lazy("Last log-in"), "last_login", "last_login"),
    ]
    breadcrumbs = [SYSTEM]


@login_required
def user_detail(request, pk):
    _require(request, "accounts.team")
    obj = get_visible_or_404(User.objects.select_related("department", "manager"), request.user, pk=pk)
    return render(
        request,
        "accounts/user_detail.html",
        {
            "title": obj.display_name,
            "obj": obj,
            "roles": obj.roles.all(),
            "history": history_for(obj),
            "logins": LoginLog.objects.filter(user=obj)[:10] if request.user.has_right("system.logs") else [],
            "can_edit": request.user.has_right("system.users") and not request.user.is_read_only,
            "breadcrumbs": [SYSTEM, (_("Users"), reverse("accounts:user_list")), (obj.display_name, None)],
        },
    )


def _user_form(request, obj: User | None):
    _require(request, "system.users", write=request.method == "POST")
    form = UserForm(request.POST or None, instance=obj or User())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if obj is None:
                obj = services.create_user(
                    by=request.user,
                    username=data["username"],
                    password=data["password"],
                    full_name=data["full_name"],
                    email=data["email"],
                    phone=data["phone"],
                    department=data["department"],
                    manager=data["manager"],
                    roles=data["roles"],
                    is_active=data["is_active"],
                    language=data["language"],
                )
            else:
                services.update_user(
                    obj,
                    by=request.user,
                    full_name=data["full_name"],
                    email=data["email"],
                    phone=data["phone"],
                    department=data["department"],
                    manager=data["manager"],
                    roles=data["roles"],
                    is_active=data["is_active"],
                    language=data["language"],
                )
                if data["password"]:
                    services.set_password(obj, password=data["password"], by=request.user)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved %(name)s.") % {"name": obj.display_name})
            return redirect("accounts:user_detail", pk=obj.pk)
    title = obj.display_name if obj else _("New user")
    return render(
        request,
        "core/form.html",
        {
            "title": title,
            "form": form,
            "breadcrumbs": [SYSTEM, (_("Users"), reverse("accounts:user_list")), (title, None)],
            "cancel_url": reverse("accounts:user_detail", args=[obj.pk])
            if obj
            else reverse("accounts:user_list"),
        },
    )


@login_required
def user_create(request):
    return _user_form(request, None)


@login_required
def user_edit(request, pk):
    _require(request, "system.users")
    return _user_form(request, get_visible_or_404(User.objects.all(), request.user, pk=pk))


# --- departments ----------------------------------------------------------------------------


class DepartmentListView(ListPage):
    right = "system.users"
    title = gettext_lazy("Departments")
    queryset = Department.objects.select_related("parent", "head")
    filterset_class = DepartmentFilter
    scoped = False
    archivable = True
    default_sort = "code"
    export_name = "departments"
    create_url = "accounts:department_create"
    columns = [
        Column(gettext_lazy("Code"), "code", "code", link=True),
        Column(gettext_lazy("Name"), "name", "name"),
        Column(gettext_lazy("Parent department"), "parent", "parent__name"),
        Column(gettext_lazy("Head"), "head", "head__username"),
        Column(gettext_lazy("Order"), "order", "order"),
    ]
    breadcrumbs = [SYSTEM]


def _department_form(request, obj):
    _require(request, "system.users", write=request.method == "POST")
    form = DepartmentForm(request.POST or None, instance=obj or Department())
    if request.method == "POST" and form.is_valid():
        try:
            obj = services.save_department(form.instance, by=request.user)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved %(name)s.") % {"name": obj.name})
            return redirect("accounts:department_edit", pk=obj.pk)
    title = obj.name if obj else _("New department")
    return render(
        request,
        "accounts/department_form.html",
        {
            "title": title,
            "form": form,
            "obj": obj,
            "members": obj.members.filter(is_active=True) if obj else [],
            "history": history_for(obj) if obj else [],
            "breadcrumbs": [SYSTEM, (_("Departments"), reverse("accounts:department_list")), (title, None)],
            "cancel_url": reverse("accounts:department_list"),
        },
    )


@login_required
def department_create(request):
    return _department_form(request, None)


@login_required
def department_edit(request, pk):
    _require(request, "system.users")
    return _department_form(request, get_object_or_404(Department, pk=pk))


@login_required
def department_archive(request, pk):
    _require(request, "system.users", write=True)
    dept = get_object_or_404(Department, pk=pk)
    if request.method == "POST":
        run_service(request, services.archive_department, dept, by=request.user, success=_("Archived."))
    return redirect("accounts:department_edit", pk=pk)


@login_required
def department_restore(request, pk):
    _require(request, "system.users", write=True)
    return archive_action(
        request,
        get_object_or_404(Department, pk=pk),
        restore=True,
        back=reverse("accounts:department_edit", args=[pk]),
    )


@login_required
def department_delete(request, pk):
    _require(request, "system.users", write=True)
    return hard_delete_action(
        request,
        get_object_or_404(Department, pk=pk),
        back_ok=reverse("accounts:department_list"),
        back_fail=reverse("accounts:department_edit", args=[pk]),
    )


# --- roles ----------------------------------------------------------------------------------


@login_required
def role_list(request):
    _require(request, "system.roles")
    roles = Role.objects.prefetch_related("rights").order_by("pk")
    return render(
        request,
        "accounts/role_list.html",
        {
            "title": _("Roles and rights"),
            "roles": roles,
            "breadcrumbs": [SYSTEM, (_("Roles and rights"), None)],
        },
    )


def _role_form(request, obj):
    _require(request, "system.roles", write=request.method == "POST")
    form = RoleForm(request.POST or None, instance=obj or Role())
    if request.method == "POST" and form.is_valid():
        try:
            obj = services.save_role(form.instance, by=request.user, rights=form.cleaned_data["rights"])
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved %(name)s.") % {"name": obj.display_name})
            return redirect("accounts:role_edit", pk=obj.pk)
    title = obj.display_name if obj else _("New role")
    rights_by_module = {}
    from kehu.core.registry import MODULE_LABELS

    selected = {str(v) for v in (form["rights"].value() or [])}
    for right in Right.objects.all():
        rights_by_module.setdefault(MODULE_LABELS.get(right.module, right.module), []).append(
            (right, str(right.pk) in selected)
        )
    return render(
        request,
        "accounts/role_form.html",
        {
            "title": title,
            "form": form,
            "obj": obj,
            "rights_by_module": rights_by_module,
            "history": history_for(obj) if obj else [],
            "breadcrumbs": [SYSTEM, (_("Roles and rights"), reverse("accounts:role_list")), (title, None)],
        },
    )


@login_required
def role_create(request):
    return _role_form(request, None)


@login_required
def role_edit(request, pk):
    _require(request, "system.roles")
    return _role_form(request, get_object_or_404(Role, pk=pk))


@login_required
def role_delete(request, pk):
    _require(request, "system.roles", write=True)
    role = get_object_or_404(Role, pk=pk)
    if request.method == "POST":
        ok, _r = run_service(request, services.delete_role, role, by=request.user, success=_("Deleted."))
        if ok:
            return redirect("accounts:role_list")
    return redirect("accounts:role_edit", pk=pk)


# --- login log ------------------------------------------------------------------------------


class LoginLogListView(ListPage):
    right = "system.logs"
    title = gettext_lazy("Login log")
    queryset = LoginLog.objects.select_related("user")
    filterset_class = LoginLogFilter
    scoped = False
    default_sort = "-at"
    export_name = "login-log"
    columns = [
        Column(gettext_lazy("Time"), "at", "at"),
        Column(gettext_lazy("User name"), "username", "username"),
        Column(gettext_lazy("Event"), "get_event_display", "event"),
        Column(gettext_lazy("IP address"), "ip", "ip"),
        Column(gettext_lazy("Channel"), "channel", "channel"),
        Column(gettext_lazy("Browser"), "user_agent"),
    ]
    breadcrumbs = [SYSTEM]


@login_required
def profile(request):
    return (
        redirect("accounts:user_detail", pk=request.user.pk)
        if request.user.has_right("accounts.team")
        else render(
            request,
            "accounts/profile.html",
            {
                "title": _("My profile"),
                "obj": request.user,
                "roles": request.user.roles.all(),
                "breadcrumbs": [(_("My profile"), None)],
            },
        )
    )
