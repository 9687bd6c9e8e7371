"""Every write on customers, contacts, activities, ownership, the public pool, merges and churn.

Locks are taken in primary-key order; every function runs in one transaction and records who acted
in the audit trail (``@audited``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import numbering
from kehu.core.audit import audited
from kehu.core.errors import DomainError, IllegalTransition, PermissionDeniedError, ValidationFailed
from kehu.core.scopes import can_see
from kehu.core.settings_store import get_setting

from .models import (
    Activity,
    ChurnCase,
    ChurnMeasure,
    Contact,
    Customer,
    CustomerDocument,
    CustomerShare,
    FieldVisit,
    PoolClaim,
    Tag,
    month_day,
)
from .normalize import (
    is_valid_email,
    is_valid_mobile,
    is_valid_phone,
    normalize_company_name,
    normalize_phone,
    pinyin_initials,
)

CUSTOMER_FIELDS = {
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
}
CONTACT_FIELDS = {
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
}


class Duplicate(DomainError):
    """The customer looks like one that exists; the caller may confirm and go on."""

    code = "duplicate"
    status = 409


# --- helpers ------------------------------------------------------------------------------------


def _locked(model, pks: Iterable[int]):
    pks = sorted(set(pks))
    rows = {o.pk: o for o in model._base_manager.select_for_update().filter(pk__in=pks).order_by("pk")}
    if len(rows) != len(pks):
        raise ValidationFailed(_("A record was not found; reload the page."))
    return [rows[pk] for pk in pks]


def _lock(obj):
    return _locked(type(obj), [obj.pk])[0]


def is_supervisor_of(user, customer: Customer) -> bool:
    """May assign and transfer: a supervisor over the owner's department, or an administrator."""
    if user.is_administrator:
        return True
    if user.is_read_only or not user.has_right("customers.assign"):
        return False
    if customer.owner_id is None:
        return True
    owner_dept = customer.owner.department_id if customer.owner else None
    return user.data_scope == "all" or (owner_dept is not None and owner_dept in user.scope_department_ids())


def can_edit_customer(user, customer: Customer) -> bool:
    """The owner, a colleague it was shared with for editing, the owner's supervisor, an administrator."""
    if user.is_read_only or not user.has_right("customers.edit"):
        return False
    if user.is_administrator or customer.owner_id == user.pk:
        return True
    if customer.owner_id is None:
        return False  # claim it from the pool first
    if CustomerShare.objects.filter(customer=customer, user=user, can_edit=True).exists():
        return True
    return is_supervisor_of(user, customer)


def _require_edit(user, customer):
    if not can_edit_customer(user, customer):
        raise PermissionDeniedError(_("You may not change this customer."))


def _clean_customer(c: Customer) -> None:
    c.name = (c.name or "").strip()
    if not c.name:
        raise ValidationFailed(_("The customer name is required."), details={"field": "name"})
    c.short_name = (c.short_name or "").strip()
    c.phone = (c.phone or "").strip()
    if c.phone and not is_valid_phone(c.phone):
        raise ValidationFailed(
            _("%(phone)s is not a phone number.") % {"phone": c.phone}, details={"field": "phone"}
        )
    c.tax_number = (c.tax_number or "").strip().upper()
    for f in ("credit_rating", "satisfaction"):
        v = getattr(c, f)
        if v is not None and not 1 <= int(v) <= 5:
            raise ValidationFailed(_("Ratings go from 1 to 5."), details={"field": f})
    if c.status != Customer.Status.PROSPECT:
        c.stage = None if c.status != Customer.Status.SIGNED else c.stage
    if c.kind == Customer.Kind.COMPANY:
        c.birthday = None
    c.birthday_md = month_day(c.birthday)
    c.name_key = normalize_company_name(c.name)
    c.pinyin = pinyin_initials(c.name)
    c.pinyin_short = pinyin_initials(c.short_name) if c.short_name else ""
    c.phone_key = normalize_phone(c.phone)


