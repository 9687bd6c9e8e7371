"""Every write of the marketing module: opportunities and their status machine, stages, development
plans, campaigns, mailings, unsubscribes and responses.

Each function runs in one transaction, locks what it changes (``select_for_update`` in primary-key
order), checks who may do it, validates, writes, and is attributed to ``by`` in the audit trail.
Views, the API, the board, jobs and the demo all call these."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, CharField, Exists, F, OuterRef, Value, When
from django.db.models.functions import Lower, Trim
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import numbering
from kehu.core.audit import audited
from kehu.core.errors import DomainError, IllegalTransition, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry
from kehu.core.scopes import can_see

from .models import Campaign, Mailing, Opportunity, PlanItem, Recipient, Stage, StageChange, Unsubscribe
from .money import to_money

S = Opportunity.Status

# The status machine (销售机会状态): an explicit table; anything else is an IllegalTransition.
TRANSITIONS: dict[str, set[str]] = {
    S.UNASSIGNED: {S.ASSIGNED},
    S.ASSIGNED: {S.ASSIGNED, S.WON, S.LOST},  # assigned → assigned is a re-assignment
    S.WON: set(),
    S.LOST: set(),
}

OPPORTUNITY_FIELDS = {
    "source",
    "customer",
    "prospect_name",
    "prospect_contact",
    "prospect_phone",
    "prospect_email",
    "summary",
    "probability",
    "description",
    "amount",
    "expected_close",
    "stage",
    "campaign",
}


# --- helpers --------------------------------------------------------------------------------------


def _locked(model, pks):
    pks = sorted(set(pks))
    rows = {o.pk: o for o in model._base_manager.select_for_update().filter(pk__in=pks).order_by("pk")}
    if len(rows) != len(pks):
        raise ValidationFailed(_("A record was not found; reload the page."))
    return [rows[pk] for pk in pks]


def _lock(obj):
    return _locked(type(obj), [obj.pk])[0]


def _check_transition(opp: Opportunity, to: str) -> None:
    if to not in TRANSITIONS[opp.status]:
        raise IllegalTransition(
            _("An opportunity that is %(status)s cannot become %(to)s.")
            % {"status": opp.get_status_display(), "to": S(to).label},
            details={"from": opp.status, "to": to},
        )


def _history(opp, *, by, from_stage=None, from_status="", note=""):
    StageChange.objects.create(
        opportunity=opp,
        from_stage=from_stage,
        to_stage=opp.stage,
        from_status=from_status,
        to_status=opp.status,
        probability=opp.probability,
        note=str(note)[:300],
        by=by,
    )


def _writer(user) -> bool:
    return user is not None and user.is_authenticated and not user.is_read_only


def is_supervisor(user, opp: Opportunity | None = None) -> bool:
    """Assigns and re-assigns: sales.assign (销售主管) over an opportunity in their scope."""
    if not _writer(user):
        return False
    if user.is_administrator:
        return True
    if not user.has_right("sales.assign"):
        return False
    return opp is None or can_see(user, opp)


def can_edit(user, opp: Opportunity) -> bool:
    """An unassigned opportunity: its creator or a supervisor; an assigned one: its assignee.
    Won and lost opportunities are closed."""
    if not _writer(user) or not user.has_right("sales.edit") or opp.status not in Opportunity.OPEN:
        return False
    if user.is_administrator:
        return True
    if opp.status == S.UNASSIGNED:
        return opp.created_by_id == user.pk or is_supervisor(user, opp)
    return opp.assignee_id == user.pk


def can_work(user, opp: Opportunity) -> bool:
    """Plans, outcomes, won / lost: the assignee of an assigned opportunity."""
    if not _writer(user) or not user.has_right("sales.edit") or opp.status != S.ASSIGNED:
        return False
    return opp.assignee_id == user.pk or user.is_administrator


def assignable_users(user):
    """Whom ``user`` may assign to: active colleagues in their scope who hold sales.edit."""
    from kehu.accounts.models import User

    qs = User.objects.filter(is_active=True, roles__rights__code="sales.edit").distinct().order_by("username")
    if user.data_scope == "all" or user.is_administrator:
        return qs
    from django.db.models import Q

    return qs.filter(Q(pk=user.pk) | Q(department__in=user.scope_department_ids()))


def default_stage() -> Stage:
    from .seeds import seed_stages

    seed_stages()
    stage = Stage.objects.filter(enabled=True, is_won=False).order_by("order", "pk").first()
    if stage is None:
        raise ValidationFailed(
            _("No stage is enabled; configure the stages first."), details={"field": "stage"}
        )
    return stage


def _probability(value) -> int:
    """A whole number from 0 to 100 (``"60"``, ``60`` or ``Decimal("60")``)."""
    p = None
    if isinstance(value, bool):
        p = None
    elif isinstance(value, int):
        p = value
    elif isinstance(value, Decimal | float) and value == int(value):
        p = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        p = int(value.strip())
    if p is None:
        raise ValidationFailed(
            _("The probability is a whole number from 0 to 100."), details={"field": "probability"}
        )
    if not 0 <= p <= 100:
        raise ValidationFailed(
            _("The probability must be between 0 and 100."), details={"field": "probability"}
        )
    return p


def _clean(opp: Opportunity, by) -> None:
    opp.summary = (opp.summary or "").strip()
    if not opp.summary:
        raise ValidationFailed(_("The summary is required."), details={"field": "summary"})
    for f in ("prospect_name", "prospect_contact", "prospect_phone", "prospect_email", "description"):
        setattr(opp, f, (getattr(opp, f) or "").strip())
    if opp.customer_id is None and not opp.prospect_name and not opp.prospect_contact:
        raise ValidationFailed(
            _("Choose a customer or enter the prospect's company name or contact."),
            details={"field": "prospect_name"},
        )
    if opp.customer_id is not None and not can_see(by, opp.customer):
        raise ValidationFailed(_("Choose a customer you can see."), details={"field": "customer"})
    if opp.prospect_email:
        from kehu.customers.normalize import is_valid_email

        if not is_valid_email(opp.prospect_email):
            raise ValidationFailed(
                _("%(email)s is not an e-mail address.") % {"email": opp.prospect_email},
                details={"field": "prospect_email"},
            )
    if opp.prospect_phone:
        from kehu.customers.normalize import is_valid_mobile, is_valid_phone

        if not (is_valid_mobile(opp.prospect_phone) or is_valid_phone(opp.prospect_phone)):
            raise ValidationFailed(
                _("%(phone)s is not a phone number.") % {"phone": opp.prospect_phone},
                details={"field": "prospect_phone"},
            )
    opp.probability = _probability(opp.probability)
    try:
        opp.amount = to_money(opp.amount)
    except ValueError:
        raise ValidationFailed(_("The amount is not a number."), details={"field": "amount"}) from None
    if opp.amount < 0:
        raise ValidationFailed(_("The amount must not be negative."), details={"field": "amount"})
    if opp.amount >= Decimal("1e12"):
        raise ValidationFailed(_("The amount is too large."), details={"field": "amount"})
    if opp.source_id is not None and opp.source.type != "opportunity_source":
        raise ValidationFailed(_("Choose a source from the list."), details={"field": "source"})


def _check_stage(stage: Stage | None) -> Stage:
    if stage is None:
        return default_stage()
    if not stage.enabled:
        raise ValidationFailed(
            _("The stage %(s)s is disabled.") % {"s": stage.name}, details={"field": "stage"}
        )
    return stage


# --- opportunities --------------------------------------------------------------------------------


@audited
def create_opportunity(*, by, assignee=None, **fields) -> Opportunity:
    """销售主管 and 客户经理 create; a supervisor may hand it to ``assignee`` at once."""
    unknown = set(fields) - OPPORTUNITY_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    if not _writer(by) or not by.has_right("sales.edit"):
        raise PermissionDeniedError(_("You may not create opportunities."))
    with transaction.atomic():
        stage = _check_stage(fields.pop("stage", None))
        if stage.is_won:
            raise ValidationFailed(_("A new opportunity cannot start as won."), details={"field": "stage"})
        if fields.get("probability") in (None, ""):
            fields["probability"] = stage.probability
        opp = Opportunity(**fields)
        opp.stage = stage
        opp.created_by = by
        opp.department_id = by.department_id
        opp.status = S.UNASSIGNED
        _clean(opp, by)
        opp.number = numbering.next_number("opportunity")
        opp.stage_changed_at = timezone.now()
        opp.save()
        _history(opp, by=by, note=_("Created"))
        if assignee is not None:
            opp = assign_opportunity(opp, to=assignee, by=by)
        return opp


@audited
def update_opportunity(opp: Opportunity, *, by, **fields) -> Opportunity:
    unknown = set(fields) - OPPORTUNITY_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        o = _lock(opp)
        if o.status not in Opportunity.OPEN:
            raise IllegalTransition(_("A won or lost opportunity can no longer be changed."))
        if not can_edit(by, o):
            raise PermissionDeniedError(_("You may not change this opportunity."))
        new_stage = fields.pop("stage", None)
        for k, v in fields.items():
            setattr(o, k, v)
        _clean(o, by)
        o.save()
        if new_stage is not None and new_stage.pk != o.stage_id:
            o = _move(o, stage=new_stage, by=by, probability=fields.get("probability"))
        return o


@audited
def assign_opportunity(opp: Opportunity, *, to, by) -> Opportunity:
    """指派: only a supervisor assigns (and re-assigns), to a colleague in their scope."""
    if to is None or not to.is_active:
        raise ValidationFailed(_("Choose an active user to assign to."), details={"field": "to"})
    with transaction.atomic():
        o = _lock(opp)
        if not is_supervisor(by, o):
            raise PermissionDeniedError(_("Only a sales supervisor assigns opportunities."))
        _check_transition(o, S.ASSIGNED)
        if not assignable_users(by).filter(pk=to.pk).exists():
            raise ValidationFailed(
                _("%(user)s cannot be given this opportunity.") % {"user": to}, details={"field": "to"}
            )
        if o.assignee_id == to.pk:
            raise ValidationFailed(
                _("The opportunity is assigned to %(user)s already.") % {"user": to}, details={"field": "to"}
            )
        before = o.status
        o.status = S.ASSIGNED
        o.assignee = to
        o.assigned_at = timezone.now()
        o.assigned_by = by
        o.department_id = to.department_id
        o.save(update_fields=["status", "assignee", "assigned_at", "assigned_by", "department", "updated_at"])
        _history(
            o,
            by=by,
            from_stage=o.stage,
            from_status=before,
            note=_("Assigned to %(user)s") % {"user": to.display_name},
        )
        return o


def _move(o: Opportunity, *, stage: Stage, by, probability=None) -> Opportunity:
    if stage.is_won:
        raise IllegalTransition(
            _("Close the opportunity as won with “Won” (it creates or links the customer)."),
            details={"field": "stage"},
        )
    _check_stage(stage)
    before = o.stage
    o.stage = stage
    o.probability = _probability(probability) if probability not in (None, "") else stage.probability
    o.stage_changed_at = timezone.now()
    o.save(update_fields=["stage", "probability", "stage_changed_at", "updated_at"])
    _history(o, by=by, from_stage=before, from_status=o.status)
    return o


@audited
def move_opportunity(opp: Opportunity, *, stage: Stage, by, probability=None, **win_options) -> Opportunity:
    """The board's drop and the form's stage change.  Moving to the won stage wins the opportunity
    through :func:`win_opportunity`; a won or lost one no longer moves."""
    with transaction.atomic():
        o = _lock(opp)
        if o.status not in Opportunity.OPEN:
            raise IllegalTransition(
                _("%(number)s is %(status)s and can no longer be moved.")
                % {"number": o.number, "status": o.get_status_display()}
            )
        if not can_edit(by, o):
            raise PermissionDeniedError(_("You may not move this opportunity."))
        if stage.pk == o.stage_id:
            return o
        if stage.is_won:
            return win_opportunity(o, by=by, **win_options)
        return _move(o, stage=stage, by=by, probability=probability)


@audited
def archive_opportunity(opp: Opportunity, *, by) -> Opportunity:
    """删除: an open opportunity is archived (restorable) by whoever may edit it."""
    with transaction.atomic():
        o = _lock(opp)
        if o.status not in Opportunity.OPEN:
            raise IllegalTransition(_("A won or lost opportunity stays in the history."))
        if not can_edit(by, o):
            raise PermissionDeniedError(_("You may not delete this opportunity."))
        if o.archived_at is None:
            o.archived_at = timezone.now()
            o.archived_by = by
            o.save(update_fields=["archived_at", "archived_by", "updated_at"])
        return o


@audited
def restore_opportunity(opp: Opportunity, *, by) -> Opportunity:
    with transaction.atomic():
        o = _lock(opp)
        if not can_edit(by, o):
            raise PermissionDeniedError(_("You may not restore this opportunity."))
        o.archived_at = None
        o.archived_by = None
        o.save(update_fields=["archived_at", "archived_by", "updated_at"])
        return o


@audited
def win_opportunity(
    opp: Opportunity, *, by, customer=None, name: str | None = None, confirm_duplicate: bool = False
) -> Opportunity:
    """开发成功: the customer is created from the prospect (with its contact) — ``name`` completes
    or corrects the prospect's company name — or the given or linked customer is used; the
    customer becomes signed."""
    from kehu.customers import services as cs
    from kehu.customers.models import Contact, Customer
    from kehu.customers.normalize import is_valid_mobile

    with transaction.atomic():
        o = _lock(opp)
        _check_transition(o, S.WON)
        if not can_work(by, o):
            raise PermissionDeniedError(_("Only the assignee closes the opportunity."))
        if customer is not None:
            if not can_see(by, customer):
                raise ValidationFailed(_("Choose a customer you can see."), details={"field": "customer"})
            o.customer = customer
        if o.customer_id is not None:
            c = o.customer
            if c.status != Customer.Status.SIGNED:
                cs.update_customer(c, by=by, status=Customer.Status.SIGNED, stage=Customer.Stage.WON)
        else:
            name = (name if name is not None else o.prospect_name or "").strip()
            if not name:
                raise ValidationFailed(
                    _("A won opportunity needs the customer's name."), details={"field": "prospect_name"}
                )
            c = cs.create_customer(
                by=by,
                owner=by,
                name=name,
                status=Customer.Status.SIGNED,
                stage=Customer.Stage.WON,
                confirm_duplicate=confirm_duplicate,
            )
            if o.prospect_contact:
                phone = o.prospect_phone
                mobile = phone if phone and is_valid_mobile(phone) else ""
                cs.save_contact(
                    Contact(
                        customer=c,
                        name=o.prospect_contact,
                        mobile=mobile,
                        phone="" if mobile else phone,
                        email=o.prospect_email,
                        is_primary=True,
                    ),
                    by=by,
                )
            o.customer = c
            o.prospect_name = name
        before_stage, before_status = o.stage, o.status
        won = Stage.objects.filter(is_won=True).first()
        if won is not None:
            o.stage = won
        o.status = S.WON
        o.probability = 100
        o.closed_at = timezone.now()
        o.stage_changed_at = o.closed_at
        o.save()
        _history(o, by=by, from_stage=before_stage, from_status=before_status, note=_("Won"))
        return o


@audited
def lose_opportunity(opp: Opportunity, *, reason, by, note: str = "") -> Opportunity:
    """开发失败, with a reason from the dictionary (lost_reason)."""
    if (
        reason is None
        or not isinstance(reason, DictEntry)
        or reason.type != "lost_reason"
        or not reason.enabled
    ):
        raise ValidationFailed(_("Choose why the opportunity was lost."), details={"field": "reason"})
    with transaction.atomic():
        o = _lock(opp)
        _check_transition(o, S.LOST)
        if not can_work(by, o):
            raise PermissionDeniedError(_("Only the assignee closes the opportunity."))
        before = o.status
        o.status = S.LOST
        o.lost_reason = reason
        o.lost_note = (note or "").strip()
        o.probability = 0
        o.closed_at = timezone.now()
        o.save()
        _history(
            o, by=by, from_stage=o.stage, from_status=before, note=_("Lost: %(r)s") % {"r": reason.label}
        )
        return o


# --- development plan -----------------------------------------------------------------------------


def _plan_opportunity(item_or_opp, by) -> Opportunity:
    o = _lock(item_or_opp)
    if o.status != S.ASSIGNED:
        raise IllegalTransition(_("Plans are made for an assigned opportunity that is still open."))
    if not can_work(by, o):
        raise PermissionDeniedError(_("Only the assignee plans the development."))
    return o


@audited
def add_plan_item(opp: Opportunity, *, planned_on: date, todo: str, by) -> PlanItem:
    todo = (todo or "").strip()
    if not todo:
        raise ValidationFailed(_("Say what is to be done."), details={"field": "todo"})
    if not isinstance(planned_on, date):
        raise ValidationFailed(_("Choose a date."), details={"field": "planned_on"})
    with transaction.atomic():
        o = _plan_opportunity(opp, by)
        return PlanItem.objects.create(opportunity=o, planned_on=planned_on, todo=todo, created_by=by)


@audited
def update_plan_item(item: PlanItem, *, planned_on: date, todo: str, by) -> PlanItem:
    todo = (todo or "").strip()
    if not todo:
        raise ValidationFailed(_("Say what is to be done."), details={"field": "todo"})
    with transaction.atomic():
        _plan_opportunity(item.opportunity, by)
        it = _lock(item)
        if it.done:
            raise IllegalTransition(_("A step with a recorded outcome stays as it was."))
        it.planned_on, it.todo = planned_on, todo
        it.save(update_fields=["planned_on", "todo"])
        return it


@audited
def delete_plan_item(item: PlanItem, *, by) -> None:
    with transaction.atomic():
        _plan_opportunity(item.opportunity, by)
        it = _lock(item)
        if it.done:
            raise IllegalTransition(_("A step with a recorded outcome stays in the history."))
        it.delete()


@audited
def record_outcome(item: PlanItem, *, outcome: str, by) -> PlanItem:
    """执行效果: what came of the step.  Recorded once; the history stays as it was."""
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationFailed(_("Describe the outcome."), details={"field": "outcome"})
    with transaction.atomic():
        _plan_opportunity(item.opportunity, by)
        it = _lock(item)
        if it.done:
            raise IllegalTransition(_("The outcome of this step is recorded already."))
        it.outcome = outcome
        it.outcome_at = timezone.now()
        it.save(update_fields=["outcome", "outcome_at"])
        return it


# --- stages ---------------------------------------------------------------------------------------


@audited
def save_stage(stage: Stage, *, by) -> Stage:
    if not _writer(by) or not by.has_right("sales.stages"):
        raise PermissionDeniedError(_("You may not configure the stages."))
    stage.name_zh = (stage.name_zh or "").strip()
    stage.name_en = (stage.name_en or "").strip()
    if not stage.name_zh:
        raise ValidationFailed(_("The Chinese name is required."), details={"field": "name_zh"})
    if not stage.name_en:
        raise ValidationFailed(_("The English name is required."), details={"field": "name_en"})
    stage.probability = _probability(stage.probability)
    with transaction.atomic():
        if stage.pk:
            old = _lock(stage)
            if old.is_won != stage.is_won and Opportunity.objects.filter(stage=old).exists():
                raise DomainError(_("The stage is in use; its kind cannot change."), code="in_use")
            if (
                old.enabled
                and not stage.enabled
                and Opportunity.objects.filter(stage=old, status__in=Opportunity.OPEN).exists()
            ):
                raise DomainError(
                    _("Open opportunities are in this stage; move them before disabling it."), code="in_use"
                )
        if stage.is_won and Stage.objects.filter(is_won=True).exclude(pk=stage.pk).exists():
            raise ValidationFailed(_("Only one stage closes as won."), details={"field": "is_won"})
        stage.save()
        return stage


# --- campaigns ------------------------------------------------------------------------------------

SEGMENT_KEYS = ("q", "status", "level", "region", "industry", "tag", "owner")


def clean_segment(segment: dict | None, user) -> dict:
    """The target segment as the customer list's filters (level, region, industry, tag, status…):
    unknown keys and values the filters refuse are an error."""
    from kehu.customers.filters import CustomerFilter

    segment = {k: v for k, v in (segment or {}).items() if v not in (None, "", [])}
    unknown = set(segment) - set(SEGMENT_KEYS)
    if unknown:
        raise ValidationFailed(
            _("Unknown segment filters: %(f)s") % {"f": ", ".join(sorted(unknown))},
            details={"field": "segment"},
        )
    segment = {k: str(v) for k, v in segment.items()}
    fs = CustomerFilter(segment, queryset=_empty_customers(), request=_Req(user))
    if not fs.is_valid():
        errors = {k: [str(e) for e in v] for k, v in fs.form.errors.items()}
        raise ValidationFailed(
            _("The segment is not valid: %(e)s")
            % {"e": "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())},
            details={"field": "segment", "errors": errors},
        )
    return segment


class _Req:
    """What the customer filters read from a request: the user (for the owner choices)."""

    def __init__(self, user):
        self.user = user
        self.GET = {}


def _empty_customers():
    from kehu.customers.models import Customer

    return Customer.objects.none()


def segment_customers(segment: dict, user):
    """The active customers of the segment, within ``user``'s data scope."""
    from kehu.customers.filters import CustomerFilter
    from kehu.customers.selectors import customers_visible_to

    fs = CustomerFilter(dict(segment or {}), queryset=customers_visible_to(user).active(), request=_Req(user))
    return fs.qs if fs.is_valid() else fs.queryset.none()


