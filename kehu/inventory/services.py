"""Every write on inventory.  **One door for stock**: :func:`post_movements` is the only function
that changes stock.  Stock notes, transfers and stocktakes here, and later the sales shipments,
customer returns and repairs of other modules, all call it.

``post_movements(lines, *, reason, document, by, customer=None, reversal=False)``

- ``lines``: :class:`Line` items, each ``(product, warehouse, quantity, batch="", unit_cost=None,
  serials=(), from_reserved=False, production_date=None, production_line="", supplier="")``.
  ``quantity`` is signed: positive into the warehouse, negative out of it.  A serial-tracked product
  names exactly ``abs(quantity)`` serials.
- ``reason``: a :class:`~kehu.inventory.models.Reason` (purchase receipt, sales issue, customer return,
  transfer, stocktake, scrap, loan out, loan return, other receipt, other issue).
- ``document``: :class:`SourceDoc` ``(doc_type, doc_id, number)`` — the generic reference to the
  document that moved the stock (e.g. ``SourceDoc("shipment", 12, "SH202611230001")``).  Register a
  link for the type with :func:`register_source` so ledger and serial pages link back to it.
- ``customer``: who receives (sales issue, loan out) or returns (customer return) the goods.
- ``reversal``: the lines undo an earlier posting of the same reason (see :func:`reverse_note`).

In one transaction it locks the products, then the balance rows (both in primary-key order, so
concurrent postings never deadlock), checks availability (``InsufficientStock``, code
``insufficient_stock``, naming product and warehouse), validates every serial set-based (one query per
chunk of serials), writes the ledger rows, the balances, the moving-average cost and the serial units
and their history.  Any error rolls everything back: nothing is half-posted.  The database refuses a
negative balance as a last line of defence.

Serial statuses follow a table (:func:`_serial_target`): receipts create units (or revive a voided
one), issues need a unit in stock in that warehouse, customer returns need a delivered unit, and so
on; an illegal step names the serial and why.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.catalog.models import Product
from kehu.core import numbering
from kehu.core.audit import audited
from kehu.core.errors import DomainError, IllegalTransition, ValidationFailed
from kehu.core.settings_store import get_setting

from .models import (
    ISSUE_REASONS,
    RECEIPT_REASONS,
    DocStatus,
    Location,
    Reason,
    SafetyStock,
    SerialEvent,
    SerialUnit,
    StockBalance,
    StockMove,
    StockNote,
    StockNoteLine,
    Stocktake,
    StocktakeLine,
    StocktakeSerial,
    Transfer,
    TransferLine,
    Warehouse,
)
from .periods import (  # noqa: F401  (re-exported: callers know them as services)
    add_month_totals,
    close_all_periods,
    close_period,
    month_bounds,
    month_total_differences,
    period_code,
    previous_month,
    rebuild_month_totals,
    reopen_periods,
)

CENT = Decimal("0.01")
COST_Q = Decimal("0.0001")
ZERO = Decimal("0")
CHUNK = 2000
S = SerialUnit.Status


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    status = 409


class SerialError(ValidationFailed):
    code = "invalid_serials"


@dataclass
class Line:
    product: Product | int
    warehouse: Warehouse | int
    quantity: Decimal
    batch: str = ""
    unit_cost: Decimal | None = None
    serials: Sequence[str] = ()
    from_reserved: bool = False
    production_date: date | None = None
    production_line: str = ""
    supplier: str = ""


@dataclass(frozen=True)
class SourceDoc:
    doc_type: str
    doc_id: int | None
    number: str


# doc_type -> (label, callable(doc_id) -> url or None)
SOURCES: dict[str, tuple[object, object]] = {}


def register_source(doc_type: str, label, url) -> None:
    """Name a document type and how to link to it (``url(doc_id) -> str``) for the ledger pages."""
    SOURCES[doc_type] = (label, url)


def source_url(doc_type: str, doc_id) -> str | None:
    entry = SOURCES.get(doc_type)
    if not entry or doc_id is None:
        return None
    try:
        return entry[1](doc_id)
    except Exception:  # a module that is not installed
        return None


def source_label(doc_type: str):
    entry = SOURCES.get(doc_type)
    return entry[0] if entry else doc_type


# --- small helpers ------------------------------------------------------------------------------


def money(v: Decimal) -> Decimal:
    return Decimal(v).quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value, *, field: str = "quantity") -> Decimal:
    if isinstance(value, Decimal):
        d = value
    else:
        try:
            d = Decimal(str(value).strip().replace(",", ""))
        except (InvalidOperation, ValueError):
            raise ValidationFailed(
                _("“%(value)s” is not a number.") % {"value": value}, details={"field": field}
            )
    if not d.is_finite():
        raise ValidationFailed(_("“%(value)s” is not a number.") % {"value": value}, details={"field": field})
    return d


def check_quantity(
    product: Product, quantity, *, allow_zero: bool = False, field: str = "quantity"
) -> Decimal:
    """A positive quantity with no more decimals than the product's unit allows."""
    q = to_decimal(quantity, field=field)
    if q < 0 or (q == 0 and not allow_zero):
        raise ValidationFailed(
            _("The quantity of %(product)s must be greater than zero.") % {"product": product.code},
            details={"field": field, "product": product.code},
        )
    exp = -q.normalize().as_tuple().exponent if q != 0 else 0
    if exp > product.quantity_decimals:
        raise ValidationFailed(
            _("The quantity of %(product)s may have at most %(n)s decimal places.")
            % {"product": product.code, "n": product.quantity_decimals},
            details={"field": field, "product": product.code},
        )
    return q


def parse_serials(text_or_list) -> list[str]:
    """Serial numbers from pasted text (one a line; commas, semicolons and tabs also separate)."""
    if isinstance(text_or_list, str):
        items = re.split(r"[\r\n,;\t]+", text_or_list)
    else:
        items = list(text_or_list or [])
    return [s for s in (str(x).strip() for x in items) if s]


def generate_serials(prefix: str, on: date, start: int, count: int, width: int = 4) -> list[str]:
    """Serials by the rule prefix + date (yyyyMMdd) + sequence, e.g. ``SN202611230001``."""
    if count <= 0 or count > 100000:
        raise ValidationFailed(_("Generate between 1 and 100000 serial numbers."), details={"field": "count"})
    if start < 0:
        raise ValidationFailed(_("The first sequence number cannot be negative."), details={"field": "start"})
    stamp = on.strftime("%Y%m%d")
    return [f"{prefix}{stamp}{str(n).zfill(width)}" for n in range(start, start + count)]


def next_serial_start(product: Product, prefix: str, on: date, width: int = 4) -> int:
    """The first free sequence number for the generation rule (so generated serials do not collide)."""
    head = f"{prefix}{on.strftime('%Y%m%d')}"
    last = (
        SerialUnit.objects.filter(product=product, serial__startswith=head)
        .aggregate(m=Max("serial"))
        .get("m")
    )
    if not last:
        return 1
    tail = last[len(head) :]
    return int(tail) + 1 if tail.isdigit() else 1


def globally_unique() -> bool:
    return bool(get_setting("inventory.serials_globally_unique"))


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


# --- the one door -------------------------------------------------------------------------------

# What a movement may do to a serial unit: (sign, reason, reversal) -> (allowed statuses, target).
# "new" means the unit must not exist yet (or was voided by a reversal); "transit" is the middle of
# a transfer inside one posting.
_ISSUABLE = (S.IN_STOCK, S.RETURNED)


