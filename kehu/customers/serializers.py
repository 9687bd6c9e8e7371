"""Serializers of the customer API (``/api/v1/customers/`` and friends).

Dictionary fields (level, region, industry, source, activity type, lost reason) are written and read
as their codes (``"level": "vip"``); each has a read-only ``<field>_detail`` object
``{"code", "label"}`` with the label in the request's language.  Choice fields (status, kind,
stage, gender) have a read-only ``<field>_label``.  The serializers only parse and render: every
write goes through :mod:`kehu.customers.services`.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kehu.accounts.models import User
from kehu.core.models import DictEntry
from kehu.core.scopes import visible_to

from .models import (
    Activity,
    ChurnCase,
    ChurnMeasure,
    Contact,
    Customer,
    CustomerDocument,
    CustomerShare,
    FieldVisit,
)
from .normalize import normalize_phone
from .selectors import contacts_visible_to, customers_visible_to, visits_visible_to

# --- building blocks ----------------------------------------------------------------------------


class DictCodeField(serializers.SlugRelatedField):
    """A foreign key to one type of the data dictionary, written and read as the entry's code.
    Only enabled entries can be chosen."""

    default_error_messages = {
        "does_not_exist": _("“{value}” is not a known code."),
        "invalid": _("Give a code."),
    }

    def __init__(self, dict_type: str, **kwargs):
        self.dict_type = dict_type
        kwargs.setdefault("slug_field", "code")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", DictEntry.objects.filter(type=dict_type, enabled=True))
        super().__init__(**kwargs)


class DictRefSerializer(serializers.Serializer):
    """A dictionary entry as clients show it: its code and its label in the request's language."""

    code = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)


def dict_detail(source: str) -> DictRefSerializer:
    return DictRefSerializer(source=source, read_only=True, allow_null=True)


class UserRefField(serializers.PrimaryKeyRelatedField):
    """An active user, by id."""

    def __init__(self, **kwargs):
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)


class ScopedCustomerField(serializers.PrimaryKeyRelatedField):
    """A customer the requesting user may see (others are reported as not existing)."""

    def get_queryset(self):
        return customers_visible_to(self.context["request"].user)


class ScopedContactField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return contacts_visible_to(self.context["request"].user).filter(archived_at__isnull=True)


class ScopedVisitField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return visits_visible_to(self.context["request"].user)


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 30}})
class TagListField(serializers.ListField):
    """Tag names; written as a list of strings (unknown tags are created), read the same way."""

    child = serializers.CharField(max_length=30)

    def to_representation(self, data):
        return [t.name for t in data.all()] if hasattr(data, "all") else list(data)


def display_name(source: str) -> serializers.CharField:
    return serializers.CharField(
        source=f"{source}.display_name", read_only=True, default=None, allow_null=True
    )


class ApiErrorSerializer(serializers.Serializer):
    """The error shape of every endpoint."""

    code = serializers.CharField(
        help_text=_("Stable for programs: invalid, not_found, duplicate, conflict, …")
    )
    message = serializers.CharField(help_text=_("For people, in the request's language."))
    details = serializers.DictField(help_text=_("Field errors, or what the rule found (e.g. duplicates)."))


# --- customers ----------------------------------------------------------------------------------

CUSTOMER_WRITABLE = [
    "kind",
    "name",
    "short_name",
    "level",
    "region",
    "industry",
    "source",
    "status",
    "stage",
    "credit_rating",
    "satisfaction",
    "address",
    "phone",
    "fax",
    "website",
    "postcode",
    "legal_representative",
    "registered_capital",
    "annual_revenue",
    "bank",
    "bank_account",
    "tax_number",
    "opening_receivable",
    "birthday",
    "notes",
]


