"""django-filter sets of the product API."""

from __future__ import annotations

import django_filters as df
from django.utils.translation import gettext_lazy as _

from kehu.customers.api_filters import ArchivedFilterMixin

from .models import Product
from .selectors import descendant_ids, product_search_q


class ProductFilter(ArchivedFilterMixin):
    q = df.CharFilter(
        label=_("Code, name, specification, brand, barcode or pinyin initials"), method="filter_q"
    )
    category = df.NumberFilter(label=_("Category id (sub-categories included)"), method="filter_category")
    brand = df.CharFilter(field_name="brand", lookup_expr="iexact", label=_("Brand"))
    tracking = df.ChoiceFilter(choices=Product.Tracking.choices, label=_("Tracking"))
    is_active = df.BooleanFilter(label=_("On sale"))
    code = df.CharFilter(field_name="code", lookup_expr="iexact", label=_("Code (exact)"))
    barcode = df.CharFilter(field_name="barcode", label=_("Barcode (exact)"))

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_q(self, qs, name, value):
        return qs.filter(product_search_q(value, within=qs))

    def filter_category(self, qs, name, value):
        return qs.filter(category_id__in=descendant_ids(int(value)))
