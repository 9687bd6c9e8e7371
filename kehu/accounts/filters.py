import django_filters as df
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core.filters import yes_no_filter

from .models import Department, LoginLog, Role, User


class UserFilter(df.FilterSet):
    q = df.CharFilter(label=_("Name, user name or phone"), method="search")
    department = df.ModelChoiceFilter(label=_("Department"), queryset=Department.objects.all())
    roles = df.ModelChoiceFilter(label=_("Role"), queryset=Role.objects.all())
    is_active = yes_no_filter(_("Active"))

    class Meta:
        model = User
        fields = ["q", "department", "roles", "is_active"]

    def search(self, qs, name, value):
        return qs.filter(
            Q(username__icontains=value) | Q(full_name__icontains=value) | Q(phone__icontains=value)
        )


class DepartmentFilter(df.FilterSet):
    q = df.CharFilter(label=_("Name or code"), method="search")

    class Meta:
        model = Department
        fields = ["q"]

    def search(self, qs, name, value):
        return qs.filter(Q(name__icontains=value) | Q(code__icontains=value))


class LoginLogFilter(df.FilterSet):
    username = df.CharFilter(label=_("User name"), lookup_expr="icontains")
    event = df.ChoiceFilter(label=_("Event"), choices=LoginLog.Event.choices)
    ip = df.CharFilter(label=_("IP address"), lookup_expr="startswith")
    since = df.DateFilter(
        label=_("From"),
        field_name="at",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = df.DateFilter(
        label=_("To"),
        field_name="at",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = LoginLog
        fields = ["username", "event", "ip", "since", "until"]