class CustomerSerializer(serializers.ModelSerializer):
    level = DictCodeField("customer_level", required=False, allow_null=True)
    region = DictCodeField("region", required=False, allow_null=True)
    industry = DictCodeField("industry", required=False, allow_null=True)
    source = DictCodeField("customer_source", required=False, allow_null=True)
    level_detail = dict_detail("level")
    region_detail = dict_detail("region")
    industry_detail = dict_detail("industry")
    source_detail = dict_detail("source")
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    stage_label = serializers.CharField(source="get_stage_display", read_only=True, allow_null=True)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        required=False,
        help_text=_(
            "The owner's user id; only when creating, and only a supervisor names someone else "
            "(default: the caller). Use the assign action to transfer a customer."
        ),
    )
    owner_name = display_name("owner")
    in_pool = serializers.BooleanField(read_only=True)
    tags = TagListField(required=False)
    confirm_duplicate = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text=_("Save even though the customer looks like an existing one (after a 409 duplicate)."),
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "number",
            "kind",
            "kind_label",
            "name",
            "short_name",
            "level",
            "level_detail",
            "region",
            "region_detail",
            "industry",
            "industry_detail",
            "source",
            "source_detail",
            "status",
            "status_label",
            "stage",
            "stage_label",
            *CUSTOMER_WRITABLE[9:],
            "pinyin",
            "owner",
            "owner_name",
            "in_pool",
            "tags",
            "last_activity_at",
            "last_order_at",
            "assigned_at",
            "released_at",
            "created_by",
            "created_at",
            "updated_at",
            "archived_at",
            "confirm_duplicate",
        ]
        read_only_fields = [
            "number",
            "pinyin",
            "last_activity_at",
            "last_order_at",
            "assigned_at",
            "released_at",
            "created_by",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        validators: list = []  # the services check what the database would refuse, with clear messages

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["owner"].read_only = True
        elif request is not None and request.user.is_authenticated:
            fields["owner"].queryset = visible_to(User.objects.filter(is_active=True), request.user)
        return fields


class CustomerBriefSerializer(serializers.ModelSerializer):
    level = DictCodeField("customer_level", read_only=True)
    level_detail = dict_detail("level")
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    owner_name = display_name("owner")
    in_pool = serializers.BooleanField(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "number",
            "name",
            "short_name",
            "status",
            "status_label",
            "level",
            "level_detail",
            "phone",
            "address",
            "owner",
            "owner_name",
            "in_pool",
            "last_activity_at",
        ]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    to = UserRefField(help_text=_("The user who will own the customer."))
    expected_owner = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=_(
            "The owner's id as the caller last saw it (null: the public pool). When given and the "
            "owner has changed meanwhile, the answer is 409 conflict."
        ),
    )


class BulkAssignSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)
    to = UserRefField(help_text=_("The user who will own the customers."))
    expected_owner_ids = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        required=False,
        help_text=_(
            "{customer id: owner id the caller saw (null: the pool)}; a change meanwhile answers 409."
        ),
    )

    def validate_expected_owner_ids(self, value):
        try:
            return {int(k): v for k, v in value.items()}
        except (TypeError, ValueError):
            raise serializers.ValidationError(_("The keys must be customer ids."))


class BulkAssignResultSerializer(serializers.Serializer):
    assigned = serializers.IntegerField()


class ShareSerializer(serializers.Serializer):
    user = UserRefField(help_text=_("The colleague who will see the customer."))
    can_edit = serializers.BooleanField(required=False, default=False)


class UnshareSerializer(serializers.Serializer):
    user = UserRefField()


class ShareResultSerializer(serializers.ModelSerializer):
    user_name = display_name("user")

    class Meta:
        model = CustomerShare
        fields = ["id", "customer", "user", "user_name", "can_edit", "shared_by", "shared_at"]
        read_only_fields = fields


class ReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class MergeSerializer(serializers.Serializer):
    into = ScopedCustomerField(
        queryset=Customer.objects.none(),
        help_text=_("The customer that remains; this one is archived and everything moves there."),
    )


# --- contacts -----------------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField(queryset=Customer.objects.none())
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    gender_label = serializers.CharField(source="get_gender_display", read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "customer",
            "customer_name",
            "name",
            "gender",
            "gender_label",
            "title",
            "mobile",
            "phone",
            "email",
            "wechat",
            "birthday",
            "is_primary",
            "notes",
            "created_at",
            "archived_at",
        ]
        read_only_fields = ["created_at", "archived_at"]
        validators: list = []  # one primary contact: save_contact moves the flag instead of refusing

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["customer"].read_only = True
        return fields


class ContactBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "title", "mobile", "phone", "email", "is_primary"]
        read_only_fields = fields


# --- activities ---------------------------------------------------------------------------------


class ActivitySerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField(queryset=Customer.objects.none())
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    contact = ScopedContactField(queryset=Contact.objects.none(), required=False, allow_null=True)
    contact_name = serializers.CharField(source="contact.name", read_only=True, default=None, allow_null=True)
    type = DictCodeField("activity_type", source="kind")
    type_detail = dict_detail("kind")
    happened_at = serializers.DateTimeField(required=False, help_text=_("Default: now."))
    author_name = display_name("author")
    commented_by_name = display_name("commented_by")
    field_visit = ScopedVisitField(
        queryset=FieldVisit.objects.none(),
        required=False,
        allow_null=True,
        write_only=True,
        help_text=_("A planned field visit of the caller that this activity completes."),
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "customer",
            "customer_name",
            "contact",
            "contact_name",
            "type",
            "type_detail",
            "happened_at",
            "place",
            "subject",
            "summary",
            "next_follow_up",
            "author",
            "author_name",
            "comment",
            "commented_by",
            "commented_by_name",
            "commented_at",
            "comment_read_at",
            "created_at",
            "field_visit",
        ]
        read_only_fields = [
            "author",
            "comment",
            "commented_by",
            "commented_at",
            "comment_read_at",
            "created_at",
        ]


