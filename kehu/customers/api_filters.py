"""django-filter sets of the customer API.  Dictionary filters take codes, comma-separated for
several (``?level=vip,key``); date filters take ``YYYY-MM-DD`` and include the day given."""

from __future__ import annotations

import django_filters as df
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .filters import customer_search_q
from .models import Activity, ChurnCase, Contact, Customer, CustomerDocument, FieldVisit


class CodeInFilter(df.BaseInFilter, df.CharFilter):
    """One code or several, comma-separated."""


class ArchivedFilterMixin(df.FilterSet):
    """Archived records are left out unless ``?archived=true`` (only archived) or ``false`` (only active)
    is given."""

    archived = df.BooleanFilter(label=_("Archived"), method="filter_archived")

    def filter_archived(self, qs, name, value):
        return qs.filter(archived_at__isnull=not value)

    def filter_queryset(self, queryset):
        qs = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("archived") is None:
            qs = qs.filter(archived_at__isnull=True)
        return qs


class CustomerFilter(ArchivedFilterMixin):
    q = df.CharFilter(
        label=_("Name, short name, pinyin initials, number or phone"),
        method="filter_q",
    )
    level = CodeInFilter(field_name="level__code", label=_("Level (dictionary codes)"))
    region = CodeInFilter(field_name="region__code", label=_("Region (dictionary codes)"))
    industry = CodeInFilter(field_name="industry__code", label=_("Industry (dictionary codes)"))
    source = CodeInFilter(field_name="source__code", label=_("Source (dictionary codes)"))
    status = df.ChoiceFilter(choices=Customer.Status.choices, label=_("Status"))
    kind = df.ChoiceFilter(choices=Customer.Kind.choices, label=_("Kind"))
    owner = df.NumberFilter(field_name="owner_id", label=_("Owner (user id)"))
    tag = df.CharFilter(field_name="tags__name", label=_("Tag name"))
    created_after = df.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("Created on or after")
    )
    created_before = df.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("Created on or before")
    )
    last_contact_after = df.DateFilter(
        field_name="last_activity_at", lookup_expr="date__gte", label=_("Last contact on or after")
    )
    last_contact_before = df.DateFilter(
        field_name="last_activity_at", lookup_expr="date__lte", label=_("Last contact on or before")
    )

    class Meta:
        model = Customer
        fields: list = []

    def filter_q(self, qs, name, value):
        """Name or short name contains the text; pinyin initials start with it (``bjhx``); the number
        is it; or, when it is a phone number, the customer's or an active contact's normalised phone
        equals it (``+86 138-0013-8000`` finds ``13800138000``)."""
        return qs.filter(customer_search_q(value, within=qs))


class ContactFilter(ArchivedFilterMixin):
    customer = df.NumberFilter(field_name="customer_id", label=_("Customer (id)"))
    is_primary = df.BooleanFilter(label=_("Primary contact"))

    class Meta:
        model = Contact
        fields: list = []


class ActivityFilter(df.FilterSet):
    customer = df.NumberFilter(field_name="customer_id", label=_("Customer (id)"))
    contact = df.NumberFilter(field_name="contact_id", label=_("Contact (id)"))
    author = df.NumberFilter(field_name="author_id", label=_("Recorded by (user id)"))
    type = CodeInFilter(field_name="kind__code", label=_("Type (dictionary codes)"))
    happened_after = df.DateFilter(field_name="happened_at", lookup_expr="date__gte", label=_("On or after"))
    happened_before = df.DateFilter(
        field_name="happened_at", lookup_expr="date__lte", label=_("On or before")
    )
    follow_up_before = df.DateFilter(
        field_name="next_follow_up", lookup_expr="lte", label=_("Next follow-up on or before")
    )
    unread_comments = df.BooleanFilter(
        label=_("true: my activities with a supervisor's comment I have not read"), method="filter_unread"
    )

    class Meta:
        model = Activity
        fields: list = []

    def filter_unread(self, qs, name, value):
        unread = Q(author=self.request.user, commented_at__isnull=False, comment_read_at__isnull=True)
        return qs.filter(unread) if value else qs.exclude(unread)


class FieldVisitFilter(df.FilterSet):
    customer = df.NumberFilter(field_name="customer_id", label=_("Customer (id)"))
    user = df.NumberFilter(field_name="user_id", label=_("Who (user id)"))
    status = df.ChoiceFilter(choices=FieldVisit.Status.choices, label=_("Status"))
    planned_after = df.DateFilter(field_name="planned_on", lookup_expr="gte", label=_("Planned on or after"))
    planned_before = df.DateFilter(
        field_name="planned_on", lookup_expr="lte", label=_("Planned on or before")
    )

    class Meta:
        model = FieldVisit
        fields: list = []


class DocumentFilter(df.FilterSet):
    customer = df.NumberFilter(field_name="customer_id", label=_("Customer (id)"))

    class Meta:
        model = CustomerDocument
        fields: list = []


class ChurnCaseFilter(df.FilterSet):
    customer = df.NumberFilter(field_name="customer_id", label=_("Customer (id)"))
    status = df.ChoiceFilter(choices=ChurnCase.Status.choices, label=_("Status"))
    reason = CodeInFilter(field_name="reason__code", label=_("Lost reason (dictionary codes)"))
    opened_after = df.DateFilter(
        field_name="opened_at", lookup_expr="date__gte", label=_("Opened on or after")
    )
    opened_before = df.DateFilter(
        field_name="opened_at", lookup_expr="date__lte", label=_("Opened on or before")
    )

    class Meta:
        model = ChurnCase
        fields: list = []