def find_duplicates(*, name: str = "", phone: str = "", tax_number: str = "", exclude_pk=None, limit=5):
    """Customers with the same normalised name, phone or tax number (archived ones included)."""
    q = Q()
    key = normalize_company_name(name) if name else ""
    phone_key = normalize_phone(phone) if phone else ""
    tax = (tax_number or "").strip().upper()
    if key:
        q |= Q(name_key=key)
    if phone_key:
        q |= Q(phone_key=phone_key) | Q(contacts__mobile_key=phone_key) | Q(contacts__phone_key=phone_key)
    if tax:
        q |= Q(tax_number=tax)
    if not q:
        return []
    qs = Customer.objects.filter(q).select_related("owner").distinct().order_by("pk")
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    found = []
    for c in qs[:limit]:
        reasons = []
        if key and c.name_key == key:
            reasons.append(_("same name"))
        if phone_key and (c.phone_key == phone_key):
            reasons.append(_("same phone"))
        if tax and c.tax_number == tax:
            reasons.append(_("same tax number"))
        if not reasons:
            reasons.append(_("same phone as a contact"))
        found.append(
            {
                "id": c.pk,
                "number": c.number,
                "name": c.name,
                "owner": str(c.owner) if c.owner else _("public pool"),
                "reasons": reasons,
            }
        )
    return found


def _raise_if_duplicate(c: Customer, confirm: bool):
    if confirm:
        return
    dups = find_duplicates(name=c.name, phone=c.phone, tax_number=c.tax_number, exclude_pk=c.pk)
    if dups:
        names = "; ".join(f"{d['number']} {d['name']} ({', '.join(map(str, d['reasons']))})" for d in dups)
        raise Duplicate(
            _("This looks like an existing customer: %(list)s. Save anyway?") % {"list": names},
            details={"duplicates": dups},
        )


def _set_tags(customer: Customer, tags) -> None:
    if tags is None:
        return
    names = []
    for t in tags:
        name = (t.name if isinstance(t, Tag) else str(t)).strip()
        if name and name not in names:
            names.append(name[:30])
    objs = []
    for name in names:
        tag, _c = Tag.objects.get_or_create(name=name)
        objs.append(tag)
    customer.tags.set(objs)


# --- customers ----------------------------------------------------------------------------------


@audited
def create_customer(*, by, owner=None, tags=None, confirm_duplicate: bool = False, **fields) -> Customer:
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    if by is not None and (by.is_read_only or not by.has_right("customers.edit")):
        raise PermissionDeniedError()
    with transaction.atomic():
        c = Customer(**fields)
        c.owner = owner if owner is not None else by
        if (
            c.owner is not None
            and by is not None
            and c.owner.pk != by.pk
            and not by.has_right("customers.assign")
        ):
            raise PermissionDeniedError(_("Only a supervisor can create customers for someone else."))
        c.created_by = by
        _clean_customer(c)
        _raise_if_duplicate(c, confirm_duplicate)
        c.number = numbering.next_number("customer")
        c.assigned_at = timezone.now() if c.owner else None
        c.save()
        _set_tags(c, tags)
        return c


@audited
def update_customer(
    customer: Customer, *, by, tags=None, confirm_duplicate: bool = False, **fields
) -> Customer:
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        c = _lock(customer)
        _require_edit(by, c)
        before = (c.name_key, c.phone_key, c.tax_number)
        for k, v in fields.items():
            setattr(c, k, v.strip() if isinstance(v, str) else v)
        _clean_customer(c)
        if (c.name_key, c.phone_key, c.tax_number) != before:
            _raise_if_duplicate(c, confirm_duplicate)
        c.save()
        _set_tags(c, tags)
        return c