CAMPAIGN_FIELDS = {"name", "description", "starts_on", "ends_on", "budget", "status", "segment"}


def _clean_campaign(c: Campaign, by) -> None:
    c.name = (c.name or "").strip()
    if not c.name:
        raise ValidationFailed(_("The name is required."), details={"field": "name"})
    try:
        c.budget = to_money(c.budget)
    except ValueError:
        raise ValidationFailed(_("The budget is not a number."), details={"field": "budget"}) from None
    if c.budget < 0:
        raise ValidationFailed(_("The budget must not be negative."), details={"field": "budget"})
    if c.starts_on and c.ends_on and c.ends_on < c.starts_on:
        raise ValidationFailed(_("The campaign ends before it starts."), details={"field": "ends_on"})
    if c.status not in Campaign.Status.values:
        raise ValidationFailed(_("Unknown status."), details={"field": "status"})
    c.segment = clean_segment(c.segment, by)


def _require_campaign_right(by):
    if not _writer(by) or not by.has_right("sales.campaign"):
        raise PermissionDeniedError(_("You may not manage campaigns."))


@audited
def create_campaign(*, by, **fields) -> Campaign:
    unknown = set(fields) - CAMPAIGN_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _require_campaign_right(by)
    with transaction.atomic():
        c = Campaign(**fields, created_by=by, department_id=by.department_id)
        _clean_campaign(c, by)
        c.save()
        return c