def _serial_rule(sign: int, reason: str, reversal: bool):
    if sign > 0:
        if reversal:
            back = {
                Reason.SALES_ISSUE: (S.DELIVERED,),
                Reason.OTHER_ISSUE: (S.DELIVERED,),
                Reason.LOAN_OUT: (S.LOANED,),
                Reason.SCRAP: (S.SCRAPPED,),
                Reason.STOCKTAKE: (S.LOST,),
            }
            return back.get(reason, (S.DELIVERED,)), S.IN_STOCK
        if reason == Reason.CUSTOMER_RETURN:
            return (S.DELIVERED, S.LOANED), S.RETURNED
        if reason == Reason.LOAN_RETURN:
            return (S.LOANED,), S.IN_STOCK
        if reason == Reason.TRANSFER:
            return ("transit",), S.IN_STOCK
        return ("new", S.VOIDED, S.LOST), S.IN_STOCK
    if reversal:
        target = {
            Reason.CUSTOMER_RETURN: S.DELIVERED,
            Reason.LOAN_RETURN: S.LOANED,
        }.get(reason, S.VOIDED)
        return _ISSUABLE, target
    target = {
        Reason.SALES_ISSUE: S.DELIVERED,
        Reason.OTHER_ISSUE: S.DELIVERED,
        Reason.LOAN_OUT: S.LOANED,
        Reason.SCRAP: S.SCRAPPED,
        Reason.STOCKTAKE: S.LOST,
        Reason.TRANSFER: "transit",
    }.get(reason, S.DELIVERED)
    return _ISSUABLE, target


def _status_problem(unit: SerialUnit | None, allowed, warehouse_id: int, sign: int) -> str | None:
    """Why this unit cannot make the step, or None."""
    if unit is None:
        return None if "new" in allowed else _("unknown serial number")
    status = getattr(unit, "_mem_status", unit.status)
    if status in allowed:
        if sign < 0 and unit_warehouse(unit) != warehouse_id:
            return _("in stock in another warehouse")
        return None
    if "new" in allowed:
        if status in (S.IN_STOCK, S.RETURNED, S.RESERVED, S.IN_REPAIR):
            return _("already in stock")
        if status in (S.DELIVERED, S.LOANED):
            return _("delivered to a customer")
        return _("status is %(status)s") % {"status": S(status).label if status in S.values else status}
    labels = {
        S.DELIVERED: _("delivered to a customer"),
        S.LOANED: _("on loan to a customer"),
        S.RESERVED: _("reserved"),
        S.SCRAPPED: _("scrapped"),
        S.LOST: _("lost"),
        S.VOIDED: _("not in stock"),
        S.IN_REPAIR: _("in repair"),
    }
    if status in (S.IN_STOCK, S.RETURNED):
        return _("still in stock")
    if status == "transit":
        return _("listed twice")
    return labels.get(status, _("not in stock"))


def unit_warehouse(unit: SerialUnit):
    return getattr(unit, "_mem_warehouse", unit.warehouse_id)


