"""Forms of the customer pages.  They parse and check what people type; the services write."""

from __future__ import annotations

import re

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import DictEntryChoiceField

from .models import Contact, Customer, FieldVisit, Tag
from .normalize import is_valid_email, is_valid_phone

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
RATINGS = [("", "—")] + [(str(i), str(i)) for i in range(1, 6)]
TAG_SPLIT = re.compile(r"[,，、;；\n]+")


def split_tags(text: str) -> list[str]:
    out = []
    for part in TAG_SPLIT.split(text or ""):
        name = part.strip()[:30]
        if name and name not in out:
            out.append(name)
    return out


def check_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not is_valid_phone(value):
        raise forms.ValidationError(_("%(phone)s is not a phone number.") % {"phone": value})
    return value


class CustomerForm(forms.ModelForm):
    """A company or a person: every field of the customer; tags as text (Tom Select adds chips)."""

    level = DictEntryChoiceField("customer_level", label=_("Level"), required=False)
    region = DictEntryChoiceField("region", label=_("Region"), required=False)
    industry = DictEntryChoiceField("industry", label=_("Industry"), required=False)
    source = DictEntryChoiceField("customer_source", label=_("Source"), required=False)
    credit_rating = forms.TypedChoiceField(
        label=_("Credit rating"), choices=RATINGS, coerce=int, required=False, empty_value=None
    )
    satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction"), choices=RATINGS, coerce=int, required=False, empty_value=None
    )
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=500, help_text=_("Separate tags with commas.")
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=None, widget=forms.Select(attrs={"data-picker": ""})
    )
    confirm_duplicate = forms.BooleanField(
        label=_("Save anyway: this is a different customer"), required=False
    )

    class Meta:
        model = Customer
        fields = [
            "kind",
            "name",
            "short_name",
            "status",
            "stage",
            "level",
            "region",
            "industry",
            "source",
            "phone",
            "fax",
            "website",
            "address",
            "postcode",
            "legal_representative",
            "registered_capital",
            "annual_revenue",
            "tax_number",
            "bank",
            "bank_account",
            "birthday",
            "credit_rating",
            "satisfaction",
            "opening_receivable",
            "notes",
        ]
        widgets = {
            "kind": forms.RadioSelect,
            "birthday": DATE,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, owners=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        inst = self.instance
        for name in ("level", "region", "industry", "source"):
            self.fields[name].include_current(getattr(inst, name) if inst.pk else None)
        if inst.pk:
            self.fields["tags"].initial = ", ".join(t.name for t in inst.tags.all())
            del self.fields["owner"]
        elif owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners
            self.fields["owner"].initial = user.pk
        self.fields["tags"].widget.attrs.update(
            {"data-tags": "", "data-options": ",".join(Tag.objects.values_list("name", flat=True)[:500])}
        )
        check_url = reverse("customers:duplicate_check")
        for name in ("name", "phone", "tax_number"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": check_url,
                    "hx-trigger": "change, blur changed delay:200ms",
                    "hx-target": "#duplicate-hints",
                    "hx-include": "[name=name],[name=phone],[name=tax_number],[name=exclude]",
                    "autocomplete": "off",
                }
            )
        self.fields["opening_receivable"].required = False
        self.fields["stage"].help_text = _("For prospects.")
        self.fields["birthday"].help_text = _("For individuals.")

    def clean_phone(self):
        return check_phone(self.cleaned_data.get("phone"))

    def clean_fax(self):
        return check_phone(self.cleaned_data.get("fax"))

    def clean_tags(self):
        return split_tags(self.cleaned_data.get("tags", ""))

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("tags", None)
        data.pop("owner", None)
        data.pop("confirm_duplicate", None)
        for key in (
            "short_name",
            "phone",
            "fax",
            "website",
            "address",
            "postcode",
            "legal_representative",
            "tax_number",
            "bank",
            "bank_account",
            "notes",
        ):
            data[key] = data.get(key) or ""
        if data.get("opening_receivable") is None:
            data["opening_receivable"] = 0
        return data


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "name",
            "gender",
            "title",
            "mobile",
            "phone",
            "email",
            "wechat",
            "birthday",
            "is_primary",
            "notes",
        ]
        widgets = {"birthday": DATE, "notes": forms.Textarea(attrs={"rows": 2})}

    def clean_mobile(self):
        return check_phone(self.cleaned_data.get("mobile"))

    def clean_phone(self):
        return check_phone(self.cleaned_data.get("phone"))

    def clean_email(self):
        value = (self.cleaned_data.get("email") or "").strip()
        if value and not is_valid_email(value):
            raise forms.ValidationError(_("%(email)s is not an e-mail address.") % {"email": value})
        return value


class ActivityForm(forms.Form):
    """记录联系: one contact with the customer; may complete a planned field visit."""

    kind = DictEntryChoiceField("activity_type", label=_("Type"))
    happened_at = forms.DateTimeField(
        label=_("Date"),
        widget=DATETIME,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
    )
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.objects.none(), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=120)
    place = forms.CharField(label=_("Place"), max_length=100, required=False)
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    next_follow_up = forms.DateField(label=_("Next follow-up"), widget=DATE, required=False)
    field_visit = forms.ModelChoiceField(
        label=_("Completes the field visit"), queryset=FieldVisit.objects.none(), required=False
    )

    def __init__(self, *args, customer, user, contacts=None, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("happened_at", timezone.localtime().replace(second=0, microsecond=0))
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.active().filter(customer=customer)
        if contacts is not None:  # already loaded: no query to render the choices
            self.fields["contact"].choices = [("", "---------")] + [(c.pk, c.name) for c in contacts]
        visits = FieldVisit.objects.filter(customer=customer, user=user, status=FieldVisit.Status.PLANNED)
        self.fields["field_visit"].queryset = visits.order_by("planned_on")
        self.fields["field_visit"].label_from_instance = lambda v: f"{v.planned_on:%Y-%m-%d} {v.purpose}"
        default_kind = self.fields["kind"].queryset.filter(code="call").first()
        if default_kind and "kind" not in self.initial:
            self.fields["kind"].initial = default_kind.pk


class CommentForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class VisitForm(forms.Form):
    planned_on = forms.DateField(label=_("Planned for"), widget=DATE)
    purpose = forms.CharField(label=_("Purpose"), max_length=200)
    place = forms.CharField(label=_("Place"), max_length=100, required=False)


class DocumentForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("At most 20 MB."))


class ShareForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Colleague"), queryset=None, widget=forms.Select(attrs={"data-picker": ""})
    )
    can_edit = forms.BooleanField(label=_("May edit"), required=False)

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users


class AssignForm(forms.Form):
    to = forms.ModelChoiceField(
        label=_("Assign to"), queryset=None, widget=forms.Select(attrs={"data-picker": ""})
    )

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = users


class ReleaseForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=200, required=False)


class DeferChurnForm(forms.Form):
    measure = forms.CharField(label=_("Measure"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    follow_up_on = forms.DateField(label=_("Follow up on"), widget=DATE, required=False)


class ConfirmChurnForm(forms.Form):
    reason = DictEntryChoiceField("lost_reason", label=_("Lost reason"))


class CallerIdForm(forms.Form):
    number = forms.CharField(label=_("Phone number"), max_length=40)