@audited
def update_campaign(campaign: Campaign, *, by, **fields) -> Campaign:
    unknown = set(fields) - CAMPAIGN_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _require_campaign_right(by)
    with transaction.atomic():
        c = _lock(campaign)
        if not can_see(by, c):
            raise PermissionDeniedError()
        for k, v in fields.items():
            setattr(c, k, v)
        _clean_campaign(c, by)
        c.save()
        return c


# --- mass e-mail ----------------------------------------------------------------------------------

# The fields a template may use, as {{ customer.name }}: nothing else is rendered.
TEMPLATE_FIELDS = {
    "customer.name": _("the customer's name"),
    "customer.short_name": _("the customer's short name"),
    "customer.number": _("the customer number"),
    "customer.address": _("the customer's address"),
    "customer.phone": _("the customer's phone"),
    "customer.website": _("the customer's website"),
    "contact.name": _("the contact's name"),
    "contact.title": _("the contact's title"),
    "contact.email": _("the contact's e-mail"),
    "contact.mobile": _("the contact's mobile"),
    "campaign.name": _("the campaign's name"),
    "unsubscribe_url": _("the unsubscribe link"),
}
PLACEHOLDER_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def template_fields(text: str) -> list[str]:
    return PLACEHOLDER_RE.findall(text or "")


