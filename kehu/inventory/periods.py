"""Months of the stock ledger: the month totals that :func:`~kehu.inventory.services.post_movements`
keeps, the figures of the 收发存 summary drawn from them, and the month closing (月结).

Three stores answer "what happened in month M":

- the ledger (``StockMove``): every row, the truth;
- :class:`~kehu.inventory.models.StockMonthTotal`: per month × product × warehouse, the quantities and
  values received (rows with a positive quantity) and issued (negative), added to in the same
  transaction as the ledger rows, so they never disagree (``kehu check-stock`` proves it);
- :class:`~kehu.inventory.models.StockPeriodBalance` of a closed month (:func:`close_period`): its
  closing stock and its in and out, frozen.

:func:`month_figures` reads the month's in and out from its totals and finds its closing from the
nearer of two known points: forward from the last closed month before it (its stored closing plus the
net totals of the months in between), or backward from the current balances (minus the net totals of
every later month).  Either way it reads at most a few rows per product × warehouse and month, never
the ledger, so its cost does not grow with the number of movements.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed

from .models import StockBalance, StockMonthTotal, StockMove, StockPeriod, StockPeriodBalance

ZERO = Decimal("0")
FIELDS = ("received", "received_value", "issued", "issued_value")


def period_code(year: int, month: int) -> str:
    return f"{year:04d}{month:02d}"


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _sql_bounds(year: int, month: int) -> list:
    """:func:`month_bounds` as parameters of a raw query (SQLite stores UTC text)."""
    return [connection.ops.adapt_datetimefield_value(t) for t in month_bounds(year, month)]


def month_bounds(year: int, month: int):
    """The first instant of the month and of the next one, in the company's time zone."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime(year, month, 1), tz)
    end = timezone.make_aware(datetime(year + (month == 12), month % 12 + 1, 1), tz)
    return start, end


def _months_between(a: str, b: str) -> int:
    return (int(b[:4]) - int(a[:4])) * 12 + int(b[4:]) - int(a[4:])


# --- the month totals ---------------------------------------------------------------------------


