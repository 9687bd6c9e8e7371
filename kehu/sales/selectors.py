"""Reads of the marketing module, already limited to the user's data scope, with a fixed number of
queries whatever the number of rows: the board, the forecast, the reminders, the detail page."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.http import Http404
from django.utils import timezone

from kehu.core.scopes import visible_to

from .models import Campaign, Mailing, Opportunity, PlanItem, Recipient, Stage, StageChange

CENT = Decimal("0.01")
S = Opportunity.Status


def _cents(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def opportunities_visible_to(user) -> QuerySet[Opportunity]:
    return visible_to(Opportunity.objects.all(), user).select_related(
        "customer", "stage", "source", "assignee", "created_by", "lost_reason"
    )


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    return visible_to(Campaign.objects.all(), user).select_related("created_by")


def mailings_visible_to(user) -> QuerySet[Mailing]:
    return visible_to(Mailing.objects.all(), user).select_related("campaign", "created_by", "job")


def recipients_visible_to(user) -> QuerySet[Recipient]:
    return visible_to(Recipient.objects.all(), user).select_related("customer", "contact", "opportunity")


def opportunity_detail(user, pk) -> Opportunity:
    """One opportunity with its plan and stage history (fixed queries); 404 outside the scope."""
    qs = (
        opportunities_visible_to(user)
        .select_related("assigned_by", "campaign", "department")
        .prefetch_related(
            Prefetch(
                "plan_items",
                queryset=PlanItem.objects.select_related("created_by").order_by("planned_on", "pk"),
            ),
            Prefetch(
                "stage_history",
                queryset=StageChange.objects.select_related("from_stage", "to_stage", "by").order_by(
                    "at", "pk"
                ),
            ),
        )
    )
    try:
        return qs.get(pk=pk)
    except (Opportunity.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def owner_q(user_id) -> Q:
    """Whose it is: the assignee's, or the creator's while unassigned."""
    return Q(assignee_id=user_id) | Q(assignee__isnull=True, created_by_id=user_id)


def open_opportunities(user, *, owner=None, department=None) -> QuerySet[Opportunity]:
    qs = visible_to(Opportunity.objects.active(), user).filter(status__in=Opportunity.OPEN)
    if owner:
        qs = qs.filter(owner_q(owner))
    if department:
        from kehu.accounts.models import Department

        qs = qs.filter(department_id__in=Department.descendant_ids([int(department)]))
    return qs


def weighted_sum():
    """Σ amount × probability (÷ 100 in Python, then half-up to the cent); a new expression each time."""
    return Sum(
        ExpressionWrapper(
            F("amount") * F("probability"), output_field=DecimalField(max_digits=20, decimal_places=2)
        )
    )


def board(user, *, owner=None, department=None, per_column: int = 30) -> dict:
    """The kanban board: enabled stages as columns, each with its count, amount, weighted amount and
    its first ``per_column`` cards (largest amount first).  Three queries whatever the number of
    opportunities: the stages, the column totals, the cards (a window function ranks them)."""
    stages = list(Stage.objects.filter(enabled=True).order_by("order", "pk"))
    base = open_opportunities(user, owner=owner, department=department)
    totals = {
        r["stage_id"]: r
        for r in base.order_by()
        .values("stage_id")
        .annotate(n=Count("pk"), total=Sum("amount"), wsum=weighted_sum())
    }
    cards = (
        base.annotate(
            rank=Window(
                RowNumber(), partition_by=[F("stage_id")], order_by=[F("amount").desc(), F("pk").desc()]
            )
        )
        .filter(rank__lte=per_column)
        .select_related("customer", "assignee", "created_by")
        .only(
            "pk",
            "number",
            "summary",
            "amount",
            "probability",
            "expected_close",
            "status",
            "stage_id",
            "prospect_name",
            "customer__name",
            "assignee__username",
            "assignee__full_name",
            "created_by__username",
            "created_by__full_name",
            "assignee_id",
            "created_by_id",
            "customer_id",
        )
        .order_by("stage_id", "-amount", "-pk")
    )
    by_stage = defaultdict(list)
    for c in cards:
        by_stage[c.stage_id].append(c)
    columns = []
    for s in stages:
        t = totals.get(s.pk, {})
        n = t.get("n", 0)
        columns.append(
            {
                "stage": s,
                "count": n,
                "amount": _cents(t.get("total")),
                "weighted": _cents(Decimal(t.get("wsum") or 0) / 100),
                "cards": by_stage.get(s.pk, []),
                "more": max(0, n - len(by_stage.get(s.pk, []))),
            }
        )
    return {"columns": columns, "today": timezone.localdate()}


def forecast(user, *, months: int = 6, today: date | None = None) -> dict:
    """Weighted pipeline (amount × probability) of the open opportunities by expected month, owner
    and stage — one aggregate query — plus win rate and average cycle per owner over the closed
    ones — a second."""
    from kehu.accounts.models import User

    today = today or timezone.localdate()
    first = today.replace(day=1)
    month_keys = []
    d = first
    for _i in range(months):
        month_keys.append(d)
        d = (d + timedelta(days=32)).replace(day=1)
    end = d
    scoped = visible_to(Opportunity.objects.active(), user)  # the scope is worked out once
    rows = list(
        scoped.filter(status__in=Opportunity.OPEN, expected_close__isnull=False, expected_close__lt=end)
        .annotate(month=TruncMonth("expected_close"), who=Coalesce("assignee_id", "created_by_id"))
        .order_by()
        .values("month", "who", "stage_id")
        .annotate(n=Count("pk"), total=Sum("amount"), wsum=weighted_sum())
    )
    closed = list(
        scoped.filter(status__in=[S.WON, S.LOST], closed_at__isnull=False)
        .annotate(who=Coalesce("assignee_id", "created_by_id"))
        .order_by()
        .values("who")
        .annotate(
            won=Count("pk", filter=Q(status=S.WON)),
            closed=Count("pk"),
            won_amount=Sum("amount", filter=Q(status=S.WON)),
            cycle=Avg(ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())),
        )
    )
    user_ids = {r["who"] for r in rows} | {r["who"] for r in closed}
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)}
    stages = {s.pk: s for s in Stage.objects.all()}

    def month_of(v):
        return v.date().replace(day=1) if hasattr(v, "date") else v.replace(day=1)

    by_month = {m: Decimal(0) for m in month_keys}
    overdue = Decimal(0)
    by_owner: dict = defaultdict(lambda: {"amount": Decimal(0), "weighted": Decimal(0), "n": 0})
    by_stage: dict = defaultdict(lambda: {"amount": Decimal(0), "weighted": Decimal(0), "n": 0})
    for r in rows:
        w = Decimal(r["wsum"] or 0) / 100
        m = month_of(r["month"])
        if m < first:
            overdue += w
        else:
            by_month[m] = by_month.get(m, Decimal(0)) + w
        for bucket in (by_owner[r["who"]], by_stage[r["stage_id"]]):
            bucket["amount"] += Decimal(r["total"] or 0)
            bucket["weighted"] += w
            bucket["n"] += r["n"]
    owners = []
    for uid, v in by_owner.items():
        owners.append(
            {
                "user": users.get(uid),
                "n": v["n"],
                "amount": _cents(v["amount"]),
                "weighted": _cents(v["weighted"]),
            }
        )
    owners.sort(key=lambda o: -o["weighted"])
    stage_rows = [
        {
            "stage": stages.get(sid),
            "n": v["n"],
            "amount": _cents(v["amount"]),
            "weighted": _cents(v["weighted"]),
        }
        for sid, v in sorted(
            by_stage.items(), key=lambda kv: (stages[kv[0]].order, kv[0]) if kv[0] in stages else (0, 0)
        )
    ]
    rates = []
    for r in closed:
        cycle = r["cycle"]
        if cycle is not None and not isinstance(cycle, timedelta):
            cycle = timedelta(microseconds=float(cycle))
        rates.append(
            {
                "user": users.get(r["who"]),
                "won": r["won"],
                "closed": r["closed"],
                "rate": round(100 * r["won"] / r["closed"], 1) if r["closed"] else 0,
                "won_amount": _cents(r["won_amount"]),
                "cycle_days": round(cycle.total_seconds() / 86400, 1) if cycle is not None else None,
            }
        )
    rates.sort(key=lambda x: (-x["rate"], -x["closed"]))
    months_out = [{"month": m, "weighted": _cents(by_month[m])} for m in month_keys]
    return {
        "months": months_out,
        "overdue": _cents(overdue),
        "owners": owners,
        "stages": stage_rows,
        "rates": rates,
        "total": _cents(sum((m["weighted"] for m in months_out), Decimal(0)) + overdue),
    }


def reminders_for(user, *, today: date | None = None, limit: int = 20) -> dict:
    """Plan items due (today, or overdue without an outcome) and open opportunities past their
    expected close date — the user's own (assigned to them, or created by them and unassigned)."""
    today = today or timezone.localdate()
    due = list(
        PlanItem.objects.filter(
            opportunity__assignee=user,
            opportunity__status=S.ASSIGNED,
            opportunity__archived_at__isnull=True,
            outcome_at__isnull=True,
            planned_on__lte=today,
        )
        .select_related("opportunity")
        .only("pk", "planned_on", "todo", "opportunity__number", "opportunity__summary", "opportunity_id")
        .order_by("planned_on", "pk")[:limit]
    )
    overdue = list(
        Opportunity.objects.active()
        .filter(owner_q(user.pk), status__in=Opportunity.OPEN, expected_close__lt=today)
        .only("pk", "number", "summary", "expected_close", "amount")
        .order_by("expected_close", "pk")[:limit]
    )
    return {"plan_items": due, "overdue": overdue, "count": len(due) + len(overdue), "today": today}


def mailing_counts(mailing: Mailing) -> dict:
    rows = Recipient.objects.filter(mailing=mailing).order_by().values("status").annotate(n=Count("pk"))
    counts = {r["status"]: r["n"] for r in rows}
    responded = Recipient.objects.filter(mailing=mailing, responded_at__isnull=False).count()
    return {
        "by_status": [(v, label, counts.get(v, 0)) for v, label in Recipient.Status.choices],
        "total": sum(counts.values()),
        "responded": responded,
    }