def validate_template(text: str, field: str) -> None:
    """An unknown field (or a template tag) is an error, named in the message."""
    if "{%" in (text or "") or "%}" in (text or ""):
        raise ValidationFailed(
            _("Template tags ({%% … %%}) are not allowed; use fields like {{ customer.name }}."),
            details={"field": field},
        )
    unknown = sorted({f for f in template_fields(text) if f not in TEMPLATE_FIELDS})
    if unknown:
        raise ValidationFailed(
            _("Unknown fields in the template: %(f)s. Allowed: %(a)s.")
            % {"f": ", ".join(unknown), "a": ", ".join(sorted(TEMPLATE_FIELDS))},
            details={"field": field, "unknown": unknown},
        )
    stripped = PLACEHOLDER_RE.sub("", text or "")
    if "{{" in stripped or "}}" in stripped:
        raise ValidationFailed(_("A field is not closed with }}."), details={"field": field})


def render_template(text: str, values: dict) -> str:
    return PLACEHOLDER_RE.sub(lambda m: str(values.get(m.group(1), "") or ""), text or "")


def _clean_mailing(m: Mailing) -> None:
    m.subject = (m.subject or "").strip()
    if not m.subject:
        raise ValidationFailed(_("The subject is required."), details={"field": "subject"})
    if "\n" in m.subject or "\r" in m.subject:
        raise ValidationFailed(_("The subject is one line."), details={"field": "subject"})
    if not (m.body or "").strip():
        raise ValidationFailed(_("The body is required."), details={"field": "body"})
    validate_template(m.subject, "subject")
    validate_template(m.body, "body")
    m.from_email = (m.from_email or "").strip()
    if m.from_email and ("\n" in m.from_email or "@" not in m.from_email):
        raise ValidationFailed(_("The sender is not an e-mail address."), details={"field": "from_email"})


