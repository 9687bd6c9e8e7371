"""API shapes of the marketing module.  Input serializers parse; the services decide."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from kehu.core.models import DictEntry

from .models import Campaign, Mailing, Opportunity, PlanItem, Recipient, Stage, StageChange


def _user(u):
    return {"id": u.pk, "username": u.username, "name": u.display_name} if u is not None else None


class StageSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Stage
        fields = ["id", "order", "name", "name_zh", "name_en", "probability", "enabled", "is_won"]


class OpportunitySerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True, default=None)
    weighted = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    created_by = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "number",
            "status",
            "status_display",
            "source",
            "customer",
            "customer_name",
            "prospect_name",
            "prospect_contact",
            "prospect_phone",
            "prospect_email",
            "summary",
            "probability",
            "description",
            "amount",
            "weighted",
            "expected_close",
            "stage",
            "stage_name",
            "campaign",
            "created_by",
            "created_at",
            "assignee",
            "assigned_at",
            "closed_at",
            "lost_reason",
            "lost_note",
            "archived_at",
        ]
        read_only_fields = fields

    def get_created_by(self, o):
        return _user(o.created_by)

    def get_assignee(self, o):
        return _user(o.assignee)


class OpportunityInputSerializer(serializers.Serializer):
    """Create / update.  ``probability`` is left to the service (0–100, clear error)."""

    customer = serializers.IntegerField(required=False, allow_null=True)
    prospect_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    prospect_contact = serializers.CharField(required=False, allow_blank=True, max_length=40)
    prospect_phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    prospect_email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=200)
    probability = serializers.JSONField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True)
    amount = serializers.DecimalField(required=False, max_digits=16, decimal_places=4)
    expected_close = serializers.DateField(required=False, allow_null=True)
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all(), required=False)
    source = serializers.PrimaryKeyRelatedField(
        queryset=DictEntry.objects.filter(type="opportunity_source"), required=False, allow_null=True
    )
    assignee = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("supervisors: assign at once")
    )


class AssignSerializer(serializers.Serializer):
    to = serializers.IntegerField()


class MoveSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    probability = serializers.JSONField(required=False, allow_null=True)


class WinSerializer(serializers.Serializer):
    customer = serializers.IntegerField(required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    confirm_duplicate = serializers.BooleanField(required=False, default=False)


class LoseSerializer(serializers.Serializer):
    reason = serializers.PrimaryKeyRelatedField(queryset=DictEntry.objects.filter(type="lost_reason"))
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PlanItemSerializer(serializers.ModelSerializer):
    done = serializers.BooleanField(read_only=True)

    class Meta:
        model = PlanItem
        fields = ["id", "opportunity", "planned_on", "todo", "outcome", "outcome_at", "done", "created_at"]
        read_only_fields = ["id", "opportunity", "outcome", "outcome_at", "done", "created_at"]


class OutcomeSerializer(serializers.Serializer):
    outcome = serializers.CharField(allow_blank=True)


class StageChangeSerializer(serializers.ModelSerializer):
    by = serializers.SerializerMethodField()

    class Meta:
        model = StageChange
        fields = [
            "id",
            "at",
            "by",
            "from_stage",
            "to_stage",
            "from_status",
            "to_status",
            "probability",
            "note",
        ]

    def get_by(self, h):
        return _user(h.by)


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "starts_on",
            "ends_on",
            "budget",
            "status",
            "segment",
            "created_by",
            "created_at",
            "archived_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "archived_at"]
        extra_kwargs = {"budget": {"required": False}, "segment": {"required": False}}


class MailingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Mailing
        fields = [
            "id",
            "campaign",
            "subject",
            "body",
            "from_email",
            "status",
            "recipient_count",
            "job",
            "created_at",
            "queued_at",
            "finished_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "recipient_count",
            "job",
            "created_at",
            "queued_at",
            "finished_at",
        ]
        extra_kwargs = {"from_email": {"required": False}}


class RecipientSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = Recipient
        fields = [
            "id",
            "mailing",
            "customer",
            "customer_name",
            "contact",
            "email",
            "status",
            "error",
            "sent_at",
            "responded_at",
            "response_note",
            "opportunity",
        ]
        read_only_fields = fields


class RespondSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ConvertSerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(required=False, allow_null=True, max_digits=16, decimal_places=2)
    note = serializers.CharField(required=False, allow_blank=True, default="")