@audited
def post_movements(
    lines: Iterable[Line],
    *,
    reason: str,
    document: SourceDoc,
    by,
    customer=None,
    reversal: bool = False,
    at=None,
) -> list[StockMove]:
    """The only way stock changes (see the module docstring)."""
    lines = list(lines)
    if not lines:
        raise ValidationFailed(_("There is nothing to post."))
    if reason not in Reason.values:
        raise ValidationFailed(_("Unknown reason %(reason)s.") % {"reason": reason})
    now = at or timezone.now()
    today = timezone.localdate(now)
    backdated = at is not None and timezone.localdate(at).replace(day=1) < timezone.localdate().replace(day=1)
    customer_id = getattr(customer, "pk", customer)
    with transaction.atomic():
        # 1. products, locked in pk order (moving average, serial rules)
        pids = sorted({getattr(ln.product, "pk", ln.product) for ln in lines})
        products = {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=pids).order_by("pk")}
        if len(products) != len(pids):
            raise ValidationFailed(_("A product was not found; reload the page."))
        whs = {getattr(ln.warehouse, "pk", ln.warehouse) for ln in lines}
        if Warehouse.objects.filter(pk__in=whs).count() != len(whs):
            raise ValidationFailed(_("A warehouse was not found; reload the page."))
        prepared = []
        for i, ln in enumerate(lines):
            product = products[getattr(ln.product, "pk", ln.product)]
            wh_id = getattr(ln.warehouse, "pk", ln.warehouse)
            qty = to_decimal(ln.quantity)
            if qty == 0:
                raise ValidationFailed(
                    _("The quantity of %(product)s must not be zero.") % {"product": product.code},
                    details={"line": i + 1, "field": "quantity"},
                )
            check_quantity(product, abs(qty))
            serials = parse_serials(ln.serials)
            if product.is_serial:
                if qty != qty.to_integral_value():
                    raise ValidationFailed(
                        _("%(product)s is tracked by serial number: the quantity must be whole.")
                        % {"product": product.code},
                        details={"line": i + 1, "field": "quantity"},
                    )
                if len(serials) != abs(qty):
                    raise SerialError(
                        _("%(product)s: %(n)s units need %(n)s serial numbers, %(m)s given.")
                        % {"product": product.code, "n": int(abs(qty)), "m": len(serials)},
                        details={
                            "line": i + 1,
                            "field": "serials",
                            "expected": int(abs(qty)),
                            "given": len(serials),
                        },
                    )
            elif serials:
                raise SerialError(
                    _("%(product)s is not tracked by serial number.") % {"product": product.code},
                    details={"line": i + 1, "field": "serials"},
                )
            batch = (ln.batch or "").strip()
            if product.tracking == Product.Tracking.BATCH and not batch:
                raise ValidationFailed(
                    _("%(product)s is tracked by batch: name the batch.") % {"product": product.code},
                    details={"line": i + 1, "field": "batch"},
                )
            if product.is_serial and not batch and serials:
                # serial units know their batch: a line that names none follows its units' batches
                by_batch = _split_by_unit_batch(product.pk, serials)
                if len(by_batch) > 1 or "" not in by_batch:
                    sign = 1 if qty > 0 else -1
                    for b, group in by_batch.items():
                        prepared.append((i, ln, product, wh_id, Decimal(sign * len(group)), b, group))
                    continue
            prepared.append((i, ln, product, wh_id, qty, batch, serials))

        # 2. balances: make the missing rows, then lock all in pk order
        keys = {(p.pk, wh, b) for _i, _ln, p, wh, _q, b, _s in prepared}
        existing = _balances_for(keys)
        missing = keys - set(existing)
        if missing:
            StockBalance.objects.bulk_create(
                [StockBalance(product_id=p, warehouse_id=w, batch=b) for p, w, b in missing],
                ignore_conflicts=True,
            )
        locked = _balances_for(keys, lock=True)
        totals = {
            r["product_id"]: r["q"] or ZERO
            for r in StockBalance.objects.filter(product_id__in=pids)
            .values("product_id")
            .annotate(q=Sum("quantity"))
        }
        avg = {pid: p.avg_cost for pid, p in products.items()}
        avg_changed = set()

        # 3. serials: load every unit named, one query per chunk
        units = _load_units(prepared)
        serial_errors: dict[str, str] = {}
        new_units: list[SerialUnit] = []
        changed_units: dict[int, SerialUnit] = {}
        events: list[tuple[SerialUnit, int]] = []  # (unit, index of its move)
        moves: list[StockMove] = []
        seen: dict[tuple[int, str, int], int] = {}
        glob = globally_unique()
        if glob:
            foreign = _foreign_serials(prepared)
        else:
            foreign = {}

        shortage = None
        for i, ln, product, wh_id, qty, batch, serials in prepared:
            sign = 1 if qty > 0 else -1
            bal = locked[(product.pk, wh_id, batch)]
            if sign < 0:
                available = bal.quantity - (ZERO if ln.from_reserved else bal.reserved)
                if available < -qty and shortage is None:
                    wh = Warehouse.objects.get(pk=wh_id)
                    shortage = InsufficientStock(
                        _(
                            "Insufficient stock: %(product)s in %(warehouse)s has %(available)s available, "
                            "%(wanted)s wanted."
                        )
                        % {
                            "product": product.code,
                            "warehouse": wh.name,
                            "available": _fmt(available),
                            "wanted": _fmt(-qty),
                        },
                        details={
                            "line": i + 1,
                            "product": product.code,
                            "warehouse": wh.code,
                            "batch": batch,
                            "available": str(_fmt(available)),
                            "requested": str(_fmt(-qty)),
                        },
                    )
            # cost: receipts at their cost, everything else at the moving average
            if ln.unit_cost is not None:
                cost = to_decimal(ln.unit_cost, field="unit_cost")
                if cost < 0:
                    raise ValidationFailed(_("A unit cost cannot be negative."), details={"line": i + 1})
            else:
                cost = (
                    avg[product.pk] if (avg[product.pk] or totals[product.pk] > 0) else product.standard_cost
                )
            total = totals[product.pk]
            new_total = total + qty
            if new_total > 0:
                new_avg = ((total * avg[product.pk] + qty * cost) / new_total).quantize(
                    COST_Q, rounding=ROUND_HALF_UP
                )
                new_avg = max(ZERO, new_avg)
                if new_avg != avg[product.pk]:
                    avg[product.pk] = new_avg
                    avg_changed.add(product.pk)
            totals[product.pk] = new_total
            amount = money(qty * cost)
            bal.quantity += qty
            bal.value += amount
            if sign < 0 and ln.from_reserved:
                bal.reserved = max(ZERO, bal.reserved + qty)
            move = StockMove(
                product_id=product.pk,
                warehouse_id=wh_id,
                batch=batch,
                quantity=qty,
                unit_cost=cost.quantize(COST_Q, rounding=ROUND_HALF_UP),
                amount=amount,
                balance_after=bal.quantity,
                reason=reason,
                is_reversal=reversal,
                doc_type=document.doc_type,
                doc_id=document.doc_id,
                doc_number=document.number or "",
                customer_id=customer_id,
                user=by,
                created_at=now,
            )
            moves.append(move)
            mi = len(moves) - 1
            if not product.is_serial:
                continue
            allowed, target = _serial_rule(sign, reason, reversal)
            if sign < 0 and ln.from_reserved:
                allowed = allowed + (S.RESERVED,)
            for s in serials:
                key = (product.pk, s, sign)
                if key in seen:
                    serial_errors[s] = _("listed twice")
                    continue
                seen[key] = 1
                unit = units.get((product.pk, s))
                if unit is None and "new" not in allowed and s in foreign.get("any", {}):
                    serial_errors[s] = _("belongs to another product (%(code)s)") % {
                        "code": foreign["any"][s]
                    }
                    continue
                if unit is None and "new" not in allowed:
                    other = _other_product(s, product.pk)
                    serial_errors[s] = (
                        _("belongs to another product (%(code)s)") % {"code": other}
                        if other
                        else _("unknown serial number")
                    )
                    continue
                problem = _status_problem(unit, allowed, wh_id, sign)
                if problem:
                    serial_errors[s] = problem
                    continue
                if "new" in allowed and glob and s in foreign.get(product.pk, {}):
                    serial_errors[s] = _("already used by another product (%(code)s)") % {
                        "code": foreign[product.pk][s]
                    }
                    continue
                if unit is None:
                    unit = _NewUnit(
                        product_id=product.pk,
                        serial=s,
                        global_key=s if glob else None,
                        batch=batch,
                        production_date=ln.production_date,
                        production_line=ln.production_line or "",
                        supplier=ln.supplier or "",
                        received_at=now,
                    )
                    units[(product.pk, s)] = unit
                    new_units.append(unit)
                elif "new" in allowed:  # a voided or lost unit received again
                    unit.batch = batch
                    unit.production_date = ln.production_date or unit.production_date
                    unit.production_line = ln.production_line or unit.production_line
                    unit.supplier = ln.supplier or unit.supplier
                    unit.received_at = now
                    unit.customer_id = None
                _apply_target(unit, target, wh_id, customer_id, reason, reversal, today, product)
                if unit.pk is not None:
                    changed_units[unit.pk] = unit
                events.append((unit, mi))
        if serial_errors:
            bad = list(serial_errors.items())
            head = "; ".join(f"{s}: {why}" for s, why in bad[:5])
            more = len(bad) - 5
            raise SerialError(
                _("%(n)s serial numbers cannot be posted: %(list)s") % {"n": len(bad), "list": head}
                + (_(" … and %(more)s more.") % {"more": more} if more > 0 else ""),
                details={"field": "serials", "serials": dict(bad[:500]), "count": len(bad)},
            )
        if shortage is not None:
            raise shortage

        # 4. write: ledger, balances, average cost, serial units, their history
        StockMove.objects.bulk_create(moves)
        add_month_totals(moves, now)
        for bal in locked.values():
            StockBalance.objects.filter(pk=bal.pk).update(
                quantity=bal.quantity, reserved=bal.reserved, value=bal.value, updated_at=now
            )
        for pid in avg_changed:
            Product.objects.filter(pk=pid).update(avg_cost=avg[pid])
        try:
            with transaction.atomic():
                if new_units:
                    _insert_new_units(new_units, now)
                _save_changed_units(changed_units.values(), now)
        except IntegrityError:
            raise SerialError(
                _("A serial number was taken by another posting at the same moment; post again."),
                details={"field": "serials"},
            )
        if events:
            kind = ("reversal:" if reversal else "") + reason
            _insert_rows(
                SerialEvent,
                (
                    "unit_id",
                    "kind",
                    "status",
                    "warehouse_id",
                    "customer_id",
                    "move_id",
                    "doc_type",
                    "doc_id",
                    "doc_number",
                    "note",
                    "user_id",
                    "at",
                ),
                [
                    (
                        u.pk,
                        kind,
                        u.status,
                        moves[mi].warehouse_id,
                        customer_id,
                        moves[mi].pk,
                        document.doc_type,
                        document.doc_id,
                        document.number or "",
                        "",
                        getattr(by, "pk", None),
                        now,
                    )
                    for u, mi in events
                ],
            )
        if backdated:  # a movement in a closed month: that month and every later one must be closed again
            reopen_periods(timezone.localdate(now))
        # the database's constraints are the last word: make them speak now, inside this transaction
        if StockBalance.objects.filter(pk__in=[b.pk for b in locked.values()], quantity__lt=0).exists():
            raise InsufficientStock(_("Insufficient stock."))
    return moves


def _fmt(d: Decimal) -> str:
    """A quantity as people write it: 10, 2.5 (never 1E+1)."""
    d = Decimal(d)
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


class _NewUnit:
    """A serial unit about to be created: plain attributes (building ten thousand Django model
    instances costs more than writing them)."""

    pk = None
    status = S.IN_STOCK
    warehouse_id = None
    customer_id = None
    delivered_on = None
    warranty_start = None
    warranty_end = None

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


UNIT_INSERT_FIELDS = (
    "product_id",
    "serial",
    "global_key",
    "batch",
    "production_date",
    "production_line",
    "supplier",
    "status",
    "warehouse_id",
    "customer_id",
    "received_at",
    "delivered_on",
    "warranty_start",
    "warranty_end",
    "updated_at",
)