def _require_mail_right(by):
    if not _writer(by) or not by.has_right("sales.mail"):
        raise PermissionDeniedError(_("You may not send mass e-mail."))


@audited
def create_mailing(campaign: Campaign, *, subject: str, body: str, by, from_email: str = "") -> Mailing:
    _require_mail_right(by)
    with transaction.atomic():
        c = _lock(campaign)
        if not can_see(by, c):
            raise PermissionDeniedError()
        if c.is_archived or c.status == Campaign.Status.CLOSED:
            raise IllegalTransition(_("The campaign is closed."))
        m = Mailing(campaign=c, subject=subject, body=body, from_email=from_email, created_by=by)
        _clean_mailing(m)
        m.save()
        return m


@audited
def update_mailing(mailing: Mailing, *, subject: str, body: str, by, from_email: str = "") -> Mailing:
    _require_mail_right(by)
    with transaction.atomic():
        m = _lock(mailing)
        if m.status != Mailing.Status.DRAFT:
            raise IllegalTransition(_("Only a draft mailing can be changed."))
        m.subject, m.body, m.from_email = subject, body, from_email
        _clean_mailing(m)
        m.save(update_fields=["subject", "body", "from_email"])
        return m


def email_key(email: str) -> str:
    return (email or "").strip().lower()


