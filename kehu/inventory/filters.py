"""List filters of the inventory pages (django-filter)."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.catalog.models import Category

from .models import (
    DocStatus,
    Reason,
    SerialUnit,
    StockBalance,
    StockMove,
    StockNote,
    Stocktake,
    Transfer,
    Warehouse,
)

DATE = forms.DateInput(attrs={"type": "date"})


def warehouses(request=None):
    return Warehouse.objects.active()


def product_q(prefix: str, value: str) -> Q:
    """The product box of the inventory pages and API: the catalogue's search (code, name,
    specification, brand, barcode, pinyin initials), products first (a small table), then the rows of
    those products through their product index.  ``prefix`` is ``""`` for products themselves or
    ``"product__"`` for rows that name a product."""
    from kehu.catalog.models import Product
    from kehu.catalog.selectors import product_search_q

    found = Product.objects.filter(product_search_q(value)).values("pk")
    return Q(**{f"{prefix[:-2]}_id__in" if prefix else "pk__in": found})


class StockFilter(df.FilterSet):
    q = df.CharFilter(label=_("Product"), method="search")
    warehouse = df.ModelChoiceFilter(label=_("Warehouse"), queryset=warehouses)
    category = df.ModelChoiceFilter(
        label=_("Category"), queryset=Category.objects.all(), field_name="product__category"
    )
    batch = df.CharFilter(label=_("Batch"), lookup_expr="iexact")
    zero = df.BooleanFilter(
        label=_("Show zero stock"),
        method="with_zero",
        widget=forms.Select(choices=[("", _("No")), ("true", _("Yes"))]),
    )

    class Meta:
        model = StockBalance
        fields = ["q", "warehouse", "category", "batch", "zero"]

    def search(self, qs, name, value):
        return qs.filter(product_q("product__", value))

    def with_zero(self, qs, name, value):
        return qs

    @property
    def qs(self):
        qs = super().qs
        if not self.form.cleaned_data.get("zero"):
            qs = qs.filter(Q(quantity__gt=0) | Q(reserved__gt=0))
        return qs


class MoveFilter(df.FilterSet):
    q = df.CharFilter(label=_("Product"), method="search")
    warehouse = df.ModelChoiceFilter(label=_("Warehouse"), queryset=warehouses)
    reason = df.ChoiceFilter(label=_("Reason"), choices=Reason.choices)
    doc_number = df.CharFilter(label=_("Document number"), lookup_expr="icontains")
    batch = df.CharFilter(label=_("Batch"), lookup_expr="iexact")
    since = df.DateFilter(label=_("From"), field_name="created_at", lookup_expr="date__gte", widget=DATE)
    until = df.DateFilter(label=_("To"), field_name="created_at", lookup_expr="date__lte", widget=DATE)
    direction = df.ChoiceFilter(
        label=_("Direction"), choices=[("in", _("In")), ("out", _("Out"))], method="by_direction"
    )

    class Meta:
        model = StockMove
        fields = ["q", "warehouse", "reason", "doc_number", "since", "until"]

    def search(self, qs, name, value):
        return qs.filter(product_q("product__", value))

    def by_direction(self, qs, name, value):
        return qs.filter(quantity__gt=0) if value == "in" else qs.filter(quantity__lt=0)


class NoteFilter(df.FilterSet):
    number = df.CharFilter(label=_("Number"), lookup_expr="icontains")
    warehouse = df.ModelChoiceFilter(label=_("Warehouse"), queryset=warehouses)
    reason = df.ChoiceFilter(label=_("Reason"), choices=Reason.choices)
    status = df.ChoiceFilter(label=_("Status"), choices=DocStatus.choices)
    partner = df.CharFilter(label=_("Supplier / recipient"), lookup_expr="icontains")
    since = df.DateFilter(label=_("From"), field_name="created_at", lookup_expr="date__gte", widget=DATE)
    until = df.DateFilter(label=_("To"), field_name="created_at", lookup_expr="date__lte", widget=DATE)

    class Meta:
        model = StockNote
        fields = ["number", "warehouse", "reason", "status", "partner"]


class TransferFilter(df.FilterSet):
    number = df.CharFilter(label=_("Number"), lookup_expr="icontains")
    from_warehouse = df.ModelChoiceFilter(label=_("From warehouse"), queryset=warehouses)
    to_warehouse = df.ModelChoiceFilter(label=_("To warehouse"), queryset=warehouses)
    status = df.ChoiceFilter(label=_("Status"), choices=DocStatus.choices)

    class Meta:
        model = Transfer
        fields = ["number", "from_warehouse", "to_warehouse", "status"]


class StocktakeFilter(df.FilterSet):
    number = df.CharFilter(label=_("Number"), lookup_expr="icontains")
    warehouse = df.ModelChoiceFilter(label=_("Warehouse"), queryset=warehouses)
    status = df.ChoiceFilter(label=_("Status"), choices=Stocktake.Status.choices)

    class Meta:
        model = Stocktake
        fields = ["number", "warehouse", "status"]


class SerialFilter(df.FilterSet):
    serial = df.CharFilter(label=_("Serial number"), method="by_serial")
    q = df.CharFilter(label=_("Product"), method="search")
    status = df.ChoiceFilter(label=_("Status"), choices=SerialUnit.Status.choices)
    warehouse = df.ModelChoiceFilter(label=_("Warehouse"), queryset=warehouses)
    batch = df.CharFilter(label=_("Batch"), lookup_expr="iexact")
    customer = df.CharFilter(label=_("Customer"), field_name="customer__name", lookup_expr="icontains")

    class Meta:
        model = SerialUnit
        fields = ["serial", "q", "status", "warehouse", "batch", "customer"]

    def by_serial(self, qs, name, value):
        value = value.strip()
        return qs.filter(serial__startswith=value)

    def search(self, qs, name, value):
        return qs.filter(product_q("product__", value))


class WarehouseFilter(df.FilterSet):
    q = df.CharFilter(label=_("Code or name"), method="search")

    class Meta:
        model = Warehouse
        fields = ["q"]

    def search(self, qs, name, value):
        return qs.filter(Q(code__icontains=value) | Q(name__icontains=value))
