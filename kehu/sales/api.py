"""REST API of marketing management (营销管理) under ``/api/v1/``.

Same rules as the pages: reads need ``sales.view`` and are limited to the user's data scope (an id
outside it answers 404); writes go through :mod:`kehu.sales.services`, which checks the finer
rules (creator, assignee, supervisor) and answers 400/403/409 in the ``{code, message, details}``
shape.  Resources: ``opportunities/`` (with assign, move, win, lose, plan, history, restore),
``plan-items/``, ``stages/``, ``campaigns/``, ``mailings/`` (send), ``mailing-recipients/``
(respond, convert), ``sales-forecast/`` and ``sales-board/``."""

from __future__ import annotations

import django_filters as df
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from kehu.core.api import ScopedMixin
from kehu.core.drf import HasRights
from kehu.core.errors import ValidationFailed
from kehu.core.scopes import visible_to

from . import services
from .models import Campaign, Mailing, Opportunity, PlanItem, Recipient, Stage
from .selectors import board, forecast
from .serializers import (
    AssignSerializer,
    CampaignSerializer,
    ConvertSerializer,
    LoseSerializer,
    MailingSerializer,
    MoveSerializer,
    OpportunityInputSerializer,
    OpportunitySerializer,
    OutcomeSerializer,
    PlanItemSerializer,
    RecipientSerializer,
    RespondSerializer,
    StageChangeSerializer,
    StageSerializer,
    WinSerializer,
)


class Base(ScopedMixin, viewsets.GenericViewSet):
    permission_classes = [HasRights]
    required_right = "sales.view"
    action_rights: dict[str, str] = {}
    default_write_right = "sales.edit"

    @property
    def write_right(self):
        return self.action_rights.get(getattr(self, "action", None) or "", self.default_write_right)

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset


def _user(pk, field="to"):
    from kehu.accounts.models import User

    if pk in (None, ""):
        return None
    u = User.objects.filter(pk=pk, is_active=True).first()
    if u is None:
        raise ValidationFailed(details={"field": field})
    return u


def _customer(request, pk, field="customer"):
    from kehu.customers.selectors import customers_visible_to

    if pk in (None, ""):
        return None
    c = customers_visible_to(request.user).filter(pk=pk).first()
    if c is None:
        raise ValidationFailed(details={"field": field})
    return c


class OpportunityFilter(df.FilterSet):
    status = df.CharFilter()
    stage = df.NumberFilter()
    assignee = df.NumberFilter()
    customer = df.NumberFilter()
    campaign = df.NumberFilter()
    archived = df.BooleanFilter(field_name="archived_at", lookup_expr="isnull", exclude=True)
    close_from = df.DateFilter(field_name="expected_close", lookup_expr="gte")
    close_to = df.DateFilter(field_name="expected_close", lookup_expr="lte")

    class Meta:
        model = Opportunity
        fields: list[str] = []


class OpportunityViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, Base
):
    """Sales opportunities (sal_chance).  DELETE archives (restorable with ``restore``)."""

    queryset = Opportunity.objects.select_related("customer", "stage", "assignee", "created_by")
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilter
    search_fields = ["number", "summary", "prospect_name", "customer__name"]
    ordering_fields = ["created_at", "amount", "expected_close", "probability", "number"]
    ordering = ["-created_at"]
    action_rights = {"assign": "sales.assign"}

    def _fields(self, data, partial=False):
        s = OpportunityInputSerializer(data=data, partial=partial)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        if "customer" in d:
            d["customer"] = _customer(self.request, d["customer"])
        assignee = d.pop("assignee", None)
        if d.get("probability") is None:
            d.pop("probability", None)
        return d, assignee

    @extend_schema(request=OpportunityInputSerializer, responses={201: OpportunitySerializer})
    def create(self, request, *args, **kwargs):
        d, assignee = self._fields(request.data)
        o = services.create_opportunity(by=request.user, assignee=_user(assignee, "assignee"), **d)
        return Response(OpportunitySerializer(o).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=OpportunityInputSerializer, responses={200: OpportunitySerializer})
    def partial_update(self, request, *args, **kwargs):
        o = self.get_object()
        d, _a = self._fields(request.data, partial=True)
        stage = d.pop("stage", None)
        o = services.update_opportunity(o, by=request.user, **d)
        if stage is not None and stage.pk != o.stage_id:
            o = services.move_opportunity(o, stage=stage, by=request.user, probability=d.get("probability"))
        return Response(OpportunitySerializer(o).data)

    def destroy(self, request, *args, **kwargs):
        services.archive_opportunity(self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        return Response(
            OpportunitySerializer(services.restore_opportunity(self.get_object(), by=request.user)).data
        )

    @extend_schema(request=AssignSerializer, responses={200: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        s = AssignSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        o = services.assign_opportunity(self.get_object(), to=_user(s.validated_data["to"]), by=request.user)
        return Response(OpportunitySerializer(o).data)

    @extend_schema(request=MoveSerializer, responses={200: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        s = MoveSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        o = services.move_opportunity(
            self.get_object(),
            stage=s.validated_data["stage"],
            by=request.user,
            probability=s.validated_data.get("probability"),
        )
        return Response(OpportunitySerializer(o).data)

    @extend_schema(request=WinSerializer, responses={200: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def win(self, request, pk=None):
        s = WinSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        o = services.win_opportunity(
            self.get_object(),
            by=request.user,
            customer=_customer(request, v.get("customer")),
            name=v.get("name"),
            confirm_duplicate=v["confirm_duplicate"],
        )
        return Response(OpportunitySerializer(o).data)

    @extend_schema(request=LoseSerializer, responses={200: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def lose(self, request, pk=None):
        s = LoseSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        o = services.lose_opportunity(
            self.get_object(),
            reason=s.validated_data["reason"],
            note=s.validated_data["note"],
            by=request.user,
        )
        return Response(OpportunitySerializer(o).data)

    @extend_schema(
        request=PlanItemSerializer, responses={200: PlanItemSerializer(many=True), 201: PlanItemSerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def plan(self, request, pk=None):
        o = self.get_object()
        if request.method == "GET":
            return Response(PlanItemSerializer(o.plan_items.order_by("planned_on", "pk"), many=True).data)
        s = PlanItemSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        item = services.add_plan_item(o, by=request.user, **s.validated_data)
        return Response(PlanItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: StageChangeSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        o = self.get_object()
        rows = o.stage_history.select_related("by").order_by("at", "pk")
        return Response(StageChangeSerializer(rows, many=True).data)


class PlanItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, Base):
    """Development plan steps (sal_plan); ``outcome`` records 执行效果 once."""

    queryset = PlanItem.objects.select_related("opportunity")
    serializer_class = PlanItemSerializer
    filterset_fields = ["opportunity", "planned_on"]
    ordering_fields = ["planned_on"]
    ordering = ["planned_on", "pk"]

    def destroy(self, request, *args, **kwargs):
        services.delete_plan_item(self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=OutcomeSerializer, responses={200: PlanItemSerializer})
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        s = OutcomeSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        item = services.record_outcome(
            self.get_object(), outcome=s.validated_data["outcome"], by=request.user
        )
        return Response(PlanItemSerializer(item).data)


class StageViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, Base
):
    """The pipeline stages; changing them needs ``sales.stages``."""

    queryset = Stage.objects.all()
    serializer_class = StageSerializer
    scoped = False
    default_write_right = "sales.stages"
    ordering = ["order", "pk"]

    def perform_create(self, serializer):
        serializer.instance = services.save_stage(Stage(**serializer.validated_data), by=self.request.user)

    def perform_update(self, serializer):
        st = serializer.instance
        for k, v in serializer.validated_data.items():
            setattr(st, k, v)
        serializer.instance = services.save_stage(st, by=self.request.user)


class CampaignViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, Base
):
    """Campaigns (营销活动); ``segment`` holds customer filters (status, level, region, industry, tag, q)."""

    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
    default_write_right = "sales.campaign"
    filterset_fields = ["status"]
    search_fields = ["name"]
    ordering = ["-created_at"]

    def perform_create(self, serializer):
        serializer.instance = services.create_campaign(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_campaign(
            serializer.instance, by=self.request.user, **serializer.validated_data
        )


class MailingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, Base
):
    """Mass e-mails (邮件群发).  ``send`` queues it once (409 afterwards); statuses per recipient in
    ``mailing-recipients/?mailing=``."""

    queryset = Mailing.objects.select_related("campaign")
    serializer_class = MailingSerializer
    default_write_right = "sales.mail"
    filterset_fields = ["campaign", "status"]
    ordering = ["-created_at"]

    def perform_create(self, serializer):
        v = serializer.validated_data
        campaign = v["campaign"]
        if not visible_to(Campaign.objects.filter(pk=campaign.pk), self.request.user).exists():
            raise ValidationFailed(details={"field": "campaign"})
        serializer.instance = services.create_mailing(
            campaign,
            subject=v["subject"],
            body=v["body"],
            from_email=v.get("from_email", ""),
            by=self.request.user,
        )

    def perform_update(self, serializer):
        m, v = serializer.instance, serializer.validated_data
        serializer.instance = services.update_mailing(
            m,
            subject=v.get("subject", m.subject),
            body=v.get("body", m.body),
            from_email=v.get("from_email", m.from_email),
            by=self.request.user,
        )

    @extend_schema(request=None, responses={200: MailingSerializer})
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        m = services.queue_mailing(
            self.get_object(), by=request.user, base_url=request.build_absolute_uri("/")
        )
        return Response(MailingSerializer(m).data)


class RecipientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, Base):
    queryset = Recipient.objects.select_related("customer")
    serializer_class = RecipientSerializer
    default_write_right = "sales.campaign"
    filterset_fields = ["mailing", "status", "customer"]
    search_fields = ["email", "customer__name"]
    ordering = ["pk"]

    @extend_schema(request=RespondSerializer, responses={200: RecipientSerializer})
    @action(detail=True, methods=["post"])
    def respond(self, request, pk=None):
        s = RespondSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        r = services.mark_responded(self.get_object(), by=request.user, note=s.validated_data["note"])
        return Response(RecipientSerializer(r).data)

    @extend_schema(request=ConvertSerializer, responses={201: OpportunitySerializer})
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        s = ConvertSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        o = services.response_to_opportunity(self.get_object(), by=request.user, **s.validated_data)
        return Response(OpportunitySerializer(o).data, status=status.HTTP_201_CREATED)


def _money(v):
    return str(v)


class ForecastView(APIView):
    """Weighted pipeline by month, owner and stage; win rate and average cycle per owner."""

    permission_classes = [HasRights]
    required_right = "sales.view"

    @extend_schema(responses={200: dict})
    def get(self, request):
        try:
            months = max(1, min(24, int(request.query_params.get("months", 6))))
        except ValueError:
            raise ValidationFailed(details={"field": "months"}) from None
        f = forecast(request.user, months=months)

        def who(u):
            return {"id": u.pk, "username": u.username, "name": u.display_name} if u else None

        return Response(
            {
                "total": _money(f["total"]),
                "overdue": _money(f["overdue"]),
                "months": [
                    {"month": m["month"].strftime("%Y-%m"), "weighted": _money(m["weighted"])}
                    for m in f["months"]
                ],
                "owners": [
                    {
                        **{k: _money(v) for k, v in o.items() if k in ("amount", "weighted")},
                        "n": o["n"],
                        "user": who(o["user"]),
                    }
                    for o in f["owners"]
                ],
                "stages": [
                    {
                        "stage": s["stage"].pk if s["stage"] else None,
                        "name": str(s["stage"]),
                        "n": s["n"],
                        "amount": _money(s["amount"]),
                        "weighted": _money(s["weighted"]),
                    }
                    for s in f["stages"]
                ],
                "win_rates": [
                    {
                        "user": who(r["user"]),
                        "won": r["won"],
                        "closed": r["closed"],
                        "rate": r["rate"],
                        "cycle_days": r["cycle_days"],
                        "won_amount": _money(r["won_amount"]),
                    }
                    for r in f["rates"]
                ],
            }
        )


class BoardView(APIView):
    """The kanban board's columns (``?owner=``, ``?department=``), first cards of each stage."""

    permission_classes = [HasRights]
    required_right = "sales.view"

    @extend_schema(responses={200: dict})
    def get(self, request):
        def num(name):
            v = request.query_params.get(name, "")
            if v and not v.isdigit():
                raise ValidationFailed(details={"field": name})
            return int(v) if v else None

        b = board(
            request.user, owner=num("owner"), department=num("department"), per_column=num("per_column") or 30
        )
        return Response(
            {
                "columns": [
                    {
                        "stage": StageSerializer(c["stage"]).data,
                        "count": c["count"],
                        "amount": _money(c["amount"]),
                        "weighted": _money(c["weighted"]),
                        "more": c["more"],
                        "cards": [
                            {
                                "id": o.pk,
                                "number": o.number,
                                "summary": o.summary,
                                "company": o.company,
                                "amount": _money(o.amount),
                                "probability": o.probability,
                                "expected_close": o.expected_close,
                                "assignee": o.assignee_id,
                            }
                            for o in c["cards"]
                        ],
                    }
                    for c in b["columns"]
                ]
            }
        )