def materialise_recipients(mailing: Mailing, user) -> int:
    """The segment's contacts with an e-mail address become recipients in one INSERT … SELECT
    (one per address; an unsubscribed address is recorded as skipped)."""
    from kehu.customers.models import Contact

    customers = segment_customers(mailing.campaign.segment, user).order_by().values("pk")
    contacts = (
        Contact.objects.active()
        .filter(customer_id__in=customers)
        .exclude(email="")
        .annotate(r_key=Lower(Trim("email")))
        .annotate(
            r_mailing=Value(mailing.pk),
            r_customer=F("customer_id"),
            r_contact=F("id"),
            r_email=Trim("email"),
            r_status=Case(
                When(
                    Exists(Unsubscribe.objects.filter(email_key=OuterRef("r_key"))),
                    then=Value(Recipient.Status.UNSUBSCRIBED.value),
                ),
                default=Value(Recipient.Status.QUEUED.value),
                output_field=CharField(),
            ),
        )
        .order_by("customer_id", "-is_primary", "id")
        .values("r_mailing", "r_customer", "r_contact", "r_email", "r_key", "r_status")
    )
    sql, params = contacts.query.sql_with_params()
    insert = (
        "INSERT INTO sal_mailing_recipient "
        "(mailing_id, customer_id, contact_id, email, email_key, status, error, response_note) "
        "SELECT s.r_mailing, s.r_customer, s.r_contact, s.r_email, s.r_key, s.r_status, '', '' "
        f"FROM ({sql}) s WHERE 1 = 1 "
        "ON CONFLICT (mailing_id, email_key) DO NOTHING"
    )
    with connection.cursor() as cur:
        cur.execute(insert, params)
        return cur.rowcount