@audited
def assign_customers(customers: Iterable[Customer], *, to, by, expected_owner_ids: dict | None = None) -> int:
    """分配/转移: a supervisor gives customers to ``to``.  ``expected_owner_ids`` ({customer id:
    owner id the supervisor saw}) turns a concurrent transfer by someone else into a clear error."""
    if to is None or not to.is_active:
        raise ValidationFailed(_("Choose an active user to assign to."), details={"field": "to"})
    if not to.has_right("customers.view"):
        raise ValidationFailed(
            _("%(user)s cannot work with customers.") % {"user": to}, details={"field": "to"}
        )
    with transaction.atomic():
        rows = _locked(Customer, [c.pk for c in customers])
        now = timezone.now()
        for c in rows:
            if not is_supervisor_of(by, c):
                raise PermissionDeniedError(_("You may not assign %(name)s.") % {"name": c.name})
            if (
                expected_owner_ids is not None
                and c.pk in expected_owner_ids
                and expected_owner_ids[c.pk] != c.owner_id
            ):
                raise DomainError(
                    _("%(name)s was transferred by someone else meanwhile; reload and try again.")
                    % {"name": c.name},
                    code="conflict",
                )
            if c.owner_id != to.pk:
                c.owner = to
                c.assigned_at = now
                c.released_at = None
                c.save(update_fields=["owner", "assigned_at", "released_at", "updated_at"])
        return len(rows)


@audited
def share_customer(customer: Customer, *, user, can_edit: bool, by) -> CustomerShare:
    with transaction.atomic():
        c = _lock(customer)
        if c.owner_id != by.pk and not is_supervisor_of(by, c):
            raise PermissionDeniedError(_("Only the owner or a supervisor shares a customer."))
        if user.pk == c.owner_id:
            raise ValidationFailed(_("The owner sees the customer already."), details={"field": "user"})
        share, _created = CustomerShare.objects.update_or_create(
            customer=c, user=user, defaults={"can_edit": can_edit, "shared_by": by}
        )
        return share


@audited
def unshare_customer(customer: Customer, *, user, by) -> None:
    with transaction.atomic():
        c = _lock(customer)
        if c.owner_id != by.pk and not is_supervisor_of(by, c):
            raise PermissionDeniedError(_("Only the owner or a supervisor shares a customer."))
        CustomerShare.objects.filter(customer=c, user=user).delete()


@audited
def release_to_pool(customer: Customer, *, by, reason: str = "") -> Customer:
    with transaction.atomic():
        c = _lock(customer)
        if c.owner_id is None:
            raise IllegalTransition(_("%(name)s is in the public pool already.") % {"name": c.name})
        if c.owner_id != by.pk and not is_supervisor_of(by, c):
            raise PermissionDeniedError(_("Only the owner or a supervisor releases a customer."))
        c.owner = None
        c.released_at = timezone.now()
        c.release_reason = (reason or "").strip()[:200]
        c.save(update_fields=["owner", "released_at", "release_reason", "updated_at"])
        CustomerShare.objects.filter(customer=c).delete()
        return c


@audited
def claim_from_pool(customer: Customer, *, by) -> Customer:
    """领取: take a customer from the public pool, within the daily limit."""
    if by.is_read_only or not by.has_right("customers.edit"):
        raise PermissionDeniedError()
    from kehu.accounts.models import User

    limit = get_setting("customers.pool_claim_limit")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=by.pk).first()  # one claim at a time per user
        c = _lock(customer)
        if c.owner_id is not None:
            raise IllegalTransition(
                _("%(name)s has been claimed already.") % {"name": c.name}, code="claimed"
            )
        start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        claimed = PoolClaim.objects.filter(user=by, claimed_at__gte=start).count()
        if claimed >= limit:
            raise DomainError(
                _("You have claimed %(n)s customers today, the daily limit.") % {"n": claimed},
                code="claim_limit",
            )
        c.owner = by
        c.assigned_at = timezone.now()
        c.released_at = None
        c.save(update_fields=["owner", "assigned_at", "released_at", "updated_at"])
        PoolClaim.objects.create(user=by, customer=c)
        return c


