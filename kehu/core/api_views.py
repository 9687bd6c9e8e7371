from __future__ import annotations

from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from kehu.core import services
from kehu.core.filters import AuditFilter
from kehu.core.models import DictEntry, Job, NumberingRule
from kehu.core.selectors import audit_entries, jobs_visible_to
from kehu.core.serializers import (
    AuditEntrySerializer,
    DictEntrySerializer,
    JobSerializer,
    NumberingRuleSerializer,
)


class DictEntryViewSet(viewsets.ModelViewSet):
    """The data dictionary.  Everyone reads it (it feeds the choices); editing needs
    ``basedata.dictionary``; an entry in use cannot be deleted (409 ``in_use``)."""

    queryset = DictEntry.objects.all().order_by("type", "order", "id")
    serializer_class = DictEntrySerializer
    required_right = None
    write_right = "basedata.dictionary"
    filterset_fields = ["type", "enabled", "code"]
    search_fields = ["code", "label_zh", "label_en"]
    ordering_fields = ["type", "order", "code"]

    def perform_create(self, serializer):
        serializer.instance = services.save_dict_entry(
            DictEntry(**serializer.validated_data), by=self.request.user
        )

    def perform_update(self, serializer):
        entry = serializer.instance
        for k, v in serializer.validated_data.items():
            setattr(entry, k, v)
        serializer.instance = services.save_dict_entry(entry, by=self.request.user)

    def destroy(self, request, *args, **kwargs):
        services.delete_dict_entry(self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NumberingRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    queryset = NumberingRule.objects.all().order_by("doc_type")
    serializer_class = NumberingRuleSerializer
    required_right = "basedata.numbering"

    def perform_update(self, serializer):
        serializer.instance = services.update_numbering_rule(
            serializer.instance,
            pattern=serializer.validated_data.get("pattern", serializer.instance.pattern),
            by=self.request.user,
        )


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = audit_entries().order_by("-timestamp")
    serializer_class = AuditEntrySerializer
    required_right = "system.logs"
    filterset_class = AuditFilter
    ordering_fields = ["timestamp"]


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    required_right = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Job.objects.none()
        return jobs_visible_to(self.request.user).order_by("-created_at")
