"""Forms of the marketing pages: they parse input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.models import DictEntry

from .models import Campaign, Stage

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def dict_choices(type_code: str):
    return DictEntry.objects.filter(type=type_code, enabled=True).order_by("order", "pk")


class CustomerChoiceField(forms.ModelChoiceField):
    """A customer picked by searching (Tom Select, remote): only the chosen one is rendered, so the
    page stays small with a million customers; validation looks it up in the user's scope."""

    def __init__(self, queryset, **kwargs):
        super().__init__(queryset, **kwargs)
        self.widget = forms.Select(attrs={"data-customer-search": "1"})

    def render_selected(self, value):
        choices = [("", "---------")]
        if value not in (None, ""):
            obj = (
                self.queryset.filter(pk=getattr(value, "pk", value)).only("pk", "name").first()
                if str(getattr(value, "pk", value)).isdigit()
                else None
            )
            if obj is not None:
                choices.append((obj.pk, obj.name))
        self.widget.choices = choices


class OpportunityForm(forms.Form):
    customer = CustomerChoiceField(None, label=_("Existing customer"), required=False)
    prospect_name = forms.CharField(
        label=_("Or a prospect: company name"),
        max_length=120,
        required=False,
        help_text=_("A new company; it becomes a customer when the opportunity is won."),
    )
    prospect_contact = forms.CharField(label=_("Contact"), max_length=40, required=False)
    prospect_phone = forms.CharField(label=_("Contact phone"), max_length=40, required=False)
    prospect_email = forms.EmailField(label=_("Contact e-mail"), required=False)
    summary = forms.CharField(label=_("Summary"), max_length=200)
    source = forms.ModelChoiceField(DictEntry.objects.none(), label=_("Source"), required=False)
    stage = forms.ModelChoiceField(Stage.objects.none(), label=_("Stage"), required=False)
    probability = forms.IntegerField(
        label=_("Success probability (%)"), required=False, help_text=_("Empty: the stage's default.")
    )
    amount = forms.DecimalField(label=_("Expected amount"), max_digits=14, decimal_places=2, required=False)
    expected_close = forms.DateField(label=_("Expected close date"), required=False, widget=DATE)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    assignee = forms.ModelChoiceField(None, label=_("Assign to"), required=False)

    def __init__(self, *args, customers, assignees=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers
        self.fields["customer"].render_selected(
            self.data.get("customer") if self.is_bound else self.initial.get("customer")
        )
        self.fields["source"].queryset = dict_choices("opportunity_source")
        self.fields["stage"].queryset = Stage.objects.filter(enabled=True, is_won=False).order_by(
            "order", "pk"
        )
        if assignees is None:
            del self.fields["assignee"]
        else:
            self.fields["assignee"].queryset = assignees

    def service_fields(self) -> dict:
        d = dict(self.cleaned_data)
        d.pop("assignee", None)
        if d.get("amount") is None:
            d["amount"] = 0
        if d.get("probability") is None:
            d.pop("probability")
        if d.get("stage") is None:
            d.pop("stage")
        return d


class AssignForm(forms.Form):
    to = forms.ModelChoiceField(None, label=_("Assign to"))

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = users


class PlanItemForm(forms.Form):
    planned_on = forms.DateField(label=_("Date"), widget=DATE)
    todo = forms.CharField(label=_("What to do"), max_length=300)


class OutcomeForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), widget=forms.Textarea(attrs={"rows": 2}))


class WinForm(forms.Form):
    customer = CustomerChoiceField(
        None,
        label=_("Link to an existing customer"),
        required=False,
        help_text=_("Leave empty to create the customer from the prospect."),
    )
    confirm_duplicate = forms.BooleanField(
        label=_("Create it even though a similar customer exists"), required=False
    )

    def __init__(self, *args, customers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers
        self.fields["customer"].render_selected(self.data.get("customer") if self.is_bound else None)


class LoseForm(forms.Form):
    reason = forms.ModelChoiceField(DictEntry.objects.none(), label=_("Lost reason"))
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = dict_choices("lost_reason")


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(Stage.objects.filter(enabled=True))


class StageForm(forms.ModelForm):
    class Meta:
        model = Stage
        fields = ["order", "name_zh", "name_en", "probability", "enabled", "is_won"]


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    status = forms.ChoiceField(label=_("Status"), choices=Campaign.Status.choices)
    starts_on = forms.DateField(label=_("Starts on"), required=False, widget=DATE)
    ends_on = forms.DateField(label=_("Ends on"), required=False, widget=DATE)
    budget = forms.DecimalField(label=_("Budget"), max_digits=14, decimal_places=2, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # The target segment: the customer list's filters.
    seg_status = forms.ChoiceField(label=_("Customer status"), required=False)
    seg_level = forms.ModelChoiceField(DictEntry.objects.none(), label=_("Level"), required=False)
    seg_region = forms.ModelChoiceField(DictEntry.objects.none(), label=_("Region"), required=False)
    seg_industry = forms.ModelChoiceField(DictEntry.objects.none(), label=_("Industry"), required=False)
    seg_tag = forms.ModelChoiceField(None, label=_("Tag"), required=False)
    seg_q = forms.CharField(label=_("Name, pinyin, number or phone"), required=False)

    SEGMENT = ("status", "level", "region", "industry", "tag", "q")

    def __init__(self, *args, **kwargs):
        from kehu.customers.models import Customer, Tag

        super().__init__(*args, **kwargs)
        self.fields["seg_status"].choices = [("", _("Any"))] + list(Customer.Status.choices)
        self.fields["seg_level"].queryset = dict_choices("customer_level")
        self.fields["seg_region"].queryset = dict_choices("region")
        self.fields["seg_industry"].queryset = dict_choices("industry")
        self.fields["seg_tag"].queryset = Tag.objects.all()

    @classmethod
    def initial_for(cls, c: Campaign) -> dict:
        d = {f: getattr(c, f) for f in ("name", "status", "starts_on", "ends_on", "budget", "description")}
        for k in cls.SEGMENT:
            if k in (c.segment or {}):
                d[f"seg_{k}"] = c.segment[k]
        return d

    def service_fields(self) -> dict:
        cd = self.cleaned_data
        segment = {}
        for k in self.SEGMENT:
            v = cd.get(f"seg_{k}")
            if v not in (None, ""):
                segment[k] = str(getattr(v, "pk", v))
        return {
            "name": cd["name"],
            "status": cd["status"],
            "starts_on": cd.get("starts_on"),
            "ends_on": cd.get("ends_on"),
            "budget": cd.get("budget") or 0,
            "description": cd.get("description") or "",
            "segment": segment,
        }


class MailingForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Body"), widget=forms.Textarea(attrs={"rows": 12}))
    from_email = forms.CharField(
        label=_("Sender"), max_length=200, required=False, help_text=_("Empty: the system's sender address.")
    )


class RespondForm(forms.Form):
    note = forms.CharField(label=_("Response"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ConvertForm(forms.Form):
    summary = forms.CharField(label=_("Summary"), max_length=200, required=False)
    amount = forms.DecimalField(label=_("Expected amount"), max_digits=14, decimal_places=2, required=False)
    note = forms.CharField(label=_("Response"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
