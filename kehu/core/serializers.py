from auditlog.models import LogEntry
from rest_framework import serializers

from kehu.core.models import DictEntry, Job, NumberingRule


class DictEntrySerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)

    class Meta:
        model = DictEntry
        fields = ["id", "type", "code", "label", "label_zh", "label_en", "order", "enabled", "is_system"]
        read_only_fields = ["is_system"]
        validators: list = []  # uniqueness is checked by the service with a clear message


class NumberingRuleSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()

    class Meta:
        model = NumberingRule
        fields = ["id", "doc_type", "label", "pattern", "updated_at"]
        read_only_fields = ["doc_type", "updated_at"]

    def get_label(self, obj) -> str:
        return str(obj.label)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)
    record_type = serializers.CharField(source="content_type.model")
    action = serializers.CharField(source="get_action_display")
    changes = serializers.JSONField(source="changes_dict")

    class Meta:
        model = LogEntry
        fields = [
            "id",
            "timestamp",
            "actor",
            "remote_addr",
            "record_type",
            "object_pk",
            "object_repr",
            "action",
            "changes",
        ]


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "label",
            "status",
            "done",
            "total",
            "percent",
            "message",
            "result",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
