"""REST API of customer management (客户管理) under ``/api/v1/``.

Same rules and scopes as the pages: reads need ``customers.view`` and are limited to the user's data
scope (an id outside it answers 404); writes need ``customers.edit`` (assigning ``customers.assign``,
merging ``customers.merge``) and every write goes through :mod:`kehu.customers.services`, which
checks the finer rules (owner, share, supervisor) and answers 403/409 through the error shape
``{"code", "message", "details"}``.

Resources: ``customers/`` (with ``customers/pool/`` for the public pool and the ownership actions),
``contacts/``, ``activities/``, ``field-visits/``, ``documents/``, ``churn-cases/`` and
``caller-id/``.  Query filters apply to the list endpoints only; a detail URL ignores them.
"""

from __future__ import annotations

import json

from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from kehu.core import services as core_services
from kehu.core.errors import PermissionDeniedError, ValidationFailed

from . import services
from .api_filters import (
    ActivityFilter,
    ChurnCaseFilter,
    ContactFilter,
    CustomerFilter,
    DocumentFilter,
    FieldVisitFilter,
)
from .models import Activity, ChurnCase, ChurnMeasure, Contact, Customer, CustomerDocument, FieldVisit
from .selectors import (
    activities_visible_to,
    caller_id_lookup,
    churn_cases_visible_to,
    contacts_visible_to,
    customers_visible_to,
    visits_visible_to,
)
from .serializers import (
    ActivitySerializer,
    ApiErrorSerializer,
    AssignSerializer,
    BulkAssignResultSerializer,
    BulkAssignSerializer,
    CallerIdQuerySerializer,
    CallerIdResultSerializer,
    ChurnCaseSerializer,
    CommentSerializer,
    ConfirmChurnSerializer,
    ContactSerializer,
    CustomerDocumentSerializer,
    CustomerSerializer,
    DeferChurnSerializer,
    FieldVisitSerializer,
    MarkReadResultSerializer,
    MergeSerializer,
    ReleaseSerializer,
    ShareResultSerializer,
    ShareSerializer,
    UnshareSerializer,
)

# Schema texts are lazy: drf-spectacular renders them in the language of the schema request.
ERR_400 = OpenApiResponse(ApiErrorSerializer, description=_("invalid: the input is wrong"))
ERR_403 = OpenApiResponse(
    ApiErrorSerializer, description=_("permission_denied: a right or the role is missing")
)
ERR_404 = OpenApiResponse(ApiErrorSerializer, description=_("not_found: unknown, or outside the data scope"))
ERR_409 = OpenApiResponse(ApiErrorSerializer, description=_("a business rule refused it (see code)"))
WRITE_ERRORS = {400: ERR_400, 403: ERR_403, 404: ERR_404, 409: ERR_409}