def return_inactive_to_pool(*, now=None) -> int:
    """Daily: customers (prospects and dormant) without activity for N days go back to the pool."""
    days = get_setting("customers.pool_return_days")
    if not days:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    stale = (
        Customer.objects.active()
        .filter(owner__isnull=False, status__in=[Customer.Status.PROSPECT, Customer.Status.DORMANT])
        .filter(
            Q(last_activity_at__lt=cutoff)
            | Q(last_activity_at__isnull=True, assigned_at__lt=cutoff)
            | Q(last_activity_at__isnull=True, assigned_at__isnull=True, created_at__lt=cutoff)
        )
    )
    n = 0
    for pk in stale.values_list("pk", flat=True).iterator(chunk_size=1000):
        with transaction.atomic():
            c = Customer.objects.select_for_update().filter(pk=pk, owner__isnull=False).first()
            if c is None:
                continue
            c.owner = None
            c.released_at = now
            c.save(update_fields=["owner", "released_at", "updated_at"])
            CustomerShare.objects.filter(customer=c).delete()
            n += 1
    return n


@audited
def merge_customers(source: Customer, target: Customer, *, by) -> Customer:
    """合并: everything that points at ``source`` moves to ``target``; ``source`` is archived."""
    if source.pk == target.pk:
        raise ValidationFailed(_("A customer cannot be merged into itself."))
    with transaction.atomic():
        src, dst = (
            _locked(Customer, [source.pk, target.pk])
            if source.pk < target.pk
            else reversed(_locked(Customer, [target.pk, source.pk]))
        )
        if not (can_edit_customer(by, src) and can_edit_customer(by, dst)):
            raise PermissionDeniedError(_("You may not merge these customers."))
        if src.is_archived:
            raise IllegalTransition(_("%(name)s is archived.") % {"name": src.name})
        if dst.contacts.filter(is_primary=True, archived_at__isnull=True).exists():
            Contact.objects.filter(customer=src, is_primary=True).update(is_primary=False)
        CustomerShare.objects.filter(
            customer=src, user__in=CustomerShare.objects.filter(customer=dst).values("user")
        ).delete()
        # One open churn case per customer: the source's open cases end in the target's.
        if ChurnCase.objects.filter(customer=dst, status__in=["open", "deferred"]).exists():
            ChurnCase.objects.filter(customer=src, status__in=["open", "deferred"]).update(
                status=ChurnCase.Status.RECOVERED, closed_at=timezone.now(), closed_by=by
            )
        moved = {}
        for rel in Customer._meta.get_fields(include_hidden=True):
            if not (rel.is_relation and rel.auto_created and not rel.concrete):
                continue
            if rel.many_to_many:
                continue
            model = rel.related_model
            n = model._base_manager.filter(**{rel.field.name: src}).update(**{rel.field.name: dst})
            if n:
                moved[str(model._meta.verbose_name_plural)] = n
        dst.tags.add(*src.tags.all())
        for f in (
            "phone",
            "fax",
            "website",
            "address",
            "tax_number",
            "legal_representative",
            "bank",
            "bank_account",
            "postcode",
        ):
            if not getattr(dst, f) and getattr(src, f):
                setattr(dst, f, getattr(src, f))
        note = _("Merged from %(number)s %(name)s.") % {"number": src.number, "name": src.name}
        dst.notes = f"{dst.notes}\n{note}".strip()
        if src.last_activity_at and (not dst.last_activity_at or src.last_activity_at > dst.last_activity_at):
            dst.last_activity_at = src.last_activity_at
        _clean_customer(dst)
        dst.save()
        src.archived_at = timezone.now()
        src.archived_by = by
        src.notes = f"{src.notes}\n" + _("Merged into %(number)s %(name)s.") % {
            "number": dst.number,
            "name": dst.name,
        }
        src.save(update_fields=["archived_at", "archived_by", "notes", "updated_at"])
        return dst


# --- contacts -----------------------------------------------------------------------------------


