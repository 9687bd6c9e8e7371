import django_filters as df
from auditlog.models import LogEntry
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _

from kehu.core.models import DictEntry, Job, dict_type_choices


def yes_no_filter(label, **kwargs) -> df.BooleanFilter:
    """A yes/no filter whose empty choice reads "All" (django-filter's default says "Unknown")."""
    choices = [("", _("All")), ("true", _("Yes")), ("false", _("No"))]
    return df.BooleanFilter(label=label, widget=forms.Select(choices=choices), **kwargs)


class DictEntryFilter(df.FilterSet):
    type = df.ChoiceFilter(label=_("Type"), choices=dict_type_choices)
    q = df.CharFilter(label=_("Code or label"), method="search")
    enabled = yes_no_filter(_("Enabled"))

    class Meta:
        model = DictEntry
        fields = ["type", "q", "enabled"]

    def search(self, qs, name, value):
        from django.db.models import Q

        return qs.filter(
            Q(code__icontains=value) | Q(label_zh__icontains=value) | Q(label_en__icontains=value)
        )


def audited_content_types():
    from auditlog.registry import auditlog

    models = auditlog.get_models()
    return ContentType.objects.filter(pk__in=[ContentType.objects.get_for_model(m).pk for m in models])


class AuditFilter(df.FilterSet):
    content_type = df.ModelChoiceFilter(label=_("Record type"), queryset=lambda req: audited_content_types())
    actor = df.CharFilter(label=_("User"), field_name="actor__username", lookup_expr="icontains")
    action = df.ChoiceFilter(label=_("Action"), choices=LogEntry.Action.choices)
    object_repr = df.CharFilter(label=_("Record"), lookup_expr="icontains")
    remote_addr = df.CharFilter(label=_("IP address"), lookup_expr="startswith")
    since = df.DateFilter(
        label=_("From"),
        field_name="timestamp",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = df.DateFilter(
        label=_("To"),
        field_name="timestamp",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = LogEntry
        fields = []


class JobFilter(df.FilterSet):
    status = df.ChoiceFilter(label=_("Status"), choices=Job.Status.choices)
    label = df.CharFilter(label=_("Description"), lookup_expr="icontains")

    class Meta:
        model = Job
        fields = ["status", "label"]


def any_branch_q(base, branches, prefix: str = ""):
    """Any of ``branches``, as ``<prefix>pk IN (… UNION ALL …)``: each branch a query of
    ``base`` on its own.  For searches on PostgreSQL: inside one OR the database re-checks the
    whole expression on every row its indexes found; as separate branches each index condition
    stands alone, and each branch carries ``base``'s conditions (a list's scope) to combine with."""
    from django.db.models import Q

    parts = [base.filter(b).order_by().values("pk") for b in branches]
    return Q(**{f"{prefix}pk__in": parts[0].union(*parts[1:], all=True)})


class SearchLast:
    """A FilterSet mixin for a text search made of branches (any of several conditions, each with
    its own index: :func:`any_branch_q`).  The search is applied after every other filter, the
    subclass's ``filter_queryset`` included, so that each branch carries all the list's conditions;
    the list's paginator then reads the matches, sorted, from the branches alone
    (``CappedPaginator(search=…)``) without joining them back to the table.

    Subclasses give ``search_branches(value) -> list[Q]`` and name ``search`` as their text filter's
    method; ``search_walk(value)`` may give, for a term most rows match, the search as one condition
    to check row by row in the list's order instead.  ``qs`` stays the whole answer (the Excel
    export and the API use it); ``search_parts`` is ``(queryset without the search, branches, walk
    condition or None)`` once a search was given, else ``None``."""

    search_parts = None

    def search(self, qs, name, value):
        self._branches = self.search_branches(value)
        self._walk = self.search_walk(value)
        return qs

    def search_branches(self, value: str) -> list:
        raise NotImplementedError

    def search_walk(self, value: str):
        return None

    @property
    def qs(self):
        if not hasattr(self, "_qs"):
            self._branches = None
            qs = super().qs
            branches = self._branches
            if branches is not None:
                from django.db import connection
                from django.db.models import Q

                self.search_parts = (qs, branches, self._walk)
                if connection.vendor == "postgresql" and len(branches) > 1:
                    qs = qs.filter(any_branch_q(qs, branches))
                else:
                    any_of = Q()
                    for b in branches:
                        any_of |= b
                    qs = qs.filter(any_of)
                self._qs = qs
        return self._qs