class CustomerApiBase(viewsets.GenericViewSet):
    """Common to the customer viewsets: the ``customers.view`` right to read, a write right per
    action (``action_rights``, default ``customers.edit``), and query filters that apply to the list
    actions only (so a detail URL finds an archived record, and ``?archived=`` does not hide it)."""

    required_right = "customers.view"
    default_write_right = "customers.edit"
    action_rights: dict[str, str] = {}
    list_actions: tuple[str, ...] = ("list",)

    @property
    def write_right(self):
        return self.action_rights.get(getattr(self, "action", None) or "", self.default_write_right)

    def filter_queryset(self, queryset):
        if self.action not in self.list_actions:
            return queryset
        return super().filter_queryset(queryset)

    def _fake(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


# --- customers ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("Customers in the caller's data scope (own, shared, the pool, …)")),
    create=extend_schema(
        summary=_("Create a customer"),
        description=_(
            "A customer that looks like an existing one (same normalised name, phone or tax number) "
            "answers 409 with code duplicate and the matches in details.duplicates; send it again "
            "with confirm_duplicate=true to save it anyway."
        ),
        responses={201: CustomerSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(responses={200: CustomerSerializer, **WRITE_ERRORS}),
)
class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    CustomerApiBase,
):
    """Customers (客户).  Dictionary fields are written and read as codes.  Archived customers are
    listed only with ``?archived=true``.  The public pool has its own list, ``customers/pool/``."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ["number", "name", "short_name", "tax_number"]
    ordering_fields = [
        "number",
        "name",
        "status",
        "stage",
        "credit_rating",
        "created_at",
        "updated_at",
        "last_activity_at",
        "assigned_at",
    ]
    ordering = ["-created_at", "-pk"]
    list_actions = ("list", "pool")
    action_rights = {
        "assign": "customers.assign",
        "bulk_assign": "customers.assign",
        "merge": "customers.merge",
    }

    def get_queryset(self):
        if self._fake():
            return Customer.objects.none()
        qs = customers_visible_to(self.request.user).prefetch_related("tags")
        if self.action == "pool":
            qs = qs.filter(owner__isnull=True, archived_at__isnull=True)
        return qs

    def _respond(self, customer: Customer, status_code=status.HTTP_200_OK) -> Response:
        """The customer as it is now (read without the scope: after a transfer the caller may no
        longer see it, but they just acted on it)."""
        fresh = (
            Customer.objects.select_related("owner", "level", "region", "industry", "source")
            .prefetch_related("tags")
            .get(pk=customer.pk)
        )
        return Response(
            CustomerSerializer(fresh, context=self.get_serializer_context()).data, status=status_code
        )

    def _input(self, serializer_class):
        ser = serializer_class(data=self.request.data, context=self.get_serializer_context())
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("tags", None)
        confirm = data.pop("confirm_duplicate", False)
        owner = data.pop("owner", None)
        serializer.instance = services.create_customer(
            by=self.request.user, owner=owner, tags=tags, confirm_duplicate=confirm, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("tags", None)
        confirm = data.pop("confirm_duplicate", False)
        data.pop("owner", None)
        customer = services.update_customer(
            serializer.instance, by=self.request.user, tags=tags, confirm_duplicate=confirm, **data
        )
        serializer.instance = self.get_queryset().get(pk=customer.pk)

    @extend_schema(
        summary=_("The public pool (公海): customers without an owner, to claim"),
        responses=CustomerSerializer(many=True),
        filters=True,
    )
    @action(detail=False, methods=["get"])
    def pool(self, request):
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary=_("Assign or transfer the customer (supervisors)"),
        request=AssignSerializer,
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        customer = self.get_object()
        data = self._input(AssignSerializer)
        expected = {customer.pk: data["expected_owner"]} if "expected_owner" in data else None
        services.assign_customers([customer], to=data["to"], by=request.user, expected_owner_ids=expected)
        return self._respond(customer)

    @extend_schema(
        summary=_("Assign or transfer several customers at once (supervisors)"),
        request=BulkAssignSerializer,
        responses={200: BulkAssignResultSerializer, **WRITE_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="bulk-assign")
    def bulk_assign(self, request):
        data = self._input(BulkAssignSerializer)
        ids = set(data["ids"])
        customers = list(customers_visible_to(request.user).filter(pk__in=ids))
        missing = sorted(ids - {c.pk for c in customers})
        if missing:
            raise ValidationFailed(
                _("These customers were not found: %(ids)s.") % {"ids": ", ".join(map(str, missing))},
                details={"ids": missing},
            )
        n = services.assign_customers(
            customers, to=data["to"], by=request.user, expected_owner_ids=data.get("expected_owner_ids")
        )
        return Response({"assigned": n})

    @extend_schema(
        summary=_("Share the customer with a colleague"),
        request=ShareSerializer,
        responses={200: ShareResultSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        customer = self.get_object()
        data = self._input(ShareSerializer)
        share = services.share_customer(
            customer, user=data["user"], can_edit=data["can_edit"], by=request.user
        )
        return Response(ShareResultSerializer(share).data)

    @extend_schema(
        summary=_("Stop sharing the customer with a colleague"),
        request=UnshareSerializer,
        responses={204: None, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def unshare(self, request, pk=None):
        customer = self.get_object()
        data = self._input(UnshareSerializer)
        services.unshare_customer(customer, user=data["user"], by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=_("Release the customer to the public pool"),
        request=ReleaseSerializer,
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        customer = self.get_object()
        data = self._input(ReleaseSerializer)
        services.release_to_pool(customer, by=request.user, reason=data["reason"])
        return self._respond(customer)

    @extend_schema(
        summary=_("Claim the customer from the public pool (daily limit: 409 claim_limit)"),
        request=None,
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        customer = self.get_object()
        services.claim_from_pool(customer, by=request.user)
        return self._respond(customer)

    @extend_schema(
        summary=_("Merge this customer into another; this one is archived"),
        request=MergeSerializer,
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        customer = self.get_object()
        data = self._input(MergeSerializer)
        target = services.merge_customers(customer, data["into"], by=request.user)
        return self._respond(target)

    @extend_schema(
        summary=_("Archive the customer"), request=None, responses={200: CustomerSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        customer = self.get_object()
        self._require_edit(customer)
        core_services.archive(customer, by=request.user)
        return self._respond(customer)

    @extend_schema(
        summary=_("Restore an archived customer"),
        request=None,
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        customer = self.get_object()
        self._require_edit(customer)
        core_services.restore(customer, by=request.user)
        return self._respond(customer)

    def _require_edit(self, customer):
        if not services.can_edit_customer(self.request.user, customer):
            raise PermissionDeniedError(_("You may not change this customer."))


# --- contacts -----------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(responses={201: ContactSerializer, **WRITE_ERRORS}),
    partial_update=extend_schema(responses={200: ContactSerializer, **WRITE_ERRORS}),
)
class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    CustomerApiBase,
):
    """Contacts (联系人) of the customers in scope.  The first contact of a customer becomes its
    primary contact; setting ``is_primary`` (or the set-primary action) moves the flag."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    search_fields = ["name", "mobile", "phone", "email", "wechat", "customer__name"]
    ordering_fields = ["name", "created_at", "customer"]
    ordering = ["customer_id", "-is_primary", "name", "pk"]

    def get_queryset(self):
        if self._fake():
            return Contact.objects.none()
        return contacts_visible_to(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.save_contact(
            Contact(**serializer.validated_data), by=self.request.user
        )

    def perform_update(self, serializer):
        contact = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(contact, field, value)
        serializer.instance = services.save_contact(contact, by=self.request.user)

    @extend_schema(
        summary=_("Make this the customer's primary contact"),
        request=None,
        responses={200: ContactSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="set-primary")
    def set_primary(self, request, pk=None):
        contact = services.set_primary_contact(self.get_object(), by=request.user)
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        summary=_("Archive the contact (left the company); the next contact becomes primary"),
        request=None,
        responses={200: ContactSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        contact = services.archive_contact(self.get_object(), by=request.user)
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        summary=_("Restore an archived contact"),
        request=None,
        responses={200: ContactSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        contact = services.restore_contact(self.get_object(), by=request.user)
        return Response(self.get_serializer(contact).data)


# --- activities ---------------------------------------------------------------------------------


@extend_schema_view(create=extend_schema(responses={201: ActivitySerializer, **WRITE_ERRORS}))
class ActivityViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    CustomerApiBase,
):
    """Activities (联系记录): visits, calls, messages.  Recorded, never edited; a supervisor comments
    (批复) and the author reads the comment (``?unread_comments=true``)."""

    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    search_fields = ["subject", "summary", "place", "customer__name"]
    ordering_fields = ["happened_at", "created_at", "next_follow_up"]
    ordering = ["-happened_at", "-pk"]
    action_rights = {"comment": "customers.assign", "mark_comments_read": "customers.view"}

    def get_queryset(self):
        if self._fake():
            return Activity.objects.none()
        return activities_visible_to(self.request.user)

    def perform_create(self, serializer):
        d = serializer.validated_data
        serializer.instance = services.record_activity(
            customer=d["customer"],
            by=self.request.user,
            kind=d["kind"],
            subject=d["subject"],
            happened_at=d.get("happened_at"),
            contact=d.get("contact"),
            place=d.get("place", ""),
            summary=d.get("summary", ""),
            next_follow_up=d.get("next_follow_up"),
            field_visit=d.get("field_visit"),
        )

    @extend_schema(
        summary=_("Comment on the activity (the author's supervisor)"),
        request=CommentSerializer,
        responses={200: ActivitySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        activity = self.get_object()
        ser = CommentSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        activity = services.comment_activity(activity, comment=ser.validated_data["comment"], by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=activity.pk)).data)

    @extend_schema(
        summary=_("Mark the comments on my activities as read"),
        request=None,
        responses={200: MarkReadResultSerializer, 403: ERR_403},
    )
    @action(detail=False, methods=["post"], url_path="mark-comments-read")
    def mark_comments_read(self, request):
        return Response({"marked": services.mark_comments_read(request.user)})


# --- field visits -------------------------------------------------------------------------------


@extend_schema_view(create=extend_schema(responses={201: FieldVisitSerializer, **WRITE_ERRORS}))
class FieldVisitViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    CustomerApiBase,
):
    """Field visits (外出登记), planned by the week.  A visit is done when an activity names it
    (``field_visit`` when recording the activity); the planner may cancel a planned one."""

    serializer_class = FieldVisitSerializer
    filterset_class = FieldVisitFilter
    search_fields = ["purpose", "place", "customer__name"]
    ordering_fields = ["planned_on", "created_at"]
    ordering = ["planned_on", "pk"]

    def get_queryset(self):
        if self._fake():
            return FieldVisit.objects.none()
        return visits_visible_to(self.request.user)

    def perform_create(self, serializer):
        d = serializer.validated_data
        serializer.instance = services.plan_field_visit(
            customer=d["customer"],
            by=self.request.user,
            planned_on=d["planned_on"],
            purpose=d["purpose"],
            place=d.get("place", ""),
        )

    @extend_schema(
        summary=_("Cancel a planned field visit"),
        request=None,
        responses={200: FieldVisitSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        visit = services.cancel_field_visit(self.get_object(), by=request.user)
        return Response(self.get_serializer(visit).data)


# --- documents ----------------------------------------------------------------------------------


class PassthroughRenderer(BaseRenderer):
    """Lets a download answer any ``Accept`` header; an error there is still JSON."""

    media_type = "*/*"
    format = "file"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data, ensure_ascii=False).encode()


@extend_schema_view(
    create=extend_schema(
        summary=_("Upload a document (multipart: customer, file)"),
        responses={201: CustomerDocumentSerializer, **WRITE_ERRORS},
    )
)
class DocumentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    CustomerApiBase,
):
    """Documents (文档) kept with the customers in scope.  Files are fetched through
    ``documents/{id}/download/``, which checks the scope (they are never served as public media);
    ``DELETE`` removes a document and its file (who may edit the customer)."""

    serializer_class = CustomerDocumentSerializer
    filterset_class = DocumentFilter
    parser_classes = [MultiPartParser, FormParser]
    search_fields = ["name", "customer__name"]
    ordering_fields = ["uploaded_at", "name", "size"]
    ordering = ["-uploaded_at", "-pk"]

    def get_queryset(self):
        if self._fake():
            return CustomerDocument.objects.none()
        visible = customers_visible_to(self.request.user).values("pk")
        return CustomerDocument.objects.filter(customer__in=visible).select_related("customer", "uploaded_by")

    def perform_create(self, serializer):
        d = serializer.validated_data
        serializer.instance = services.add_document(d["customer"], upload=d["file"], by=self.request.user)

    def perform_destroy(self, instance):
        services.remove_document(instance, by=self.request.user)

    @extend_schema(
        summary=_("Download the document's file"),
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: ERR_404,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PassthroughRenderer])
    def download(self, request, pk=None):
        doc = self.get_object()
        try:
            handle = doc.file.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404 from exc
        return FileResponse(handle, as_attachment=True, filename=doc.name)


# --- churn cases --------------------------------------------------------------------------------


class ChurnCaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CustomerApiBase):
    """Churn cases (客户流失), opened by the daily check.  The customer's owner or supervisor defers
    one with a measure (暂缓流失), confirms it (确认流失, the customer becomes lost) or recovers it."""

    serializer_class = ChurnCaseSerializer
    filterset_class = ChurnCaseFilter
    search_fields = ["customer__name", "customer__number"]
    ordering_fields = ["opened_at", "last_order_at", "closed_at"]
    ordering = ["-opened_at", "-pk"]

    def get_queryset(self):
        if self._fake():
            return ChurnCase.objects.none()
        return (
            churn_cases_visible_to(self.request.user)
            .select_related("closed_by")
            .prefetch_related(Prefetch("measures", queryset=ChurnMeasure.objects.select_related("author")))
        )

    def _respond(self, case):
        return Response(self.get_serializer(self.get_queryset().get(pk=case.pk)).data)

    @extend_schema(
        summary=_("Defer the case with a measure to keep the customer"),
        request=DeferChurnSerializer,
        responses={200: ChurnCaseSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def defer(self, request, pk=None):
        case = self.get_object()
        ser = DeferChurnSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.defer_churn(case, by=request.user, **ser.validated_data)
        return self._respond(case)

    @extend_schema(
        summary=_("Confirm the customer is lost"),
        request=ConfirmChurnSerializer,
        responses={200: ChurnCaseSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        case = self.get_object()
        ser = ConfirmChurnSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.confirm_churn(case, reason=ser.validated_data["reason"], by=request.user)
        return self._respond(case)

    @extend_schema(
        summary=_("Close the case: the customer was kept"),
        request=None,
        responses={200: ChurnCaseSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def recover(self, request, pk=None):
        case = self.get_object()
        services.recover_churn(case, by=request.user)
        return self._respond(case)


# --- caller ID ----------------------------------------------------------------------------------


class CallerIdView(APIView):
    """来电弹屏: who is calling?  The number is normalised (+86, 0086, spaces, dashes, brackets,
    extensions) and matched against the phones of the customers in the caller's data scope and of
    their contacts.  Not a phone number: 400; nothing found: an empty ``matches``."""

    required_right = "customers.view"

    @extend_schema(
        summary=_("Caller ID lookup"),
        parameters=[CallerIdQuerySerializer],
        responses={200: CallerIdResultSerializer, 400: ERR_400, 403: ERR_403},
    )
    def get(self, request):
        query = CallerIdQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = caller_id_lookup(request.user, query.validated_data["number"])
        return Response(caller_id_data(result))


_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()


def _dict_ref(entry) -> dict | None:
    return None if entry is None else {"code": entry.code, "label": entry.label}


def _name(user) -> str | None:
    return None if user is None else user.display_name


def caller_id_data(result: dict) -> dict:
    """:class:`CallerIdResultSerializer`'s output, built directly: the lookup answers each incoming
    call and the nested serializers cost more than the queries.  A test holds the two equal."""
    dt, d = _DATETIME.to_representation, _DATE.to_representation
    matches = []
    for m in result["matches"]:
        c, ct = m["customer"], m["contact"]
        matches.append(
            {
                "customer": {
                    "id": c.pk,
                    "number": c.number,
                    "name": c.name,
                    "short_name": c.short_name,
                    "status": c.status,
                    "status_label": str(c.get_status_display()),
                    "level": c.level.code if c.level_id else None,
                    "level_detail": _dict_ref(c.level),
                    "phone": c.phone,
                    "address": c.address,
                    "owner": c.owner_id,
                    "owner_name": _name(c.owner),
                    "in_pool": c.in_pool,
                    "last_activity_at": dt(c.last_activity_at) if c.last_activity_at else None,
                },
                "contact": None
                if ct is None
                else {
                    "id": ct.pk,
                    "name": ct.name,
                    "title": ct.title,
                    "mobile": ct.mobile,
                    "phone": ct.phone,
                    "email": ct.email,
                    "is_primary": ct.is_primary,
                },
                "activities": [
                    {
                        "id": a.pk,
                        "type": a.kind.code if a.kind_id else None,
                        "type_detail": _dict_ref(a.kind),
                        "happened_at": dt(a.happened_at) if a.happened_at else None,
                        "subject": a.subject,
                        "summary": a.summary,
                        "next_follow_up": d(a.next_follow_up) if a.next_follow_up else None,
                        "author_name": _name(a.author),
                    }
                    for a in m["activities"]
                ],
            }
        )
    return {"number": result["number"], "matches": matches}