def _clean_contact(ct: Contact) -> None:
    ct.name = (ct.name or "").strip()
    if not ct.name:
        raise ValidationFailed(_("The contact's name is required."), details={"field": "name"})
    for f in ("mobile", "phone"):
        v = (getattr(ct, f) or "").strip()
        setattr(ct, f, v)
        if v and not (is_valid_mobile(v) if f == "mobile" else is_valid_phone(v)):
            raise ValidationFailed(_("%(phone)s is not a phone number.") % {"phone": v}, details={"field": f})
    ct.email = (ct.email or "").strip()
    if ct.email and not is_valid_email(ct.email):
        raise ValidationFailed(
            _("%(email)s is not an e-mail address.") % {"email": ct.email}, details={"field": "email"}
        )
    ct.birthday_md = month_day(ct.birthday)
    ct.mobile_key = normalize_phone(ct.mobile)
    ct.phone_key = normalize_phone(ct.phone)


@audited
def save_contact(contact: Contact, *, by) -> Contact:
    with transaction.atomic():
        customer = _lock(contact.customer)
        _require_edit(by, customer)
        _clean_contact(contact)
        has_primary = customer.contacts.filter(is_primary=True, archived_at__isnull=True).exclude(
            pk=contact.pk
        )
        if contact.is_primary:
            has_primary.update(is_primary=False)
        elif not has_primary.exists():
            contact.is_primary = True  # the first contact is the primary one
        contact.save()
        return contact


@audited
def set_primary_contact(contact: Contact, *, by) -> Contact:
    contact.is_primary = True
    return save_contact(contact, by=by)


@audited
def archive_contact(contact: Contact, *, by) -> Contact:
    """A contact who left the company: kept with its activities, no longer listed or matched by
    caller ID.  When it was the primary contact, the next active one (by name) becomes primary."""
    with transaction.atomic():
        customer = _lock(contact.customer)
        _require_edit(by, customer)
        ct = _lock(contact)
        if ct.archived_at is not None:
            return ct
        was_primary = ct.is_primary
        ct.archived_at, ct.archived_by, ct.is_primary = timezone.now(), by, False
        ct.save(update_fields=["archived_at", "archived_by", "is_primary"])
        if was_primary:
            nxt = customer.contacts.active().order_by("name", "pk").first()
            if nxt is not None:
                nxt.is_primary = True
                nxt.save(update_fields=["is_primary"])
        return ct


@audited
def restore_contact(contact: Contact, *, by) -> Contact:
    with transaction.atomic():
        customer = _lock(contact.customer)
        _require_edit(by, customer)
        ct = _lock(contact)
        if ct.archived_at is None:
            return ct
        ct.archived_at, ct.archived_by = None, None
        ct.is_primary = not customer.contacts.active().filter(is_primary=True).exists()
        ct.save(update_fields=["archived_at", "archived_by", "is_primary"])
        return ct


# --- activities and field visits ----------------------------------------------------------------


@audited
def record_activity(
    *,
    customer: Customer,
    by,
    kind,
    subject: str,
    happened_at=None,
    contact=None,
    place="",
    summary="",
    next_follow_up: date | None = None,
    field_visit: FieldVisit | None = None,
) -> Activity:
    subject = (subject or "").strip()
    if not subject:
        raise ValidationFailed(_("The subject is required."), details={"field": "subject"})
    with transaction.atomic():
        c = _lock(customer)
        # The owner, an edit share, a supervisor — or a role that serves every customer (客服).
        may = c.owner_id is not None and (
            can_edit_customer(by, c)
            or (by.data_scope == "all" and by.has_right("customers.edit") and not by.is_read_only)
        )
        if not may:
            raise PermissionDeniedError(_("You may not record activities for this customer."))
        if contact is not None and contact.customer_id != c.pk:
            raise ValidationFailed(
                _("The contact belongs to another customer."), details={"field": "contact"}
            )
        when = happened_at or timezone.now()
        if when > timezone.now() + timedelta(minutes=5):
            raise ValidationFailed(
                _("An activity cannot happen in the future."), details={"field": "happened_at"}
            )
        if next_follow_up and next_follow_up < timezone.localdate(when):
            raise ValidationFailed(
                _("The next follow-up must not be before the activity."), details={"field": "next_follow_up"}
            )
        a = Activity.objects.create(
            customer=c,
            contact=contact,
            kind=kind,
            happened_at=when,
            place=place.strip(),
            subject=subject,
            summary=(summary or "").strip(),
            next_follow_up=next_follow_up,
            author=by,
        )
        if not c.last_activity_at or when > c.last_activity_at:
            c.last_activity_at = when
            if c.status == Customer.Status.DORMANT:
                c.status = Customer.Status.SIGNED
            c.save(update_fields=["last_activity_at", "status", "updated_at"])
        if field_visit is not None:
            fv = _lock(field_visit)
            if fv.customer_id != c.pk or fv.user_id != by.pk or fv.status != FieldVisit.Status.PLANNED:
                raise ValidationFailed(
                    _("That field visit cannot be completed here."), details={"field": "field_visit"}
                )
            fv.status = FieldVisit.Status.DONE
            fv.activity = a
            fv.save(update_fields=["status", "activity"])
        return a