@audited
def queue_mailing(mailing: Mailing, *, by, base_url: str = "") -> Mailing:
    """Materialise the recipients and hand the sending to a background job.  A mailing is sent
    once: queuing it again is an IllegalTransition."""
    from kehu.core import jobs

    _require_mail_right(by)
    with transaction.atomic():
        m = _lock(mailing)
        if not can_see(by, m):
            raise PermissionDeniedError()
        if m.status != Mailing.Status.DRAFT:
            raise IllegalTransition(
                _("This mailing has been %(status)s already; it is sent once.")
                % {"status": m.get_status_display().lower()}
            )
        _clean_mailing(m)
        materialise_recipients(m, by)
        total = Recipient.objects.filter(mailing=m).count()
        if not total:
            raise ValidationFailed(
                _("No contact of the campaign's customers has an e-mail address."),
                details={"field": "segment"},
            )
        m.recipient_count = total
        m.status = Mailing.Status.QUEUED
        m.queued_at = timezone.now()
        m.base_url = (base_url or "").rstrip("/")[:200]
        m.job = jobs.enqueue(
            "sales.send_mailing",
            user=by,
            label=_("Mass e-mail: %(s)s") % {"s": m.subject[:150]},
            params={"mailing_id": m.pk},
        )
        m.save(update_fields=["recipient_count", "status", "queued_at", "base_url", "job"])
        return m