def add_month_totals(moves, at) -> None:
    """Add ledger rows just written (in the caller's transaction) to their month's totals: one
    upsert per product × warehouse, in key order.  Every posting has locked its products first, so two
    postings that share a total row are already serialised and never deadlock here."""
    code = period_code(timezone.localdate(at).year, timezone.localdate(at).month)
    sums: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])
    for m in moves:
        s = sums[(m.product_id, m.warehouse_id)]
        if m.quantity > 0:
            s[0] += m.quantity
            s[1] += m.amount
        else:
            s[2] -= m.quantity
            s[3] -= m.amount
    if not sums:
        return
    t = StockMonthTotal._meta.db_table
    keys = sorted(sums)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        params = [x for k in chunk for x in (code, k[0], k[1], *sums[k])]
        with connection.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO {t} (period, product_id, warehouse_id, {", ".join(FIELDS)})
                VALUES {values}
                ON CONFLICT (period, product_id, warehouse_id) DO UPDATE SET
                """
                + ", ".join(f"{f} = {t}.{f} + excluded.{f}" for f in FIELDS),
                params,
            )


def _ledger_months() -> list[tuple[int, int]]:
    """Every month from the first ledger row's to the last one's."""
    first_last = StockMove.objects.order_by("created_at").values_list("created_at", flat=True)
    first = first_last.first()
    if first is None:
        return []
    last = first_last.reverse().first()
    d, end = timezone.localdate(first).replace(day=1), timezone.localdate(last).replace(day=1)
    out = []
    while d <= end:
        out.append((d.year, d.month))
        d = (d + timedelta(days=32)).replace(day=1)
    return out


def _ledger_month_sql(select_period: bool = True) -> str:
    m = StockMove._meta.db_table
    return f"""
        SELECT {"%s, " if select_period else ""}product_id, warehouse_id,
            SUM(CASE WHEN quantity > 0 THEN quantity ELSE 0 END),
            SUM(CASE WHEN quantity > 0 THEN amount ELSE 0 END),
            SUM(CASE WHEN quantity < 0 THEN -quantity ELSE 0 END),
            SUM(CASE WHEN quantity < 0 THEN -amount ELSE 0 END)
        FROM {m} WHERE created_at >= %s AND created_at < %s
        GROUP BY product_id, warehouse_id
    """


def rebuild_month_totals() -> int:
    """Recompute every month's totals from the ledger (after rows were loaded around
    :func:`post_movements`, e.g. a restore or a bulk load).  Returns the rows written."""
    t = StockMonthTotal._meta.db_table
    n = 0
    with transaction.atomic():
        StockMonthTotal.objects.all().delete()
        for y, mo in _ledger_months():
            with connection.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {t} (period, product_id, warehouse_id, {', '.join(FIELDS)}) "
                    + _ledger_month_sql(),
                    [period_code(y, mo), *_sql_bounds(y, mo)],
                )
                n += cur.rowcount
    return n


def month_total_differences() -> list[dict]:
    """Month totals that differ from their ledger rows (there must be none):
    ``[{"period", "product", "warehouse", "totals", "ledger"}]``, each figure a tuple of received,
    received value, issued, issued value (``None`` where a row is missing)."""
    stored: dict[tuple, tuple] = defaultdict(lambda: None)
    for r in StockMonthTotal.objects.values_list("period", "product_id", "warehouse_id", *FIELDS):
        stored[r[:3]] = tuple(r[3:])
    diffs = []
    for y, mo in _ledger_months():
        code = period_code(y, mo)
        with connection.cursor() as cur:
            cur.execute(_ledger_month_sql(select_period=False), _sql_bounds(y, mo))
            for pid, wid, *figures in cur.fetchall():
                key = (code, pid, wid)
                ledger = _figures(figures)
                have = stored.pop(key, None)
                if have != ledger and not (have is None and not any(ledger)):
                    diffs.append(
                        {"period": code, "product": pid, "warehouse": wid, "totals": have, "ledger": ledger}
                    )
    for key, have in stored.items():
        if have is not None and any(have):
            diffs.append(
                {"period": key[0], "product": key[1], "warehouse": key[2], "totals": have, "ledger": None}
            )
    return diffs


_QTY, _MONEY = Decimal("0.0001"), Decimal("0.01")


def _dec(v, places: Decimal = _QTY) -> Decimal:
    if v is None:
        return ZERO
    if isinstance(v, Decimal):  # PostgreSQL: numeric sums keep the column's scale
        return v
    return Decimal(str(v)).quantize(places)  # SQLite hands back floats or integers


def _figures(row) -> tuple:
    """Quantities and values alternate: quantity, value, quantity, value…"""
    return tuple(_dec(x, _MONEY if i % 2 else _QTY) for i, x in enumerate(row))


# --- the figures of a month ---------------------------------------------------------------------


def month_figures(year: int, month: int, *, warehouse_id=None, product_ids=None) -> list[tuple]:
    """Per product × warehouse with anything to show, ``(product_id, warehouse_id, closing quantity,
    closing value, received, received value, issued, issued value)`` of one month (opening = closing −
    received + issued).  A closed month answers from its stored figures; any other month from the
    month totals and the nearer known point (see the module docstring).  One query."""
    sql, params = _figures_query(year, month, warehouse_id=warehouse_id, product_ids=product_ids)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        if connection.vendor == "postgresql":  # numeric sums arrive as Decimals with the column's scale
            return cur.fetchall()
        return [(pid, wid, *_figures(figures)) for pid, wid, *figures in cur.fetchall()]


def _figures_query(year: int, month: int, *, warehouse_id=None, product_ids=None) -> tuple[str, list]:
    where, params_w = "", []
    if warehouse_id:
        where += " AND warehouse_id = %s"
        params_w.append(int(warehouse_id))
    if product_ids is not None:
        ids = [int(p) for p in product_ids] or [0]
        where += f" AND product_id IN ({','.join(['%s'] * len(ids))})"
        params_w += ids
    this = period_code(year, month)
    t, p, b = StockMonthTotal._meta.db_table, StockPeriodBalance._meta.db_table, StockBalance._meta.db_table
    closed = StockPeriod.objects.filter(period__lte=this).order_by("-period").values_list("period", flat=True)
    closed = closed.first()
    if closed == this:
        sql = f"""
            SELECT product_id, warehouse_id, quantity, value, received, received_value, issued, issued_value
            FROM {p} WHERE period = %s {where}
        """
        return sql, [this, *params_w]
    today = timezone.localdate()
    now = period_code(today.year, today.month)
    if closed and _months_between(closed, this) <= _months_between(this, now) + 1:
        # forward: the stored closing of the last closed month, plus the net of the months after it,
        # this one included
        base = f"SELECT product_id, warehouse_id, quantity AS q, value AS v FROM {p} WHERE period = %s{where}"
        base_params = [closed, *params_w]
        net = f"""
            SELECT product_id, warehouse_id, SUM(received - issued) AS q,
                SUM(received_value - issued_value) AS v
            FROM {t} WHERE period > %s AND period <= %s {where} GROUP BY product_id, warehouse_id
        """
        net_params = [closed, this, *params_w]
    else:
        # backward: the balances now, minus the net of every month after this one
        base = f"""
            SELECT product_id, warehouse_id, SUM(quantity) AS q, SUM(value) AS v
            FROM {b} WHERE 1 = 1 {where} GROUP BY product_id, warehouse_id
        """
        base_params = list(params_w)
        net = f"""
            SELECT product_id, warehouse_id, SUM(issued - received) AS q,
                SUM(issued_value - received_value) AS v
            FROM {t} WHERE period > %s {where} GROUP BY product_id, warehouse_id
        """
        net_params = [this, *params_w]
    # each part is aggregated on its own (few rows each) before the one sum per product × warehouse
    sql = f"""
        SELECT product_id, warehouse_id, SUM(cq) AS cq, SUM(cv) AS cv, SUM(iq) AS iq, SUM(iv) AS iv,
            SUM(oq) AS oq, SUM(ov) AS ov
        FROM (
            SELECT product_id, warehouse_id, q AS cq, v AS cv, 0 AS iq, 0 AS iv, 0 AS oq, 0 AS ov
            FROM ({base}) base
            UNION ALL
            SELECT product_id, warehouse_id, q, v, 0, 0, 0, 0 FROM ({net}) net
            UNION ALL
            SELECT product_id, warehouse_id, 0, 0, received, received_value, issued, issued_value
            FROM {t} WHERE period = %s {where}
        ) figures
        GROUP BY product_id, warehouse_id
        HAVING SUM(cq) <> 0 OR SUM(cv) <> 0 OR SUM(iq) <> 0 OR SUM(iv) <> 0 OR SUM(oq) <> 0 OR SUM(ov) <> 0
    """
    return sql, [*base_params, *net_params, this, *params_w]


# --- closing ------------------------------------------------------------------------------------


def reopen_periods(since: date) -> int:
    """Forget the closings of the month of ``since`` and every later month."""
    code = period_code(since.year, since.month)
    StockPeriodBalance.objects.filter(period__gte=code).delete()
    return StockPeriod.objects.filter(period__gte=code).delete()[0]


def close_period(year: int, month: int) -> int:
    """月结: store the closing stock (quantity and value) and the in and out of every product ×
    warehouse of a month that has ended.  Closing again replaces the stored figures.  Returns the rows
    stored.  The periodic job ``inventory-close-month`` closes the previous month on the 1st."""
    start, end = month_bounds(year, month)
    if end > timezone.now():
        raise ValidationFailed(_("Only a month that has ended can be closed."))
    code = period_code(year, month)
    with transaction.atomic():
        StockPeriod.objects.filter(period=code).delete()
        StockPeriodBalance.objects.filter(period=code).delete()
        sql, params = _figures_query(year, month)
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {StockPeriodBalance._meta.db_table} (period, product_id, warehouse_id, "
                f"quantity, value, {', '.join(FIELDS)}) SELECT %s, f.* FROM ({sql}) f",
                [code, *params],
            )
            rows = cur.rowcount
        StockPeriod.objects.create(period=code, closed_at=timezone.now(), rows=rows)
    return rows


def close_all_periods() -> int:
    """Close every ended month from the first ledger month on (after an import or a restore)."""
    first = StockMove.objects.order_by("created_at").values_list("created_at", flat=True).first()
    if first is None:
        return 0
    d = timezone.localdate(first).replace(day=1)
    today = timezone.localdate().replace(day=1)
    n = 0
    while d < today:
        close_period(d.year, d.month)
        n += 1
        d = (d + timedelta(days=32)).replace(day=1)
    return n