@audited
def comment_activity(activity: Activity, *, comment: str, by) -> Activity:
    """批复: a supervisor comments on a subordinate's activity; the author sees it."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(_("Write a comment."), details={"field": "comment"})
    with transaction.atomic():
        a = _lock(activity)
        author = a.author
        allowed = by.is_administrator or (
            by.has_right("customers.assign")
            and not by.is_read_only
            and author.pk != by.pk
            and (by.data_scope == "all" or author.department_id in by.scope_department_ids())
        )
        if not allowed:
            raise PermissionDeniedError(_("Only the author's supervisor comments on an activity."))
        a.comment = comment
        a.commented_by = by
        a.commented_at = timezone.now()
        a.comment_read_at = None
        a.save(update_fields=["comment", "commented_by", "commented_at", "comment_read_at"])
        return a


def mark_comments_read(user, *, customer: Customer | None = None) -> int:
    """The author has seen the comments on their activities (of one customer, when given)."""
    qs = Activity.objects.filter(author=user, commented_at__isnull=False, comment_read_at__isnull=True)
    if customer is not None:
        qs = qs.filter(customer=customer)
    return qs.update(comment_read_at=timezone.now())


@audited
def plan_field_visit(
    *, customer: Customer, by, planned_on: date, purpose: str, place: str = ""
) -> FieldVisit:
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationFailed(_("Say what the visit is for."), details={"field": "purpose"})
    if planned_on < timezone.localdate() - timedelta(days=7):
        raise ValidationFailed(
            _("A visit is planned for this week or later."), details={"field": "planned_on"}
        )
    with transaction.atomic():
        c = _lock(customer)
        if by.is_read_only or not can_see(by, c) or c.owner_id is None:
            raise PermissionDeniedError()
        return FieldVisit.objects.create(
            user=by, customer=c, planned_on=planned_on, purpose=purpose, place=(place or "").strip()
        )


@audited
def cancel_field_visit(visit: FieldVisit, *, by) -> FieldVisit:
    with transaction.atomic():
        v = _lock(visit)
        if v.user_id != by.pk:
            raise PermissionDeniedError()
        if v.status != FieldVisit.Status.PLANNED:
            raise IllegalTransition()
        v.status = FieldVisit.Status.CANCELLED
        v.save(update_fields=["status"])
        return v


# --- documents ----------------------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@audited
def add_document(customer: Customer, *, upload, by) -> CustomerDocument:
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ValidationFailed(_("A document may have at most 20 MB."), details={"field": "file"})
    with transaction.atomic():
        c = _lock(customer)
        _require_edit(by, c)
        name = upload.name.rsplit("/", 1)[-1][:200]
        return CustomerDocument.objects.create(
            customer=c, file=upload, name=name, size=upload.size, uploaded_by=by
        )


@audited
def remove_document(document: CustomerDocument, *, by) -> None:
    """Removes a document and, once the transaction commits, its file.  The audit log keeps who
    removed which file when."""
    with transaction.atomic():
        _lock(document.customer)
        _require_edit(by, document.customer)
        doc = _lock(document)
        storage, path = doc.file.storage, doc.file.name
        doc.delete()
        if path:
            transaction.on_commit(lambda: storage.delete(path))


# --- churn ----------------------------------------------------------------------------------------


def open_churn_cases(*, now=None) -> int:
    """Daily: a signed customer whose last order (or, before the orders module, last contact) is
    older than N months gets a churn case."""
    months = get_setting("customers.churn_months")
    now = now or timezone.now()
    cutoff = now - timedelta(days=30 * months)
    open_cases = ChurnCase.objects.filter(status__in=[ChurnCase.Status.OPEN, ChurnCase.Status.DEFERRED])
    recently_recovered = ChurnCase.objects.filter(status=ChurnCase.Status.RECOVERED, closed_at__gte=cutoff)
    candidates = (
        Customer.objects.active()
        .filter(status=Customer.Status.SIGNED)
        .exclude(pk__in=open_cases.values("customer_id"))
        .exclude(pk__in=recently_recovered.values("customer_id"))
        .filter(
            Q(last_order_at__lt=cutoff)
            | Q(last_order_at__isnull=True, last_activity_at__lt=cutoff)
            | Q(last_order_at__isnull=True, last_activity_at__isnull=True, created_at__lt=cutoff)
        )
    )
    n = 0
    for c in candidates.only("pk", "last_order_at", "last_activity_at").iterator(chunk_size=1000):
        with transaction.atomic():
            _created = ChurnCase.objects.bulk_create(
                [ChurnCase(customer_id=c.pk, last_order_at=c.last_order_at or c.last_activity_at)],
                ignore_conflicts=True,
            )
            n += 1
    return n


def _require_case_owner(by, case: ChurnCase):
    c = case.customer
    if by.is_read_only or not (c.owner_id == by.pk or is_supervisor_of(by, c)):
        raise PermissionDeniedError(_("Only the customer's owner or supervisor handles the churn case."))


@audited
def defer_churn(case: ChurnCase, *, measure: str, follow_up_on: date | None, by) -> ChurnMeasure:
    measure = (measure or "").strip()
    if not measure:
        raise ValidationFailed(_("Describe the measure."), details={"field": "measure"})
    with transaction.atomic():
        case = _lock(case)
        _require_case_owner(by, case)
        if case.status not in (ChurnCase.Status.OPEN, ChurnCase.Status.DEFERRED):
            raise IllegalTransition()
        case.status = ChurnCase.Status.DEFERRED
        case.save(update_fields=["status"])
        return ChurnMeasure.objects.create(case=case, measure=measure, follow_up_on=follow_up_on, author=by)


@audited
def confirm_churn(case: ChurnCase, *, reason, by) -> ChurnCase:
    if reason is None:
        raise ValidationFailed(_("Choose why the customer was lost."), details={"field": "reason"})
    with transaction.atomic():
        case = _lock(case)
        _require_case_owner(by, case)
        if case.status not in (ChurnCase.Status.OPEN, ChurnCase.Status.DEFERRED):
            raise IllegalTransition()
        customer = _lock(case.customer)
        case.status = ChurnCase.Status.CONFIRMED
        case.reason = reason
        case.closed_at = timezone.now()
        case.closed_by = by
        case.save(update_fields=["status", "reason", "closed_at", "closed_by"])
        customer.status = Customer.Status.LOST
        customer.save(update_fields=["status", "updated_at"])
        return case


@audited
def recover_churn(case: ChurnCase, *, by) -> ChurnCase:
    with transaction.atomic():
        case = _lock(case)
        _require_case_owner(by, case)
        if case.status not in (ChurnCase.Status.OPEN, ChurnCase.Status.DEFERRED):
            raise IllegalTransition()
        case.status = ChurnCase.Status.RECOVERED
        case.closed_at = timezone.now()
        case.closed_by = by
        case.save(update_fields=["status", "closed_at", "closed_by"])
        return case