# --- unsubscribe and responses --------------------------------------------------------------------

UNSUBSCRIBE_SALT = "kehu.sales.unsubscribe"


def unsubscribe_token(email: str, mailing_id: int | None = None) -> str:
    from django.core import signing

    return signing.dumps({"e": email_key(email), "m": mailing_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> dict:
    from django.core import signing

    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise ValidationFailed(_("This unsubscribe link is not valid.")) from None
    if not isinstance(data, dict) or not data.get("e"):
        raise ValidationFailed(_("This unsubscribe link is not valid."))
    return data


def unsubscribe(token: str) -> Unsubscribe:
    """退订, from the public link: recorded once per address; every later send skips it."""
    data = read_unsubscribe_token(token)
    with transaction.atomic():
        mailing_id = data.get("m")
        if mailing_id and not Mailing.objects.filter(pk=mailing_id).exists():
            mailing_id = None
        obj, _created = Unsubscribe.objects.get_or_create(
            email_key=data["e"], defaults={"mailing_id": mailing_id}
        )
        return obj


def _require_response_right(by, r: Recipient):
    if not _writer(by) or not by.has_right("sales.campaign"):
        raise PermissionDeniedError(_("You may not record responses."))
    if not can_see(by, r):
        raise PermissionDeniedError()


@audited
def mark_responded(recipient: Recipient, *, by, note: str = "") -> Recipient:
    with transaction.atomic():
        r = _lock(recipient)
        _require_response_right(by, r)
        if r.status != Recipient.Status.SENT:
            raise IllegalTransition(_("Only a recipient who got the e-mail can respond."))
        r.responded_at = r.responded_at or timezone.now()
        if note:
            r.response_note = note.strip()
        r.save(update_fields=["responded_at", "response_note"])
        return r


@audited
def response_to_opportunity(
    recipient: Recipient, *, by, summary: str = "", amount=None, note: str = ""
) -> Opportunity:
    """A response becomes an opportunity of the customer (source: campaign), linked both ways."""
    with transaction.atomic():
        r = _lock(recipient)
        _require_response_right(by, r)
        if r.opportunity_id is not None:
            raise IllegalTransition(_("This response is an opportunity already."))
        if r.status != Recipient.Status.SENT:
            raise IllegalTransition(_("Only a recipient who got the e-mail can respond."))
        campaign = r.mailing.campaign
        source = DictEntry.objects.filter(type="opportunity_source", code="campaign").first()
        opp = create_opportunity(
            by=by,
            customer=r.customer,
            prospect_contact=r.contact.name if r.contact_id else "",
            prospect_email=r.email,
            summary=(summary or "").strip() or f"{campaign.name}: {r.customer.name}"[:200],
            amount=amount if amount not in (None, "") else 0,
            description=(note or r.response_note or "").strip(),
            source=source,
            campaign=campaign,
        )
        r.opportunity = opp
        r.responded_at = r.responded_at or timezone.now()
        if note:
            r.response_note = note.strip()
        r.save(update_fields=["opportunity", "responded_at", "response_note"])
        return opp