class ActivityBriefSerializer(serializers.ModelSerializer):
    type = DictCodeField("activity_type", source="kind", read_only=True)
    type_detail = dict_detail("kind")
    author_name = display_name("author")

    class Meta:
        model = Activity
        fields = [
            "id",
            "type",
            "type_detail",
            "happened_at",
            "subject",
            "summary",
            "next_follow_up",
            "author_name",
        ]
        read_only_fields = fields


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000)


class MarkReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


# --- field visits -------------------------------------------------------------------------------


class FieldVisitSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField(queryset=Customer.objects.none())
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    user_name = display_name("user")
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = FieldVisit
        fields = [
            "id",
            "customer",
            "customer_name",
            "user",
            "user_name",
            "planned_on",
            "purpose",
            "place",
            "status",
            "status_label",
            "activity",
            "created_at",
        ]
        read_only_fields = ["user", "status", "activity", "created_at"]


# --- documents ----------------------------------------------------------------------------------


class CustomerDocumentSerializer(serializers.ModelSerializer):
    customer = ScopedCustomerField(queryset=Customer.objects.none())
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    file = serializers.FileField(write_only=True, help_text=_("The file (multipart upload, at most 20 MB)."))
    uploaded_by_name = display_name("uploaded_by")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = CustomerDocument
        fields = [
            "id",
            "customer",
            "customer_name",
            "name",
            "size",
            "file",
            "download_url",
            "uploaded_by",
            "uploaded_by_name",
            "uploaded_at",
        ]
        read_only_fields = ["name", "size", "uploaded_by", "uploaded_at"]

    def get_download_url(self, obj) -> str:
        url = reverse("api:document-download", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


# --- churn --------------------------------------------------------------------------------------


class ChurnMeasureSerializer(serializers.ModelSerializer):
    author_name = display_name("author")

    class Meta:
        model = ChurnMeasure
        fields = ["id", "measure", "follow_up_on", "outcome", "author", "author_name", "created_at"]
        read_only_fields = fields


class ChurnCaseSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    customer_owner = serializers.IntegerField(source="customer.owner_id", read_only=True, allow_null=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    reason = DictCodeField("lost_reason", read_only=True)
    reason_detail = dict_detail("reason")
    closed_by_name = display_name("closed_by")
    measures = ChurnMeasureSerializer(many=True, read_only=True)

    class Meta:
        model = ChurnCase
        fields = [
            "id",
            "customer",
            "customer_name",
            "customer_owner",
            "status",
            "status_label",
            "last_order_at",
            "opened_at",
            "reason",
            "reason_detail",
            "closed_at",
            "closed_by",
            "closed_by_name",
            "measures",
        ]
        read_only_fields = fields


class DeferChurnSerializer(serializers.Serializer):
    measure = serializers.CharField(help_text=_("What will be done to keep the customer."))
    follow_up_on = serializers.DateField(required=False, allow_null=True, default=None)


class ConfirmChurnSerializer(serializers.Serializer):
    reason = DictCodeField("lost_reason", help_text=_("A code of the lost_reason dictionary."))


# --- caller ID ----------------------------------------------------------------------------------


class CallerIdQuerySerializer(serializers.Serializer):
    number = serializers.CharField(
        max_length=60,
        help_text=_(
            "The calling number as the phone system sends it: +86, 0086, spaces, dashes, extensions."
        ),
    )

    def validate_number(self, value):
        if not normalize_phone(value):
            raise serializers.ValidationError(_("%(number)s is not a phone number.") % {"number": value})
        return value


class CallerIdMatchSerializer(serializers.Serializer):
    customer = CustomerBriefSerializer(read_only=True)
    contact = ContactBriefSerializer(read_only=True, allow_null=True)
    activities = ActivityBriefSerializer(many=True, read_only=True)


class CallerIdResultSerializer(serializers.Serializer):
    number = serializers.CharField(read_only=True, help_text=_("The normalised number that was looked up."))
    matches = CallerIdMatchSerializer(many=True, read_only=True)