def _insert_rows(model, fields: Sequence[str], rows: list[tuple]) -> None:
    """Insert many rows: ``COPY`` on PostgreSQL, ``bulk_create`` elsewhere."""
    from django.db import connection

    if not rows:
        return
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        cols = ", ".join(
            model._meta.get_field(f.removesuffix("_id") if f.endswith("_id") and f != "doc_id" else f).column
            for f in fields
        )
        with connection.cursor() as cur, cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        return
    model.objects.bulk_create(
        [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=CHUNK
    )


def _insert_new_units(new_units: list, now) -> None:
    """Write the new serial units and give each its primary key (for the history rows)."""
    for u in new_units:
        u.updated_at = now
    _insert_rows(
        SerialUnit, UNIT_INSERT_FIELDS, [tuple(getattr(u, f) for f in UNIT_INSERT_FIELDS) for u in new_units]
    )
    by_product: dict[int, dict[str, object]] = defaultdict(dict)
    for u in new_units:
        by_product[u.product_id][u.serial] = u
    for pid, wanted in by_product.items():
        for chunk in _chunks(sorted(wanted)):
            for serial, pk in SerialUnit.objects.filter(product_id=pid, serial__in=chunk).values_list(
                "serial", "pk"
            ):
                wanted[serial].pk = pk


def _split_by_unit_batch(product_id: int, serials: list[str]) -> dict[str, list[str]]:
    known: dict[str, str] = {}
    for chunk in _chunks(sorted(set(serials))):
        known.update(
            SerialUnit.objects.filter(product_id=product_id, serial__in=chunk)
            .exclude(status=S.VOIDED)
            .values_list("serial", "batch")
        )
    out: dict[str, list[str]] = {}
    for sn in serials:
        out.setdefault(known.get(sn, ""), []).append(sn)
    return out


def _balances_for(keys, *, lock: bool = False) -> dict:
    by_product: dict[int, list] = defaultdict(list)
    for p, w, b in keys:
        by_product[p].append((w, b))
    q = Q()
    for p, pairs in by_product.items():
        for w, b in pairs:
            q |= Q(product_id=p, warehouse_id=w, batch=b)
    qs = StockBalance.objects.filter(q).order_by("pk")
    if lock:
        qs = qs.select_for_update()
    return {(b.product_id, b.warehouse_id, b.batch): b for b in qs}


def _load_units(prepared) -> dict:
    by_product: dict[int, list[str]] = defaultdict(list)
    for _i, _ln, product, _wh, _q, _b, serials in prepared:
        if product.is_serial:
            by_product[product.pk].extend(serials)
    units = {}
    for pid, serials in by_product.items():
        for chunk in _chunks(sorted(set(serials))):
            for u in SerialUnit.objects.filter(product_id=pid, serial__in=chunk):
                units[(pid, u.serial)] = u
    return units


def _foreign_serials(prepared) -> dict:
    """With globally unique serials: the serials named that exist for *another* product."""
    out: dict = {"any": {}}
    for _i, _ln, product, _wh, _q, _b, serials in prepared:
        if not product.is_serial or not serials:
            continue
        found = {}
        for chunk in _chunks(sorted(set(serials))):
            for s, code in (
                SerialUnit.objects.filter(serial__in=chunk)
                .exclude(product_id=product.pk)
                .values_list("serial", "product__code")
            ):
                found[s] = code
        out[product.pk] = found
    return out


def _other_product(serial: str, product_id: int) -> str | None:
    return (
        SerialUnit.objects.filter(serial=serial)
        .exclude(product_id=product_id)
        .values_list("product__code", flat=True)
        .first()
    )


def _apply_target(unit, target, wh_id, customer_id, reason, reversal, today, product) -> None:
    if target == "transit":
        unit._mem_status = "transit"
        unit._mem_warehouse = None
        return
    previous = getattr(unit, "_mem_status", unit.status)
    unit._mem_status = target
    unit.status = target
    if target in (S.IN_STOCK, S.RETURNED):
        unit.warehouse_id = wh_id
        unit._mem_warehouse = wh_id
        if previous in (S.DELIVERED, S.LOANED):
            if reversal and reason == Reason.SALES_ISSUE and unit.warranty_start == unit.delivered_on:
                unit.warranty_start = unit.warranty_end = None
            if reversal:
                unit.delivered_on = None
            unit.customer_id = None
    elif target in (S.DELIVERED, S.LOANED):
        unit.warehouse_id = None
        unit._mem_warehouse = None
        unit.customer_id = customer_id
        if target == S.DELIVERED:
            unit.delivered_on = today
            if unit.warranty_start is None and reason == Reason.SALES_ISSUE:
                unit.warranty_start = today
                unit.warranty_end = (
                    _add_months(today, product.warranty_months) if product.warranty_months else today
                )
    else:  # scrapped, lost, voided
        unit.warehouse_id = None
        unit._mem_warehouse = None
        if target == S.VOIDED:
            unit.customer_id = None


def _save_changed_units(units, now) -> None:
    """Set-based update: units that end in the same state are updated by one statement."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    fields = (
        "status",
        "warehouse_id",
        "customer_id",
        "delivered_on",
        "warranty_start",
        "warranty_end",
        "batch",
        "production_date",
        "production_line",
        "supplier",
        "received_at",
    )
    for u in units:
        groups[tuple(getattr(u, f) for f in fields)].append(u.pk)
    for values, pks in groups.items():
        data = dict(zip(fields, values, strict=True))
        data["updated_at"] = now
        for chunk in _chunks(pks):
            SerialUnit.objects.filter(pk__in=chunk).update(**data)


def check_serial(product: Product, serial: str, *, sign: int, reason: str, warehouse_id=None) -> str | None:
    """Why ``serial`` cannot move in a document of this kind (None when it can): the scanner and the
    paste box ask before the document is saved; posting checks again."""
    serial = (serial or "").strip()
    if not serial:
        return _("empty")
    if len(serial) > 64:
        return _("longer than 64 characters")
    if not product.is_serial:
        return _("%(product)s is not tracked by serial number") % {"product": product.code}
    allowed, _target = _serial_rule(sign, reason, False)
    unit = SerialUnit.objects.filter(product=product, serial=serial).first()
    if unit is None:
        other = _other_product(serial, product.pk)
        if "new" not in allowed:
            return (
                _("belongs to another product (%(code)s)") % {"code": other}
                if other
                else _("unknown serial number")
            )
        if other and globally_unique():
            return _("already used by another product (%(code)s)") % {"code": other}
        return None
    if sign < 0 and warehouse_id is None:
        warehouse_id = unit.warehouse_id
    return _status_problem(unit, allowed, warehouse_id, sign)


@audited
def record_serial_event(
    unit: SerialUnit,
    *,
    kind: str,
    by,
    note: str = "",
    document: SourceDoc | None = None,
    status: str | None = None,
) -> SerialEvent:
    """For later modules (repairs, service tickets): add a step to a unit's history, optionally
    changing a status that does not move stock (e.g. in_repair and back)."""
    with transaction.atomic():
        unit = SerialUnit.objects.select_for_update().get(pk=unit.pk)
        if status and status != unit.status:
            allowed = {
                S.IN_STOCK: {S.IN_REPAIR, S.RESERVED},
                S.RETURNED: {S.IN_REPAIR, S.IN_STOCK},
                S.IN_REPAIR: {S.IN_STOCK, S.RETURNED},
                S.RESERVED: {S.IN_STOCK},
            }
            if status not in allowed.get(unit.status, set()):
                raise IllegalTransition(
                    _("A unit that is %(from)s cannot become %(to)s.")
                    % {"from": unit.get_status_display(), "to": S(status).label}
                )
            unit.status = status
            unit.save(update_fields=["status", "updated_at"])
        return SerialEvent.objects.create(
            unit=unit,
            kind=kind,
            status=unit.status,
            warehouse_id=unit.warehouse_id,
            customer_id=unit.customer_id,
            doc_type=document.doc_type if document else "",
            doc_id=document.doc_id if document else None,
            doc_number=document.number if document else "",
            note=note[:200],
            user=by,
            at=timezone.now(),
        )


@audited
def reserve(
    product: Product,
    warehouse: Warehouse,
    quantity,
    *,
    by,
    batch: str = "",
    serials=(),
    release: bool = False,
) -> StockBalance:
    """Reserve (or with ``release=True`` give back) stock for an order: ``reserved`` grows, the
    available quantity shrinks; named serial units become ``reserved``."""
    qty = check_quantity(product, quantity)
    serials = parse_serials(serials)
    with transaction.atomic():
        Product.objects.select_for_update().filter(pk=product.pk).first()
        bal = (
            StockBalance.objects.select_for_update()
            .filter(product=product, warehouse=warehouse, batch=batch)
            .first()
        )
        if (
            bal is None
            or (not release and bal.quantity - bal.reserved < qty)
            or (release and bal.reserved < qty)
        ):
            raise InsufficientStock(
                _("Insufficient stock: %(product)s in %(warehouse)s.")
                % {"product": product.code, "warehouse": warehouse.name},
                details={"product": product.code, "warehouse": warehouse.code},
            )
        if product.is_serial:
            if len(serials) != qty:
                raise SerialError(_("Name one serial number per unit."), details={"field": "serials"})
            src, dst = (S.RESERVED, S.IN_STOCK) if release else (S.IN_STOCK, S.RESERVED)
            n = SerialUnit.objects.filter(
                product=product,
                warehouse=warehouse,
                serial__in=serials,
                status__in=[src] + ([] if release else [S.RETURNED]),
            ).update(status=dst, updated_at=timezone.now())
            if n != len(set(serials)):
                raise SerialError(_("Some serial numbers are not available."), details={"field": "serials"})
        bal.reserved = bal.reserved - qty if release else bal.reserved + qty
        bal.save(update_fields=["reserved", "updated_at"])
        return bal


# --- warehouses, locations, safety stock --------------------------------------------------------

WAREHOUSE_FIELDS = ("code", "name", "address", "keeper", "notes")


@audited
def save_warehouse(warehouse: Warehouse, *, by) -> Warehouse:
    warehouse.code = (warehouse.code or "").strip().upper()
    warehouse.name = (warehouse.name or "").strip()
    if not warehouse.code:
        raise ValidationFailed(_("The code is required."), details={"field": "code"})
    if not warehouse.name:
        raise ValidationFailed(_("The name is required."), details={"field": "name"})
    with transaction.atomic():
        if Warehouse.objects.filter(code=warehouse.code).exclude(pk=warehouse.pk).exists():
            raise ValidationFailed(
                _("Another warehouse has the code %(code)s.") % {"code": warehouse.code},
                details={"field": "code"},
            )
        warehouse.save()
    return warehouse


@audited
def archive_warehouse(warehouse: Warehouse, *, by) -> Warehouse:
    with transaction.atomic():
        warehouse = Warehouse.objects.select_for_update().get(pk=warehouse.pk)
        if StockBalance.objects.filter(warehouse=warehouse, quantity__gt=0).exists():
            raise DomainError(
                _("%(name)s still holds stock: move it out before archiving.") % {"name": warehouse.name},
                code="not_empty",
            )
        warehouse.archived_at = timezone.now()
        warehouse.archived_by = by
        warehouse.save(update_fields=["archived_at", "archived_by"])
    return warehouse


@audited
def restore_warehouse(warehouse: Warehouse, *, by) -> Warehouse:
    with transaction.atomic():
        warehouse.archived_at = None
        warehouse.archived_by = None
        warehouse.save(update_fields=["archived_at", "archived_by"])
    return warehouse


@audited
def add_location(warehouse: Warehouse, *, code: str, name: str = "", by) -> Location:
    code = (code or "").strip().upper()
    if not code:
        raise ValidationFailed(_("The code is required."), details={"field": "code"})
    with transaction.atomic():
        if Location.objects.filter(warehouse=warehouse, code=code).exists():
            raise ValidationFailed(
                _("The location %(code)s exists already.") % {"code": code}, details={"field": "code"}
            )
        return Location.objects.create(warehouse=warehouse, code=code, name=(name or "").strip())


@audited
def delete_location(location: Location, *, by) -> None:
    with transaction.atomic():
        location.delete()


@audited
def set_safety_stock(
    product: Product, warehouse: Warehouse, *, minimum, maximum=None, by
) -> SafetyStock | None:
    """Set (or with minimum 0 and no maximum, remove) a product's safety stock in a warehouse."""
    mn = check_quantity(product, minimum, allow_zero=True, field="minimum")
    mx = None if maximum in (None, "") else check_quantity(product, maximum, allow_zero=True, field="maximum")
    if mx is not None and mx < mn:
        raise ValidationFailed(
            _("The maximum cannot be below the safety stock."), details={"field": "maximum"}
        )
    with transaction.atomic():
        row = SafetyStock.objects.select_for_update().filter(product=product, warehouse=warehouse).first()
        if mn == 0 and mx is None:
            if row:
                row.delete()
            return None
        if row is None:
            row = SafetyStock(product=product, warehouse=warehouse)
        row.minimum, row.maximum = mn, mx
        row.save()
        return row


# --- stock notes (入库单 / 出库单) ----------------------------------------------------------------


def _clean_lines(kind: str, lines: list[dict]) -> list[dict]:
    """Validate a document's lines (the parts that do not depend on stock): product, quantity > 0 with
    the unit's decimals, serial count for serial products, cost >= 0."""
    if not lines:
        raise ValidationFailed(_("Add at least one line."), details={"field": "lines"})
    pids = {getattr(ln["product"], "pk", ln["product"]) for ln in lines}
    products = Product.objects.in_bulk(pids)
    out = []
    for i, ln in enumerate(lines, start=1):
        product = products.get(getattr(ln["product"], "pk", ln["product"]))
        if product is None:
            raise ValidationFailed(
                _("Line %(n)s: choose a product.") % {"n": i}, details={"line": i, "field": "product"}
            )
        try:
            qty = check_quantity(product, ln.get("quantity"))
        except ValidationFailed as exc:
            raise ValidationFailed(
                _("Line %(n)s: %(msg)s") % {"n": i, "msg": exc.message}, details={"line": i, **exc.details}
            )
        serials = parse_serials(ln.get("serials") or "")
        if serials and not product.is_serial:
            raise ValidationFailed(
                _("Line %(n)s: %(product)s is not tracked by serial number.")
                % {"n": i, "product": product.code},
                details={"line": i, "field": "serials"},
            )
        if product.is_serial and qty != qty.to_integral_value():
            raise ValidationFailed(
                _("Line %(n)s: serial-tracked products move in whole units.") % {"n": i},
                details={"line": i, "field": "quantity"},
            )
        if len(serials) != len(set(serials)):
            dup = sorted({s for s in serials if serials.count(s) > 1})[:5] if len(serials) < 5000 else []
            raise SerialError(
                _("Line %(n)s: serial numbers listed twice: %(list)s")
                % {"n": i, "list": ", ".join(dup) or "…"},
                details={"line": i, "field": "serials", "serials": {s: _("listed twice") for s in dup}},
            )
        cost = ln.get("unit_cost")
        if cost not in (None, ""):
            cost = to_decimal(cost, field="unit_cost")
            if cost < 0:
                raise ValidationFailed(
                    _("Line %(n)s: the unit cost cannot be negative.") % {"n": i},
                    details={"line": i, "field": "unit_cost"},
                )
        else:
            cost = None
        out.append(
            {
                "product": product,
                "batch": (ln.get("batch") or "").strip(),
                "quantity": qty,
                "unit_cost": cost,
                "production_date": ln.get("production_date") or None,
                "production_line": (ln.get("production_line") or "").strip(),
                "serials": "\n".join(serials),
            }
        )
    return out


def _check_reason(kind: str, reason: str) -> None:
    allowed = RECEIPT_REASONS if kind == StockNote.Kind.RECEIPT else ISSUE_REASONS
    if reason not in allowed:
        raise ValidationFailed(_("This reason does not fit the note."), details={"field": "reason"})


@audited
def create_note(
    *,
    kind: str,
    warehouse: Warehouse,
    reason: str,
    lines: list[dict],
    by,
    partner: str = "",
    customer=None,
    notes: str = "",
) -> StockNote:
    if kind not in StockNote.Kind.values:
        raise ValidationFailed(_("Unknown kind of note."), details={"field": "kind"})
    _check_reason(kind, reason)
    _check_warehouse(warehouse)
    cleaned = _clean_lines(kind, lines)
    with transaction.atomic():
        note = StockNote.objects.create(
            kind=kind,
            number=numbering.next_number(
                "goods_receipt" if kind == StockNote.Kind.RECEIPT else "goods_issue"
            ),
            warehouse=warehouse,
            reason=reason,
            partner=(partner or "").strip(),
            customer=customer,
            notes=notes or "",
            created_by=by,
        )
        StockNoteLine.objects.bulk_create([StockNoteLine(note=note, **c) for c in cleaned])
    return note


def _check_warehouse(warehouse) -> None:
    if warehouse is None:
        raise ValidationFailed(_("Choose a warehouse."), details={"field": "warehouse"})
    if warehouse.is_archived:
        raise ValidationFailed(_("The warehouse is archived."), details={"field": "warehouse"})


def _lock_draft(model, pk):
    obj = model.objects.select_for_update().get(pk=pk)
    if obj.status != DocStatus.DRAFT:
        raise IllegalTransition(
            _("%(number)s is %(status)s and cannot be changed.")
            % {"number": obj.number, "status": obj.get_status_display()},
            code="not_draft",
        )
    return obj


@audited
def update_note(
    note: StockNote,
    *,
    warehouse: Warehouse,
    reason: str,
    lines: list[dict],
    by,
    partner: str = "",
    customer=None,
    notes: str = "",
) -> StockNote:
    _check_reason(note.kind, reason)
    _check_warehouse(warehouse)
    cleaned = _clean_lines(note.kind, lines)
    with transaction.atomic():
        note = _lock_draft(StockNote, note.pk)
        note.warehouse, note.reason, note.partner, note.customer, note.notes = (
            warehouse,
            reason,
            (partner or "").strip(),
            customer,
            notes or "",
        )
        note.save()
        note.lines.all().delete()
        StockNoteLine.objects.bulk_create([StockNoteLine(note=note, **c) for c in cleaned])
    return note


@audited
def cancel_note(note: StockNote, *, by) -> StockNote:
    with transaction.atomic():
        note = _lock_draft(StockNote, note.pk)
        note.status = DocStatus.CANCELLED
        note.save(update_fields=["status"])
    return note


@audited
def post_note(note: StockNote, *, by, at=None) -> StockNote:
    """Post a draft note: all its lines move at once, or nothing does."""
    with transaction.atomic():
        note = _lock_draft(StockNote, note.pk)
        lines = list(note.lines.select_related("product"))
        if not lines:
            raise ValidationFailed(_("Add at least one line."), details={"field": "lines"})
        sign = note.sign
        post_movements(
            [
                Line(
                    product=ln.product,
                    warehouse=note.warehouse_id,
                    quantity=sign * ln.quantity,
                    batch=ln.batch,
                    unit_cost=ln.unit_cost if sign > 0 else None,
                    serials=ln.serial_list,
                    production_date=ln.production_date,
                    production_line=ln.production_line,
                    supplier=note.partner if sign > 0 else "",
                )
                for ln in lines
            ],
            reason=note.reason,
            document=SourceDoc(note.doc_type, note.pk, note.number),
            by=by,
            customer=note.customer_id,
            reversal=note.reverses_id is not None,
            at=at,
        )
        note.status = DocStatus.POSTED
        note.posted_by = by
        note.posted_at = at or timezone.now()
        note.save(update_fields=["status", "posted_by", "posted_at"])
    return note


@audited
def reverse_note(note: StockNote, *, by) -> StockNote:
    """Undo a posted note with a reversal note of the opposite kind: the same products, quantities,
    costs and serials, posted at once.  The original becomes "reversed"."""
    with transaction.atomic():
        note = StockNote.objects.select_for_update().get(pk=note.pk)
        if note.status != DocStatus.POSTED:
            raise IllegalTransition(_("Only a posted note can be reversed."), code="not_posted")
        if note.reverses_id:
            raise IllegalTransition(_("A reversal note cannot be reversed."), code="is_reversal")
        moves = list(StockMove.objects.filter(doc_type=note.doc_type, doc_id=note.pk).order_by("pk"))
        serials_by_move: dict[int, list[str]] = defaultdict(list)
        for move_id, serial in SerialEvent.objects.filter(move_id__in=[m.pk for m in moves]).values_list(
            "move_id", "unit__serial"
        ):
            serials_by_move[move_id].append(serial)
        kind = StockNote.Kind.ISSUE if note.kind == StockNote.Kind.RECEIPT else StockNote.Kind.RECEIPT
        rev = StockNote.objects.create(
            kind=kind,
            number=numbering.next_number(
                "goods_receipt" if kind == StockNote.Kind.RECEIPT else "goods_issue"
            ),
            warehouse=note.warehouse,
            reason=note.reason,
            partner=note.partner,
            customer=note.customer,
            notes=_("Reversal of %(number)s") % {"number": note.number},
            reverses=note,
            created_by=by,
        )
        StockNoteLine.objects.bulk_create(
            [
                StockNoteLine(
                    note=rev,
                    product_id=m.product_id,
                    batch=m.batch,
                    quantity=abs(m.quantity),
                    unit_cost=m.unit_cost,
                    serials="\n".join(serials_by_move.get(m.pk, [])),
                )
                for m in moves
            ]
        )
        post_movements(
            [
                Line(
                    product=m.product_id,
                    warehouse=m.warehouse_id,
                    quantity=-m.quantity,
                    batch=m.batch,
                    unit_cost=m.unit_cost,
                    serials=serials_by_move.get(m.pk, []),
                )
                for m in moves
            ],
            reason=note.reason,
            document=SourceDoc(rev.doc_type, rev.pk, rev.number),
            by=by,
            customer=note.customer_id,
            reversal=True,
        )
        rev.status = DocStatus.POSTED
        rev.posted_by, rev.posted_at = by, timezone.now()
        rev.save(update_fields=["status", "posted_by", "posted_at"])
        note.status = DocStatus.REVERSED
        note.save(update_fields=["status"])
    return rev


# --- transfers (调拨) ---------------------------------------------------------------------------


def _check_transfer(from_wh, to_wh) -> None:
    _check_warehouse(from_wh)
    _check_warehouse(to_wh)
    if from_wh.pk == to_wh.pk:
        raise ValidationFailed(
            _("A transfer needs two different warehouses."),
            details={"field": "to_warehouse"},
            code="same_warehouse",
        )


@audited
def create_transfer(*, from_warehouse, to_warehouse, lines: list[dict], by, notes: str = "") -> Transfer:
    _check_transfer(from_warehouse, to_warehouse)
    cleaned = _clean_lines("transfer", lines)
    with transaction.atomic():
        tr = Transfer.objects.create(
            number=numbering.next_number("transfer"),
            from_warehouse=from_warehouse,
            to_warehouse=to_warehouse,
            notes=notes or "",
            created_by=by,
        )
        TransferLine.objects.bulk_create(
            [
                TransferLine(
                    transfer=tr,
                    product=c["product"],
                    batch=c["batch"],
                    quantity=c["quantity"],
                    serials=c["serials"],
                )
                for c in cleaned
            ]
        )
    return tr


@audited
def update_transfer(
    transfer: Transfer, *, from_warehouse, to_warehouse, lines: list[dict], by, notes: str = ""
) -> Transfer:
    _check_transfer(from_warehouse, to_warehouse)
    cleaned = _clean_lines("transfer", lines)
    with transaction.atomic():
        tr = _lock_draft(Transfer, transfer.pk)
        tr.from_warehouse, tr.to_warehouse, tr.notes = from_warehouse, to_warehouse, notes or ""
        tr.save()
        tr.lines.all().delete()
        TransferLine.objects.bulk_create(
            [
                TransferLine(
                    transfer=tr,
                    product=c["product"],
                    batch=c["batch"],
                    quantity=c["quantity"],
                    serials=c["serials"],
                )
                for c in cleaned
            ]
        )
    return tr


@audited
def cancel_transfer(transfer: Transfer, *, by) -> Transfer:
    with transaction.atomic():
        tr = _lock_draft(Transfer, transfer.pk)
        tr.status = DocStatus.CANCELLED
        tr.save(update_fields=["status"])
    return tr


@audited
def post_transfer(transfer: Transfer, *, by, at=None) -> Transfer:
    """Both sides in one posting: out of the source, into the destination, at the moving average."""
    with transaction.atomic():
        tr = _lock_draft(Transfer, transfer.pk)
        if tr.from_warehouse_id == tr.to_warehouse_id:
            raise ValidationFailed(_("A transfer needs two different warehouses."), code="same_warehouse")
        lines = list(tr.lines.select_related("product"))
        if not lines:
            raise ValidationFailed(_("Add at least one line."), details={"field": "lines"})
        out = [
            Line(ln.product, tr.from_warehouse_id, -ln.quantity, batch=ln.batch, serials=ln.serial_list)
            for ln in lines
        ]
        into = [
            Line(ln.product, tr.to_warehouse_id, ln.quantity, batch=ln.batch, serials=ln.serial_list)
            for ln in lines
        ]
        post_movements(
            out + into, reason=Reason.TRANSFER, document=SourceDoc("transfer", tr.pk, tr.number), by=by, at=at
        )
        tr.status = DocStatus.POSTED
        tr.posted_by, tr.posted_at = by, at or timezone.now()
        tr.save(update_fields=["status", "posted_by", "posted_at"])
    return tr


# --- stocktakes (盘点) --------------------------------------------------------------------------


@audited
def start_stocktake(*, warehouse: Warehouse, by, category=None, notes: str = "") -> Stocktake:
    """Freeze the book: one line per product × batch with stock in the warehouse (of the category and
    its sub-categories), plus the serial units in stock there."""
    _check_warehouse(warehouse)
    with transaction.atomic():
        # lock the warehouse's balances so the snapshot and the ledger position agree
        balances = StockBalance.objects.select_for_update().filter(warehouse=warehouse).order_by("pk")
        if category is not None:
            balances = balances.filter(
                product_id__in=Product.objects.filter(category_id__in=_category_tree(category))
            )
        balances = list(balances)
        last = StockMove.objects.aggregate(m=Max("id"))["m"] or 0
        st = Stocktake.objects.create(
            number=numbering.next_number("stocktake"),
            warehouse=warehouse,
            category=category,
            snapshot_move_id=last,
            frozen_at=timezone.now(),
            notes=notes or "",
            created_by=by,
        )
        StocktakeLine.objects.bulk_create(
            [
                StocktakeLine(stocktake=st, product_id=b.product_id, batch=b.batch, book_quantity=b.quantity)
                for b in balances
                if b.quantity  # rows that went to zero stay out; an import may still count them
            ]
        )
        units = SerialUnit.objects.filter(
            warehouse=warehouse, status__in=[S.IN_STOCK, S.RETURNED, S.RESERVED]
        )
        if category is not None:
            units = units.filter(product__category_id__in=_category_tree(category))
        StocktakeSerial.objects.bulk_create(
            [
                StocktakeSerial(stocktake=st, product_id=pid, serial=s, unit_id=uid, in_book=True)
                for uid, pid, s in units.values_list("pk", "product_id", "serial").iterator(chunk_size=CHUNK)
            ],
            batch_size=CHUNK,
        )
    return st


def _category_tree(category) -> list[int]:
    from kehu.catalog.models import Category

    ids, frontier = {category.pk}, [category.pk]
    while frontier:
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        frontier = [c for c in frontier if c not in ids]
        ids.update(frontier)
    return list(ids)


def _moved_since(st: Stocktake, keys: list[tuple[int, str]]) -> dict:
    if not keys:
        return {}
    # by product (one IN list, not an OR per key: an import sends hundreds of keys), then the batches
    wanted = set(keys)
    rows = (
        StockMove.objects.filter(
            product_id__in={pid for pid, _b in wanted},
            warehouse_id=st.warehouse_id,
            id__gt=st.snapshot_move_id,
        )
        .values("product_id", "batch")
        .annotate(s=Sum("quantity"))
    )
    return {
        (r["product_id"], r["batch"]): r["s"] or ZERO for r in rows if (r["product_id"], r["batch"]) in wanted
    }


def require_counting(st: Stocktake) -> None:
    """409 ``not_counting`` unless the stocktake still takes counts (also a check before a job)."""
    if st.status != Stocktake.Status.COUNTING:
        raise IllegalTransition(
            _("%(number)s is %(status)s: counts can no longer change.")
            % {"number": st.number, "status": st.get_status_display()},
            code="not_counting",
        )


def _lock_counting(pk) -> Stocktake:
    st = Stocktake.objects.select_for_update().get(pk=pk)
    require_counting(st)
    return st


def check_counts(counts: list[dict]) -> tuple[list[tuple[Product, str, Decimal]], list[tuple[int, str]]]:
    """The rules of a count, every row checked and nothing written: ``(cleaned, problems)``, cleaned as
    ``(product, batch, quantity)`` and problems as ``(row, message)``.  A row is numbered by its
    ``"row"`` (an import passes the file's row number) or else its place in ``counts`` from 1."""
    pids = {getattr(c["product"], "pk", c["product"]) for c in counts}
    products = Product.objects.in_bulk(pids)
    cleaned, problems = [], []
    for i, c in enumerate(counts, start=1):
        n = c.get("row") or i
        product = products.get(getattr(c["product"], "pk", c["product"]))
        if product is None:
            problems.append((n, _("Row %(n)s: unknown product.") % {"n": n}))
            continue
        if product.is_serial:
            problems.append(
                (
                    n,
                    _("Row %(n)s: %(product)s is counted by scanning its serial numbers.")
                    % {"n": n, "product": product.code},
                )
            )
            continue
        try:
            qty = check_quantity(product, c.get("quantity"), allow_zero=True)
        except ValidationFailed as exc:
            problems.append((n, _("Row %(n)s: %(msg)s") % {"n": n, "msg": exc.message}))
            continue
        cleaned.append((product, (c.get("batch") or "").strip(), qty))
    return cleaned, problems


@audited
def enter_counts(stocktake: Stocktake, counts: list[dict], *, by) -> int:
    """Record counted quantities: ``[{"product": id|Product, "batch": "", "quantity": q}]``.  Each count
    also records the movements posted since the snapshot (they are part of what the counter saw).
    A product not in the snapshot gets a line of its own (book quantity 0).  All or nothing: the
    first bad row (:func:`check_counts`) refuses the whole list.  Returns lines changed."""
    with transaction.atomic():
        st = _lock_counting(stocktake.pk)
        cleaned, problems = check_counts(counts)
        if problems:
            row, message = problems[0]
            raise ValidationFailed(message, details={"row": row})
        pids = {p.pk for p, _b, _q in cleaned}
        lines = {(ln.product_id, ln.batch): ln for ln in st.lines.filter(product_id__in=pids)}
        moved = _moved_since(st, [(p.pk, b) for p, b, _q in cleaned])
        now = timezone.now()
        latest = {(p.pk, b): q for p, b, q in cleaned}  # a product and batch counted twice: the last count
        new, changed = [], []
        for (pid, batch), qty in latest.items():
            ln = lines.get((pid, batch))
            if ln is None:
                ln = StocktakeLine(stocktake=st, product_id=pid, batch=batch, book_quantity=ZERO)
                new.append(ln)
            else:
                changed.append(ln)
            ln.counted_quantity = qty
            ln.moved_quantity = moved.get((pid, batch), ZERO)
            ln.counted_at = now
        # lines are not audited (the stocktake is): a sheet of thousands of counts in a few queries
        StocktakeLine.objects.bulk_create(new, batch_size=500)
        StocktakeLine.objects.bulk_update(
            changed, ["counted_quantity", "moved_quantity", "counted_at"], batch_size=500
        )
        return len(cleaned)


def check_stocktake_serial(stocktake: Stocktake, serial: str) -> tuple[bool, str, SerialUnit | None]:
    """Can this serial be counted in this stocktake?  (ok, message, unit)"""
    serial = (serial or "").strip()
    if not serial:
        return False, _("empty"), None
    units = list(SerialUnit.objects.filter(serial=serial).select_related("product", "warehouse")[:5])
    if not units:
        return False, _("unknown serial number"), None
    here = [
        u
        for u in units
        if u.warehouse_id == stocktake.warehouse_id and u.status in (S.IN_STOCK, S.RETURNED, S.RESERVED)
    ]
    if here:
        return True, here[0].product.code, here[0]
    u = units[0]
    where = u.warehouse.name if u.warehouse else (u.get_status_display())
    return False, _("not in this warehouse's stock (%(where)s)") % {"where": where}, u


@audited
def count_serials(stocktake: Stocktake, serials, *, by) -> dict:
    """Mark scanned serials as counted.  Unknown serials or units of another warehouse are refused
    (all of them are reported; the valid ones are counted)."""
    serials = parse_serials(serials)
    with transaction.atomic():
        st = _lock_counting(stocktake.pk)
        rows = {}
        for chunk in _chunks(sorted(set(serials))):
            for row in StocktakeSerial.objects.filter(stocktake=st, serial__in=chunk):
                rows[row.serial] = row
        errors, counted, repeated = {}, 0, 0
        for s in dict.fromkeys(serials):
            row = rows.get(s)
            if row is None:
                ok, msg, unit = check_stocktake_serial(st, s)
                if not ok:
                    errors[s] = msg
                    continue
                row = StocktakeSerial.objects.create(
                    stocktake=st, product=unit.product, serial=s, unit=unit, in_book=False
                )
            if row.counted:
                repeated += 1
                continue
            row.counted = True
            row.save(update_fields=["counted"])
            counted += 1
        return {"counted": counted, "repeated": repeated, "errors": errors}


@audited
def post_stocktake(stocktake: Stocktake, *, by) -> list[StockMove]:
    """Post the variances as stocktake adjustments.  Quantity lines: variance = counted − (book at the
    snapshot + movements between the snapshot and the count).  Serial units in the book and still in
    the warehouse but not scanned are lost; uncounted quantity lines are left as they are."""
    with transaction.atomic():
        st = _lock_counting(stocktake.pk)
        lines = []
        for ln in st.lines.select_related("product"):
            if ln.product.is_serial or ln.counted_quantity is None:
                continue
            var = ln.variance
            if var:
                lines.append(Line(ln.product, st.warehouse_id, var, batch=ln.batch))
        missing = (
            StocktakeSerial.objects.filter(stocktake=st, in_book=True, counted=False)
            .filter(unit__warehouse_id=st.warehouse_id, unit__status__in=[S.IN_STOCK, S.RETURNED])
            .values_list("product_id", "unit__batch", "serial")
        )
        lost: dict[tuple[int, str], list[str]] = defaultdict(list)
        for pid, batch, s in missing:
            lost[(pid, batch)].append(s)
        for (pid, batch), serials in lost.items():
            lines.append(Line(pid, st.warehouse_id, -Decimal(len(serials)), batch=batch, serials=serials))
        moves = []
        if lines:
            moves = post_movements(
                lines, reason=Reason.STOCKTAKE, document=SourceDoc("stocktake", st.pk, st.number), by=by
            )
        st.status = Stocktake.Status.POSTED
        st.posted_by, st.posted_at = by, timezone.now()
        st.save(update_fields=["status", "posted_by", "posted_at"])
    return moves


@audited
def cancel_stocktake(stocktake: Stocktake, *, by) -> Stocktake:
    with transaction.atomic():
        st = _lock_counting(stocktake.pk)
        st.status = Stocktake.Status.CANCELLED
        st.save(update_fields=["status"])
    return st


# --- checks ---------------------------------------------------------------------------------------


def check_stock() -> list[dict]:
    """Recompute every balance from the ledger and list the differences (there must be none):
    ``[{"product", "warehouse", "batch", "balance", "ledger", "value", "ledger_value"}]``."""
    ledger = {
        (r["product_id"], r["warehouse_id"], r["batch"]): (r["q"], r["v"])
        for r in StockMove.objects.order_by()
        .values("product_id", "warehouse_id", "batch")
        .annotate(q=Sum("quantity"), v=Sum("amount"))
    }
    diffs = []
    seen = set()
    for b in (
        StockBalance.objects.order_by("pk")
        .values("product_id", "warehouse_id", "batch", "quantity", "value")
        .iterator(chunk_size=CHUNK)
    ):
        key = (b["product_id"], b["warehouse_id"], b["batch"])
        seen.add(key)
        q, v = ledger.get(key, (ZERO, ZERO))
        if b["quantity"] != q or b["value"] != v:
            diffs.append(
                {
                    "product": key[0],
                    "warehouse": key[1],
                    "batch": key[2],
                    "balance": b["quantity"],
                    "ledger": q,
                    "value": b["value"],
                    "ledger_value": v,
                }
            )
    for key, (q, v) in ledger.items():
        if key not in seen:
            diffs.append(
                {
                    "product": key[0],
                    "warehouse": key[1],
                    "batch": key[2],
                    "balance": None,
                    "ledger": q,
                    "value": None,
                    "ledger_value": v,
                }
            )
    return diffs


def serial_differences() -> list[dict]:
    """Serial-tracked balances whose quantity differs from the number of units in stock there."""
    from django.db.models import Count

    units = {
        (r["product_id"], r["warehouse_id"], r["batch"]): r["n"]
        for r in SerialUnit.objects.filter(
            status__in=[S.IN_STOCK, S.RETURNED, S.RESERVED, S.IN_REPAIR], warehouse__isnull=False
        )
        .order_by()
        .values("product_id", "warehouse_id", "batch")
        .annotate(n=Count("id"))
    }
    out = []
    serial_products = set(
        Product.objects.filter(tracking=Product.Tracking.SERIAL).values_list("pk", flat=True)
    )
    for b in StockBalance.objects.filter(product_id__in=serial_products).values(
        "product_id", "warehouse_id", "batch", "quantity"
    ):
        key = (b["product_id"], b["warehouse_id"], b["batch"])
        n = units.pop(key, 0)
        if b["quantity"] != n:
            out.append(
                {
                    "product": key[0],
                    "warehouse": key[1],
                    "batch": key[2],
                    "balance": b["quantity"],
                    "units": n,
                }
            )
    for key, n in units.items():
        out.append({"product": key[0], "warehouse": key[1], "batch": key[2], "balance": None, "units": n})
    return out


__all__ = [
    "Line",
    "SourceDoc",
    "InsufficientStock",
    "SerialError",
    "post_movements",
    "register_source",
    "record_serial_event",
    "reserve",
    "check_serial",
]
