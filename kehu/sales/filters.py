"""Filters of the marketing lists (django-filter); people choices stay inside the user's scope."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import DictEntry

from .models import Campaign, Opportunity, PlanItem, Recipient, Stage
from .selectors import owner_q

DATE = forms.DateInput(attrs={"type": "date"})
OPEN = "open"


def colleagues(user):
    from kehu.customers.filters import colleagues as c

    return c(user)


def people_choices(users):
    from kehu.customers.filters import people_choices as p

    return p(users)


def departments(user):
    from kehu.accounts.models import Department

    qs = Department.objects.active().order_by("code")
    if user.data_scope == "all":
        return qs
    return qs.filter(pk__in=user.scope_department_ids() or [user.department_id or 0])


class OpportunityFilter(df.FilterSet):
    q = df.CharFilter(label=_("Number, summary or company"), method="search")
    status = df.ChoiceFilter(
        label=_("Status"), choices=[(OPEN, _("Open")), *Opportunity.Status.choices], method="by_status"
    )
    stage = df.ModelChoiceFilter(label=_("Stage"), queryset=Stage.objects.all())
    owner = df.ChoiceFilter(label=_("Owner"), method="by_owner")
    source = df.ModelChoiceFilter(
        label=_("Source"), queryset=DictEntry.objects.filter(type="opportunity_source").order_by("order")
    )
    close_from = df.DateFilter(
        label=_("Expected close from"), field_name="expected_close", lookup_expr="gte", widget=DATE
    )
    close_to = df.DateFilter(
        label=_("Expected close to"), field_name="expected_close", lookup_expr="lte", widget=DATE
    )
    overdue = df.BooleanFilter(
        label=_("Past the expected close date"), method="by_overdue", widget=forms.CheckboxInput
    )

    class Meta:
        model = Opportunity
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.request.user
        self.filters["owner"].extra["choices"] = [("me", _("Me")), *people_choices(colleagues(user))]

    def search(self, qs, name, value):
        value = value.strip()
        return qs.filter(
            Q(number__iexact=value)
            | Q(summary__icontains=value)
            | Q(prospect_name__icontains=value)
            | Q(customer__name__icontains=value)
        )

    def by_status(self, qs, name, value):
        return qs.filter(status__in=Opportunity.OPEN) if value == OPEN else qs.filter(status=value)

    def by_owner(self, qs, name, value):
        return qs.filter(owner_q(self.request.user.pk if value == "me" else value))

    def by_overdue(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(status__in=Opportunity.OPEN, expected_close__lt=timezone.localdate())


class PlanFilter(df.FilterSet):
    state = df.ChoiceFilter(
        label=_("State"),
        choices=[
            ("due", _("Due (today or earlier)")),
            ("pending", _("Without outcome")),
            ("done", _("Outcome recorded")),
        ],
        method="by_state",
    )
    owner = df.ChoiceFilter(label=_("Assignee"), method="by_owner")
    since = df.DateFilter(label=_("From"), field_name="planned_on", lookup_expr="gte", widget=DATE)
    until = df.DateFilter(label=_("To"), field_name="planned_on", lookup_expr="lte", widget=DATE)

    class Meta:
        model = PlanItem
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.request.user
        self.filters["owner"].extra["choices"] = [("me", _("Me")), *people_choices(colleagues(user))]

    def by_state(self, qs, name, value):
        if value == "done":
            return qs.filter(outcome_at__isnull=False)
        qs = qs.filter(outcome_at__isnull=True)
        if value == "due":
            qs = qs.filter(planned_on__lte=timezone.localdate())
        return qs

    def by_owner(self, qs, name, value):
        return qs.filter(opportunity__assignee_id=self.request.user.pk if value == "me" else value)


class CampaignFilter(df.FilterSet):
    q = df.CharFilter(label=_("Name"), field_name="name", lookup_expr="icontains")
    status = df.ChoiceFilter(label=_("Status"), choices=Campaign.Status.choices)

    class Meta:
        model = Campaign
        fields: list[str] = []


class RecipientFilter(df.FilterSet):
    q = df.CharFilter(label=_("E-mail or customer"), method="search")
    status = df.ChoiceFilter(label=_("Status"), choices=Recipient.Status.choices)
    responded = df.BooleanFilter(
        label=_("Responded"), field_name="responded_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Recipient
        fields: list[str] = []

    def search(self, qs, name, value):
        return qs.filter(Q(email__icontains=value.strip()) | Q(customer__name__icontains=value.strip()))
