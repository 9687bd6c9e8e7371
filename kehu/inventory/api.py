"""REST API of inventory (库存) under ``/api/v1/inventory/``.

Reads need ``inventory.view``; writes need the right of the action (``inventory.edit`` to create and
edit drafts, ``inventory.post`` to post and reverse, ``inventory.stocktake``, ``inventory.warehouses``,
``inventory.recall``).  Inventory is company-wide: there is no owner scope, and an unknown id answers
404.  Every write goes through :mod:`kehu.inventory.services`; refusals use the error shape
``{"code", "message", "details"}`` (e.g. 409 ``insufficient_stock``, 400 ``invalid_serials`` with the
bad serials and why in ``details.serials``, 409 ``not_draft`` for a posted document).

Resources: ``warehouses/``, ``stock/``, ``moves/``, ``notes/`` (receipts and issues), ``transfers/``,
``stocktakes/``, ``serials/`` (with ``serials/lookup/?serial=`` and ``serials/check/``),
``safety-stock/``, ``alerts/``, ``stock-summary/?month=YYYY-MM``, ``recall/``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as dff
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from kehu.catalog.models import Product
from kehu.core.drf import HasRights, StandardPagination
from kehu.core.errors import ValidationFailed

from . import selectors, services
from .filters import product_q
from .models import Reason, SafetyStock, SerialUnit, StockNote, Stocktake, Transfer, Warehouse
from .serializers import (
    AlertSerializer,
    BalanceSerializer,
    CountsSerializer,
    MonthlyRowSerializer,
    MoveSerializer,
    NoteSerializer,
    NoteWriteSerializer,
    RecallUnitSerializer,
    SafetyStockSerializer,
    SerialCheckSerializer,
    SerialEventSerializer,
    SerialUnitSerializer,
    StocktakeSerializer,
    StocktakeStartSerializer,
    TransferSerializer,
    TransferWriteSerializer,
    WarehouseSerializer,
)

VIEW = "inventory.view"


class InventoryApi(viewsets.GenericViewSet):
    permission_classes = [HasRights]
    required_right = VIEW
    default_write_right = "inventory.edit"
    action_rights: dict[str, str] = {}

    @property
    def write_right(self):
        return self.action_rights.get(getattr(self, "action", None) or "", self.default_write_right)

    def _input(self, serializer_class, **kwargs):
        ser = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        ser.is_valid(raise_exception=True)
        return ser.validated_data


def _customer(pk, user):
    if pk is None:
        return None
    from kehu.core.scopes import visible_to
    from kehu.customers.models import Customer

    c = visible_to(Customer.objects.all(), user).filter(pk=pk).first()
    if c is None:
        raise ValidationFailed(_("Unknown customer."), details={"field": "customer"})
    return c


# --- warehouses -------------------------------------------------------------------------------------


class WarehouseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryApi):
    """Warehouses (仓库).  ``?archived=true`` lists archived ones."""

    serializer_class = WarehouseSerializer
    default_write_right = "inventory.warehouses"
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
    ordering = ["code"]

    def get_queryset(self):
        qs = Warehouse.objects.select_related("keeper")
        if self.action == "list":
            qs = qs.archived() if self.request.query_params.get("archived") == "true" else qs.active()
        return qs

    def _save(self, wh):
        data = self._input(WarehouseSerializer, instance=wh, partial=wh.pk is not None)
        for k, v in data.items():
            setattr(wh, k, v)
        services.save_warehouse(wh, by=self.request.user)
        return Response(WarehouseSerializer(wh).data, status=status.HTTP_200_OK if wh.pk else 201)

    @extend_schema(request=WarehouseSerializer, responses={201: WarehouseSerializer})
    def create(self, request):
        wh = Warehouse()
        resp = self._save(wh)
        resp.status_code = 201
        return resp

    @extend_schema(request=WarehouseSerializer, responses=WarehouseSerializer)
    def partial_update(self, request, pk=None):
        return self._save(self.get_object())

    @extend_schema(request=None, responses=WarehouseSerializer, summary=_("Archive an empty warehouse"))
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        wh = services.archive_warehouse(self.get_object(), by=request.user)
        return Response(WarehouseSerializer(wh).data)


# --- stock and ledger -------------------------------------------------------------------------------


class StockFilterSet(dff.FilterSet):
    product = dff.NumberFilter(field_name="product_id")
    warehouse = dff.NumberFilter(field_name="warehouse_id")
    batch = dff.CharFilter()
    q = dff.CharFilter(method="search")
    nonzero = dff.BooleanFilter(method="only_nonzero")

    def search(self, qs, name, value):
        return qs.filter(product_q("product__", value))

    def only_nonzero(self, qs, name, value):
        return qs.filter(quantity__gt=0) if value else qs


class StockViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryApi):
    """Stock balances (库存) per product × warehouse × batch, with reserved and available."""

    serializer_class = BalanceSerializer
    filterset_class = StockFilterSet
    ordering_fields = ["quantity", "product__code", "warehouse__code"]
    ordering = ["product__code", "warehouse__code", "batch"]

    def get_queryset(self):
        return selectors.balances()


class MoveFilterSet(dff.FilterSet):
    product = dff.NumberFilter(field_name="product_id")
    warehouse = dff.NumberFilter(field_name="warehouse_id")
    reason = dff.ChoiceFilter(choices=Reason.choices)
    doc_type = dff.CharFilter()
    doc_id = dff.NumberFilter()
    doc_number = dff.CharFilter()
    since = dff.DateFilter(field_name="created_at", lookup_expr="date__gte")
    until = dff.DateFilter(field_name="created_at", lookup_expr="date__lte")


class MoveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryApi):
    """The stock ledger (库存流水): immutable rows, newest first."""

    serializer_class = MoveSerializer
    filterset_class = MoveFilterSet
    ordering_fields = ["created_at", "id"]
    ordering = ["-id"]

    def get_queryset(self):
        return selectors.moves()


# --- documents ------------------------------------------------------------------------------------


class DocumentApi(InventoryApi):
    action_rights = {"post": "inventory.post", "reverse": "inventory.post"}


class NoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DocumentApi):
    """Goods receipts and issues (入库单 / 出库单).  ``?kind=receipt|issue``, ``?status=``.  Create with
    ``post: true`` to post at once (all or nothing); PATCH a draft with the whole line list."""

    serializer_class = NoteSerializer
    filterset_fields = ["kind", "status", "warehouse", "reason"]
    search_fields = ["number", "partner"]
    ordering = ["-id"]

    def get_queryset(self):
        return StockNote.objects.select_related("warehouse", "created_by", "posted_by").prefetch_related(
            "lines__product"
        )

    def _respond(self, note, code=200):
        return Response(NoteSerializer(self.get_queryset().get(pk=note.pk)).data, status=code)

    @extend_schema(request=NoteWriteSerializer, responses={201: NoteSerializer})
    def create(self, request):
        d = self._input(NoteWriteSerializer)
        if not d.get("kind"):
            raise ValidationFailed(
                _("Say whether the note is a receipt or an issue."), details={"field": "kind"}
            )
        if d["post"] and (request.user.is_read_only or not request.user.has_right("inventory.post")):
            from kehu.core.errors import PermissionDeniedError

            raise PermissionDeniedError()
        with transaction.atomic():
            note = services.create_note(
                kind=d["kind"],
                warehouse=d["warehouse"],
                reason=d["reason"],
                lines=d["lines"],
                partner=d["partner"],
                customer=_customer(d["customer"], request.user),
                notes=d["notes"],
                by=request.user,
            )
            if d["post"]:
                services.post_note(note, by=request.user)
        return self._respond(note, 201)

    @extend_schema(request=NoteWriteSerializer, responses=NoteSerializer)
    def partial_update(self, request, pk=None):
        note = self.get_object()
        d = self._input(NoteWriteSerializer)
        services.update_note(
            note,
            warehouse=d["warehouse"],
            reason=d["reason"],
            lines=d["lines"],
            partner=d["partner"],
            customer=_customer(d["customer"], request.user),
            notes=d["notes"],
            by=request.user,
        )
        return self._respond(note)

    @extend_schema(request=None, responses=NoteSerializer, summary=_("Post a draft note"))
    @action(detail=True, methods=["post"])
    def post(self, request, pk=None):
        return self._respond(services.post_note(self.get_object(), by=request.user))

    @extend_schema(request=None, responses={201: NoteSerializer}, summary=_("Reverse a posted note"))
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        return self._respond(services.reverse_note(self.get_object(), by=request.user), 201)

    @extend_schema(request=None, responses=NoteSerializer, summary=_("Cancel a draft note"))
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._respond(services.cancel_note(self.get_object(), by=request.user))


class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DocumentApi):
    """Transfers (调拨): out of one warehouse and into another in one posting."""

    serializer_class = TransferSerializer
    filterset_fields = ["status", "from_warehouse", "to_warehouse"]
    search_fields = ["number"]
    ordering = ["-id"]

    def get_queryset(self):
        return Transfer.objects.select_related(
            "from_warehouse", "to_warehouse", "created_by"
        ).prefetch_related("lines__product")

    def _respond(self, tr, code=200):
        return Response(TransferSerializer(self.get_queryset().get(pk=tr.pk)).data, status=code)

    @extend_schema(request=TransferWriteSerializer, responses={201: TransferSerializer})
    def create(self, request):
        d = self._input(TransferWriteSerializer)
        with transaction.atomic():
            tr = services.create_transfer(
                from_warehouse=d["from_warehouse"],
                to_warehouse=d["to_warehouse"],
                lines=d["lines"],
                notes=d["notes"],
                by=request.user,
            )
            if d["post"]:
                if request.user.is_read_only or not request.user.has_right("inventory.post"):
                    from kehu.core.errors import PermissionDeniedError

                    raise PermissionDeniedError()
                services.post_transfer(tr, by=request.user)
        return self._respond(tr, 201)

    @extend_schema(request=TransferWriteSerializer, responses=TransferSerializer)
    def partial_update(self, request, pk=None):
        tr = self.get_object()
        d = self._input(TransferWriteSerializer)
        services.update_transfer(
            tr,
            from_warehouse=d["from_warehouse"],
            to_warehouse=d["to_warehouse"],
            lines=d["lines"],
            notes=d["notes"],
            by=request.user,
        )
        return self._respond(tr)

    @extend_schema(request=None, responses=TransferSerializer)
    @action(detail=True, methods=["post"])
    def post(self, request, pk=None):
        return self._respond(services.post_transfer(self.get_object(), by=request.user))

    @extend_schema(request=None, responses=TransferSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._respond(services.cancel_transfer(self.get_object(), by=request.user))


class StocktakeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryApi):
    """Stocktakes (盘点): create = take the snapshot; ``counts`` records quantities and scanned
    serials; ``post`` posts the variances (once)."""

    serializer_class = StocktakeSerializer
    default_write_right = "inventory.stocktake"
    filterset_fields = ["status", "warehouse"]
    ordering = ["-id"]

    def get_queryset(self):
        return Stocktake.objects.select_related("warehouse").prefetch_related("lines__product")

    def _respond(self, st, code=200, extra=None):
        data = StocktakeSerializer(self.get_queryset().get(pk=st.pk)).data
        if extra:
            data = {**data, **extra}
        return Response(data, status=code)

    @extend_schema(request=StocktakeStartSerializer, responses={201: StocktakeSerializer})
    def create(self, request):
        d = self._input(StocktakeStartSerializer)
        st = services.start_stocktake(
            warehouse=d["warehouse"], category=d.get("category"), notes=d["notes"], by=request.user
        )
        return self._respond(st, 201)

    @extend_schema(
        request=CountsSerializer,
        responses=StocktakeSerializer,
        summary=_("Record counted quantities and scanned serial numbers"),
    )
    @action(detail=True, methods=["post"])
    def counts(self, request, pk=None):
        st = self.get_object()
        d = self._input(CountsSerializer)
        extra = {}
        with transaction.atomic():
            if d["counts"]:
                services.enter_counts(st, d["counts"], by=request.user)
            if d["serials"]:
                res = services.count_serials(st, d["serials"], by=request.user)
                extra = {"serial_result": res}
        return self._respond(st, extra=extra)

    @extend_schema(request=None, responses=StocktakeSerializer)
    @action(detail=True, methods=["post"])
    def post(self, request, pk=None):
        st = self.get_object()
        services.post_stocktake(st, by=request.user)
        return self._respond(st)

    @extend_schema(request=None, responses=StocktakeSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._respond(services.cancel_stocktake(self.get_object(), by=request.user))


# --- serial units ---------------------------------------------------------------------------------


class SerialFilterSet(dff.FilterSet):
    product = dff.NumberFilter(field_name="product_id")
    warehouse = dff.NumberFilter(field_name="warehouse_id")
    customer = dff.NumberFilter(field_name="customer_id")
    status = dff.ChoiceFilter(choices=SerialUnit.Status.choices)
    batch = dff.CharFilter()
    serial = dff.CharFilter()


class SerialViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryApi):
    """Serial units (序列号): where each one is, its warranty, and (``history``) its whole life."""

    serializer_class = SerialUnitSerializer
    filterset_class = SerialFilterSet
    ordering = ["serial"]

    def get_queryset(self):
        return selectors.serial_units()

    @extend_schema(responses=SerialEventSerializer(many=True), summary=_("The unit's life, oldest first"))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        return Response(SerialEventSerializer(selectors.serial_history(self.get_object()), many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("serial", str, required=True)],
        responses=SerialUnitSerializer(many=True),
        summary=_("Find by serial number (every product)"),
    )
    @action(detail=False, methods=["get"])
    def lookup(self, request):
        serial = (request.query_params.get("serial") or "").strip()
        units = selectors.find_serial(serial) if serial else []
        return Response(SerialUnitSerializer(units, many=True).data)

    @extend_schema(
        parameters=[SerialCheckSerializer],
        responses={200: dict},
        summary=_("May this serial move in a document of this kind?"),
    )
    @action(detail=False, methods=["get"])
    def check(self, request):
        ser = SerialCheckSerializer(data=request.query_params)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        reason = (
            "transfer"
            if d["mode"] == "transfer"
            else d.get("reason") or ("purchase_receipt" if d["mode"] == "in" else "sales_issue")
        )
        problem = services.check_serial(
            d["product"],
            d["serial"],
            sign=1 if d["mode"] == "in" else -1,
            reason=reason,
            warehouse_id=d.get("warehouse"),
        )
        return Response({"ok": problem is None, "serial": d["serial"].strip(), "message": problem or ""})


# --- safety stock, alerts, reports ----------------------------------------------------------------


class SafetyStockViewSet(mixins.ListModelMixin, InventoryApi):
    """Safety stock per product × warehouse.  POST sets (or with minimum 0 and no maximum removes) one."""

    serializer_class = SafetyStockSerializer
    default_write_right = "inventory.warehouses"
    filterset_fields = ["product", "warehouse"]
    ordering = ["product__code"]

    def get_queryset(self):
        return SafetyStock.objects.select_related("product", "warehouse")

    def create(self, request):
        d = self._input(SafetyStockSerializer)
        row = services.set_safety_stock(
            d["product"], d["warehouse"], minimum=d["minimum"], maximum=d.get("maximum"), by=request.user
        )
        return Response(SafetyStockSerializer(row).data if row else {}, status=201 if row else 200)


class ReportView(APIView):
    permission_classes = [HasRights]
    required_right = VIEW


class AlertsView(ReportView):
    @extend_schema(
        parameters=[OpenApiParameter("warehouse", int)],
        responses=AlertSerializer(many=True),
        summary=_("Products below safety stock"),
    )
    def get(self, request):
        wh = request.query_params.get("warehouse")
        rows = selectors.safety_alerts([int(wh)] if wh and wh.isdigit() else None)
        return Response(AlertSerializer(rows, many=True).data)


class MonthlyView(ReportView):
    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, required=True, description="YYYY-MM"),
            OpenApiParameter("warehouse", int),
            OpenApiParameter("product", int),
        ],
        responses=MonthlyRowSerializer(many=True),
        summary=_("收发存: opening, in, out, closing per product × warehouse for a month"),
    )
    def get(self, request):
        try:
            year, month = (int(x) for x in request.query_params.get("month", "").split("-"))
            if not 1 <= month <= 12:
                raise ValueError
        except ValueError:
            raise ValidationFailed(_("Give the month as YYYY-MM."), details={"field": "month"})
        wh = request.query_params.get("warehouse")
        product = request.query_params.get("product")
        rows = selectors.monthly_summary(
            year,
            month,
            warehouse_id=int(wh) if wh and wh.isdigit() else None,
            product_ids=[int(product)] if product and product.isdigit() else None,
        )
        pages = StandardPagination()
        page = pages.paginate_queryset(rows, request, view=self)
        return pages.get_paginated_response(
            MonthlyRowSerializer(page, many=True, context={"request": request}).data
        )


class RecallView(ReportView):
    required_right = "inventory.recall"

    @extend_schema(
        parameters=[
            OpenApiParameter("product", int, required=True),
            OpenApiParameter("batch", str),
            OpenApiParameter("produced_from", str),
            OpenApiParameter("produced_to", str),
        ],
        responses=RecallUnitSerializer(many=True),
        summary=_("Batch recall: every unit of a batch or production-date range, where it is, who holds it"),
    )
    def get(self, request):
        from .forms import RecallForm

        form = RecallForm(request.query_params)
        if not form.is_valid():
            errors = form.errors.get_json_data()
            first = next(iter(errors.values()))[0]["message"]
            raise ValidationFailed(first, details={k: [e["message"] for e in v] for k, v in errors.items()})
        d = form.cleaned_data
        units = selectors.recall_units(
            d["product"], batch=d["batch"], produced_from=d["produced_from"], produced_to=d["produced_to"]
        )
        pager = StandardPagination()
        page = pager.paginate_queryset(units, request, view=self)
        return pager.get_paginated_response(RecallUnitSerializer(page, many=True).data)


__all__ = ["Product"]
