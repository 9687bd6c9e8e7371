"""Forms of the product pages.  They parse what people type; the services check and write."""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import DictEntryChoiceField

from . import labels
from .models import Category, Product
from .selectors import category_choices


class CategoryChoiceField(forms.TypedChoiceField):
    """A category of the tree, shown indented; the value is the Category."""

    def __init__(self, *args, exclude_subtree_of=None, empty_label=None, **kwargs):
        empty_label = empty_label if empty_label is not None else _("— none —")
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("empty_value", None)
        # A callable: the tree is read when the form is shown, not when this module is imported.
        super().__init__(
            *args,
            choices=lambda: [("", empty_label)] + category_choices(exclude_subtree_of=exclude_subtree_of),
            **kwargs,
        )

    def clean(self, value):
        pk = super().clean(value)
        if pk is None:
            return None
        category = Category.objects.filter(pk=pk).first()
        if category is None:
            raise forms.ValidationError(_("The category does not exist any more."))
        return category


class ProductForm(forms.Form):
    code = forms.CharField(label=_("Product code"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=120)
    spec = forms.CharField(label=_("Specification / model"), max_length=120, required=False)
    category = CategoryChoiceField(label=_("Category"), required=False)
    brand = forms.CharField(label=_("Brand"), max_length=60, required=False)
    unit = DictEntryChoiceField("unit", label=_("Unit"), required=False)
    quantity_decimals = forms.IntegerField(
        label=_("Quantity decimals"),
        initial=0,
        help_text=_("0 for whole units; up to 4 (e.g. 2 for metres or kilograms)."),
    )
    list_price = forms.DecimalField(label=_("List price (tax incl.)"), initial=0)
    standard_cost = forms.DecimalField(label=_("Standard cost"), initial=0)
    tax_rate = forms.DecimalField(label=_("Tax rate (%)"), initial=13)
    barcode = forms.CharField(label=_("Barcode"), max_length=64, required=False)
    tracking = forms.ChoiceField(
        label=_("Tracking"), choices=Product.Tracking.choices, initial=Product.Tracking.NONE
    )
    serial_prefix = forms.CharField(
        label=_("Serial number prefix"),
        max_length=20,
        required=False,
        help_text=_("For serial-tracked products: generated serial numbers start with it."),
    )
    warranty_months = forms.IntegerField(label=_("Warranty (months)"), initial=0)
    is_active = forms.BooleanField(label=_("On sale (untick to discontinue)"), required=False, initial=True)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    confirm_duplicate = forms.BooleanField(
        label=_("Save anyway: this is a different product"), required=False
    )

    def __init__(self, *args, product: Product | None = None, **kwargs):
        if product is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                f: getattr(product, f)
                for f in (
                    "code",
                    "name",
                    "spec",
                    "brand",
                    "quantity_decimals",
                    "list_price",
                    "standard_cost",
                    "tax_rate",
                    "barcode",
                    "tracking",
                    "serial_prefix",
                    "warranty_months",
                    "is_active",
                    "notes",
                )
            } | {"category": product.category_id, "unit": product.unit_id}
        super().__init__(*args, **kwargs)
        self.fields["unit"].include_current(product.unit if product is not None else None)
        check_url = reverse("catalog:duplicate_check")
        for name in ("name", "spec"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": check_url,
                    "hx-trigger": "change, blur changed delay:200ms",
                    "hx-target": "#duplicate-hints",
                    "hx-include": "[name=name],[name=spec],[name=exclude]",
                    "autocomplete": "off",
                }
            )
        self.fields["brand"].widget.attrs["list"] = "brand-list"
        for name in ("list_price", "standard_cost", "tax_rate"):
            self.fields[name].widget.attrs.update({"step": "0.01", "inputmode": "decimal"})

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("confirm_duplicate", None)
        return data


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    parent = CategoryChoiceField(label=_("Parent category"), required=False, empty_label=_("— top level —"))
    order = forms.IntegerField(label=_("Order"), initial=100, help_text=_("Smaller numbers come first."))

    def __init__(self, *args, category: Category | None = None, **kwargs):
        if category is not None and "initial" not in kwargs:
            kwargs["initial"] = {"name": category.name, "parent": category.parent_id, "order": category.order}
        super().__init__(*args, **kwargs)
        if category is not None:
            self.fields["parent"] = CategoryChoiceField(
                label=_("Parent category"),
                required=False,
                empty_label=_("— top level —"),
                exclude_subtree_of=category,
            )


class ImageForm(forms.Form):
    image = forms.FileField(
        label=_("Image"),
        help_text=_("JPEG, PNG, GIF or WebP, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
    )


class LabelForm(forms.Form):
    layout = forms.ChoiceField(
        label=_("Label size"), choices=labels.layout_choices, initial=labels.DEFAULT_LAYOUT
    )
    symbology = forms.ChoiceField(label=_("Print"), choices=list(labels.SYMBOLOGIES.items()), initial="both")
    copies = forms.IntegerField(
        label=_("Copies of each"), initial=1, min_value=1, max_value=labels.MAX_COPIES
    )
    skip = forms.IntegerField(
        label=_("Labels to skip on the first sheet"),
        initial=0,
        min_value=0,
        required=False,
        help_text=_("A4 sheets only: start after labels already used."),
    )
