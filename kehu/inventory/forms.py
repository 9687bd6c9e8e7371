"""Forms of the inventory pages.  Document lines are posted as parallel arrays (product, quantity,
batch, unit_cost, serials…) and parsed in the view; the services validate everything."""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.catalog.models import Category, Product

from .models import ISSUE_REASONS, RECEIPT_REASONS, Reason, Warehouse


def active_warehouses():
    return Warehouse.objects.active()


def active_products():
    return Product.objects.active().order_by("code")


class WarehouseForm(forms.ModelForm):
    class Meta:
        model = Warehouse
        fields = ["code", "name", "address", "keeper", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.accounts.models import User

        self.fields["keeper"].queryset = User.objects.filter(is_active=True).order_by("username")


class LocationForm(forms.Form):
    code = forms.CharField(label=_("Location code"), max_length=30)
    name = forms.CharField(label=_("Name"), max_length=60, required=False)


def recall_products():
    """What a recall may concern: every serial-tracked product, discontinued and archived ones too
    (a recall often concerns products no longer sold)."""
    return Product.objects.filter(tracking=Product.Tracking.SERIAL)


def product_label(code: str, name: str, spec: str = "", *, archived=False, active=True) -> str:
    """A product as the pickers show it: code, name, specification, and whether it is archived or
    no longer sold."""
    text = " ".join(x for x in (code, name, spec) if x)
    if archived:
        return f"{text} · {_('Archived')}"
    if not active:
        return f"{text} · {_('Discontinued')}"
    return text


class ProductChoiceField(forms.ModelChoiceField):
    """A product picked by searching (Tom Select, remote: ``search_url``, by default
    ``inventory:product_options``; the form sets the queryset).  Validation uses the whole queryset;
    the select renders only the chosen product, so the page stays small with 200,000 products."""

    def __init__(self, *, search_url=None, **kwargs):
        url = reverse_lazy("inventory:product_options") if search_url is None else search_url
        kwargs.setdefault("widget", forms.Select(attrs={"data-product-search": url}))
        super().__init__(Product.objects.none(), **kwargs)

    def render_selected(self, value):
        choices = [("", "—")]
        pk = getattr(value, "pk", value)
        if pk not in (None, "") and str(pk).isdigit():
            for p in self.queryset.filter(pk=pk).only(
                "pk", "code", "name", "spec", "archived_at", "is_active"
            ):
                label = product_label(
                    p.code, p.name, p.spec, archived=p.archived_at is not None, active=p.is_active
                )
                choices.append((p.pk, label))
        self.widget.choices = choices


class SafetyStockForm(forms.Form):
    product = ProductChoiceField(label=_("Product"))
    minimum = forms.DecimalField(label=_("Safety stock"), min_value=0, max_digits=18, decimal_places=4)
    maximum = forms.DecimalField(
        label=_("Maximum stock"), min_value=0, max_digits=18, decimal_places=4, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        field.queryset = active_products()
        field.render_selected(self.data.get(self.add_prefix("product")) or self.initial.get("product"))


class NoteHeaderForm(forms.Form):
    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=Warehouse.objects.none())
    reason = forms.ChoiceField(label=_("Reason"))
    partner = forms.CharField(label=_("Supplier / recipient"), max_length=120, required=False)
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=None, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, kind: str, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.core.scopes import visible_to
        from kehu.customers.models import Customer

        self.fields["warehouse"].queryset = active_warehouses()
        reasons = RECEIPT_REASONS if kind == "receipt" else ISSUE_REASONS
        self.fields["reason"].choices = [(r.value, r.label) for r in reasons]
        qs = Customer.objects.active().order_by("name")
        field = self.fields["customer"]
        field.queryset = visible_to(qs, user) if user is not None else qs
        # a company has many customers: the select holds only the chosen one, the rest load as you type
        chosen = self.data.get("customer") or self.initial.get("customer")
        options = [("", "—")]
        if chosen and str(chosen).isdigit():
            options += [(c.pk, f"{c.number} {c.name}") for c in field.queryset.filter(pk=chosen)]
        field.widget.choices = options
        field.widget.attrs["data-remote"] = "1"


class TransferHeaderForm(forms.Form):
    from_warehouse = forms.ModelChoiceField(label=_("From warehouse"), queryset=Warehouse.objects.none())
    to_warehouse = forms.ModelChoiceField(label=_("To warehouse"), queryset=Warehouse.objects.none())
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_warehouse"].queryset = active_warehouses()
        self.fields["to_warehouse"].queryset = active_warehouses()


class StocktakeStartForm(forms.Form):
    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=Warehouse.objects.none())
    category = forms.ModelChoiceField(
        label=_("Category (optional)"), queryset=Category.objects.all(), required=False
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = active_warehouses()


class CountImportForm(forms.Form):
    file = forms.FileField(label=_("Count sheet (xlsx or csv: product code, batch, counted quantity)"))


class MonthForm(forms.Form):
    month = forms.CharField(label=_("Month"), widget=forms.DateInput(attrs={"type": "month"}))
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"), queryset=Warehouse.objects.none(), required=False
    )
    q = forms.CharField(label=_("Product"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = Warehouse.objects.all()
        if not self.data.get("month"):
            self.initial["month"] = timezone.localdate().strftime("%Y-%m")

    def clean_month(self):
        value = self.cleaned_data["month"]
        try:
            year, month = (int(x) for x in value.split("-"))
            if not (1 <= month <= 12 and 1900 < year < 3000):
                raise ValueError
        except ValueError:
            raise forms.ValidationError(_("Enter a month as YYYY-MM."))
        return (year, month)


class RecallForm(forms.Form):
    product = ProductChoiceField(
        label=_("Product"), search_url=reverse_lazy("inventory:recall_product_options")
    )
    batch = forms.CharField(label=_("Batch"), required=False)
    produced_from = forms.DateField(
        label=_("Produced from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    produced_to = forms.DateField(
        label=_("Produced to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        field.queryset = recall_products().order_by("code")
        field.render_selected(self.data.get(self.add_prefix("product")) or self.initial.get("product"))

    def clean(self):
        data = super().clean()
        if not data.get("batch") and not data.get("produced_from") and not data.get("produced_to"):
            raise forms.ValidationError(_("Name a batch or a production date range."))
        if (
            data.get("produced_from")
            and data.get("produced_to")
            and data["produced_from"] > data["produced_to"]
        ):
            raise forms.ValidationError(_("The range ends before it starts."))
        return data


class LabelForm(forms.Form):
    layout = forms.ChoiceField(label=_("Layout"))
    symbology = forms.ChoiceField(
        label=_("Code"), choices=[("both", _("Code 128 and QR")), ("code128", "Code 128"), ("qr", "QR")]
    )
    copies = forms.IntegerField(label=_("Copies"), min_value=1, max_value=10, initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            from kehu.catalog.labels import LAYOUTS

            self.fields["layout"].choices = [(k, getattr(v, "label", k)) for k, v in LAYOUTS.items()]
        except ImportError:  # the catalog's label module is not installed
            self.fields["layout"].choices = [("roll_50x30", "50 × 30 mm")]


REASON_CHOICES = Reason.choices
