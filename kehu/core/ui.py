"""Building blocks every page uses: rights, read-only users, scoped lists with filters, sort,
pagination and Excel export, and domain errors turned into messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from kehu.core.errors import DomainError
from kehu.core.export import xlsx_response
from kehu.core.scopes import visible_to
from kehu.core.widgets import speed_up_selects


class RightRequiredMixin(LoginRequiredMixin):
    """403 unless the user holds ``right``; unsafe methods also need a user who can write."""

    right: str | None = None
    write_right: str | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.has_right(self.right):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD", "OPTIONS") and (
            request.user.is_read_only or not request.user.has_right(self.write_right or self.right)
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


@dataclass
class Column:
    label: Any
    accessor: str | Any  # attribute path ("department.name") or callable(obj)
    sort: str | None = None
    link: bool = False
    template: str | None = None  # optional include for the cell

    def value(self, obj):
        if callable(self.accessor):
            return self.accessor(obj)
        value = obj
        for part in self.accessor.split("."):
            value = getattr(value, part, None) if value is not None else None
            if callable(value) and not hasattr(value, "all"):
                value = value()
        if hasattr(value, "all"):
            value = ", ".join(str(v) for v in value.all())
        return value


class CappedPaginator(Paginator):
    """Counts at most ``cap`` + 1 rows: on a large table, a COUNT of every match of a broad filter
    costs more than the page itself.  Past the cap the page says "more than 10,000" and offers the
    pages up to it; the Excel export still has every row.

    With ``ids_first`` (a text search), the matching ids are read instead of counted (the same
    work for the database) and, when they are within the cap, the page is chosen among them.  The
    database then never has to guess how rare the matches are: a rare term no longer walks the
    sort-order index of the whole table looking for its few rows, and a common one (past the cap)
    keeps the sort-order index, where its matches are dense."""

    def __init__(self, *args, cap: int = 10_000, ids_first: bool = False, search=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.cap = cap
        self.ids_first = ids_first and isinstance(self.object_list, QuerySet)
        # (the list without its search, the search's branches): see SearchLast and _sorted_hits
        self.search = search if self.ids_first and _plain_order(self.object_list) else None

    @cached_property
    def _ids(self) -> list:
        if self.search is not None:
            return self._sorted_hits()
        return list(self.object_list.order_by().values_list("pk", flat=True)[: self.cap + 1])

    def _sorted_hits(self) -> list:
        """The first ``cap`` + 1 matches of a search made of branches, in the list's order, in one
        statement: each branch selects the ids and sort keys of its matches with every condition of
        the list, and the union of the branches is sorted.  Nothing joins the matches back to the
        table and nothing is planned on a guess of how many there are; the pages up to the cap
        are slices of this list."""
        from django.db import connection
        from django.db.models import F

        base, branches, walk = self.search
        keys = {}
        order = []
        for i, term in enumerate(self.object_list.query.order_by):
            name = term.lstrip("-")
            alias = f"kehu_hit_{i}"
            keys[alias] = F("pk" if name == "pk" else name)
            order.append((alias, term.startswith("-")))
        aliases = list(keys)
        if (
            walk is not None
            and _indexed(self.object_list.model, self.object_list.query.order_by[0])
            and _dense(base)
        ):
            hits = self._walked_hits(base, walk, keys, order)
            if hits is not None:
                return hits
        parts = [
            base.filter(b).order_by().annotate(kehu_hit=F("pk"), **keys).values_list("kehu_hit", *aliases)
            for b in branches
        ]
        union = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        sql, params = union.query.sql_with_params()
        qn = connection.ops.quote_name
        by = ", ".join(f"{qn(a)} {'DESC' if desc else 'ASC'}" for a, desc in order)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {qn('kehu_hit')} FROM ({sql}) hits ORDER BY {by} LIMIT %s",  # noqa: S608
                (*params, self.cap + 1),
            )
            return [row[0] for row in cursor.fetchall()]

    walk_rows = 40_000

    def _walked_hits(self, base, walk, keys: dict, order: list) -> list | None:
        """A term most rows match (the filterset's ``search_walk``): the first ``cap`` + 1 matches
        found by reading the list in its order (an index: see ``_indexed``) and checking each row,
        in one statement that stops at the last one it needs; at most ``walk_rows`` rows.  None when
        those held fewer matches: the term was rarer than its statistics said, and the branches
        find them."""
        from django.db import connection
        from django.db.models import BooleanField, ExpressionWrapper, F

        inner = (
            base.order_by(*self.object_list.query.order_by)
            .annotate(
                kehu_hit=F("pk"),
                kehu_match=ExpressionWrapper(walk, output_field=BooleanField()),
                **keys,
            )
            .values_list("kehu_hit", "kehu_match", *keys)[: self.walk_rows]
        )
        sql, params = inner.query.sql_with_params()
        qn = connection.ops.quote_name
        by = ", ".join(f"{qn(a)} {'DESC' if desc else 'ASC'}" for a, desc in order)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {qn('kehu_hit')} FROM ({sql}) walk WHERE {qn('kehu_match')} "  # noqa: S608
                f"ORDER BY {by} LIMIT %s",
                (*params, self.cap + 1),
            )
            hits = [row[0] for row in cursor.fetchall()]
        return hits if len(hits) > self.cap else None

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if self.ids_first:
            return len(self._ids)
        if isinstance(qs, QuerySet):
            return qs.order_by()[: self.cap + 1].count()
        return len(qs)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    def page(self, number):
        if not self.ids_first:
            return super().page(number)
        # The page's ids first, then those rows, both by primary key alone where the ids are
        # known: the search's conditions are not planned a second time (a plan made for "a few
        # rows" can cost more than the search), and the joins the rows need come last.
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        qs = self.object_list
        if self.search is not None:
            ids = self._ids[bottom:top]  # sorted already
        else:
            among = qs if self.capped else self._by_pk(self._ids).order_by(*qs.query.order_by)
            ids = list(among.values_list("pk", flat=True)[bottom:top])
        rows = {o.pk: o for o in self._by_pk(ids)} if ids else {}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)

    def _by_pk(self, ids) -> QuerySet:
        """The list's rows with these ids: its joins, prefetches and deferred fields, without its
        filters (the ids came through them).  A queryset with annotations keeps everything."""
        qs = self.object_list
        query = qs.query
        if query.annotations or query.extra or query.distinct or query.combinator:
            return qs.filter(pk__in=ids)
        fresh = qs.model._base_manager.filter(pk__in=ids)
        if query.select_related is True:
            fresh = fresh.select_related()
        elif query.select_related:
            fresh = fresh.select_related(*_paths(query.select_related))
        if qs._prefetch_related_lookups:
            fresh = fresh.prefetch_related(*qs._prefetch_related_lookups)
        fresh.query.deferred_loading = query.deferred_loading
        return fresh


DENSE_SHARE = 0.1


def _dense(qs) -> bool:
    """The rows of ``qs`` are at least a tenth of its table's, by PostgreSQL's estimate (always on
    SQLite): read in an index's order they come close together.  An account manager's customers,
    a hundredth of the table, do not: reading 40,000 of them in the table's order would go through
    the whole index."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return True
    sql, params = qs.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        if isinstance(plan, str):  # pragma: no cover - a driver that returns the JSON as text
            import json

            plan = json.loads(plan)
        rows = plan[0]["Plan"]["Plan Rows"]
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table])
        total = cursor.fetchone()[0]
    return total <= 0 or rows >= DENSE_SHARE * total


def _indexed(model, term: str) -> bool:
    """The list's first sort key is a column of ``model`` that an index starts with."""
    name = term.lstrip("-")
    if name == "pk":
        return True
    from django.core.exceptions import FieldDoesNotExist

    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a related path (level__order): not one of the model's columns
        return False
    if any(getattr(field, a, False) for a in ("primary_key", "unique", "db_index")):
        return True
    # whole-table indexes only: a partial one (set_only_indexes) holds some rows, not the list's
    firsts = [ix.fields[0].lstrip("-") for ix in model._meta.indexes if ix.fields and not ix.condition]
    firsts += [
        c.fields[0]
        for c in model._meta.constraints
        if getattr(c, "fields", None) and not getattr(c, "condition", None)
    ]
    return name in firsts or getattr(field, "attname", None) in firsts


def _plain_order(qs) -> bool:
    """The queryset is ordered by field names only (``"-created_at"``, ``"level__order"``)."""
    order = qs.query.order_by
    return bool(order) and all(isinstance(t, str) and t.lstrip("-") and "?" not in t for t in order)


def _paths(tree: dict, prefix: str = "") -> list[str]:
    """``select_related``'s nested dict as lookups: {"owner": {"department": {}}} → owner__department."""
    out = []
    for name, sub in tree.items():
        out.append(prefix + name)
        out += _paths(sub, f"{prefix}{name}__")
    return out


class ListPage(RightRequiredMixin, TemplateView):
    """A list: scoped queryset, django-filter filters, whitelisted sort, pagination, xlsx export."""

    template_name = "core/list.html"
    title = ""
    queryset: QuerySet | None = None
    filterset_class = None
    columns: list[Column] = []
    default_sort = "-pk"
    paginate_by = 25
    count_cap = 10_000  # see CappedPaginator
    # A text search ("q") counts up to 1,000 matches: past that the user narrows the words rather
    # than pages through them, and the matches are found without guessing (CappedPaginator).
    search_param = "q"
    search_count_cap = 1_000
    scoped = True
    archivable = False
    create_url: str | None = None
    create_right: str | None = None
    export_name = "export"
    breadcrumbs: list = []

    def get_queryset(self) -> QuerySet:
        qs = self.queryset.all()
        if self.scoped:
            qs = visible_to(qs, self.request.user)
        if self.archivable:
            qs = qs.archived() if self.request.GET.get("archived") == "1" else qs.active()
        return qs

    def sort_options(self) -> dict[str, str]:
        return {c.sort: c.sort for c in self.columns if c.sort}

    def get(self, request, *args, **kwargs):
        qs = self.get_queryset()
        filterset = (
            self.filterset_class(request.GET, queryset=qs, request=request) if self.filterset_class else None
        )
        if filterset is not None:
            qs = filterset.qs if filterset.is_valid() else qs.none()
            speed_up_selects(filterset.form)
        sort = request.GET.get("sort", self.default_sort)
        key = sort.lstrip("-")
        if key not in self.sort_options():
            sort = self.default_sort
        qs = qs.order_by(sort, "-pk" if sort.lstrip("-") != "pk" else sort)
        if request.GET.get("export") == "xlsx":
            rows = ([c.value(o) for c in self.columns] for o in qs.iterator(chunk_size=2000))
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            return xlsx_response(f"{self.export_name}-{stamp}.xlsx", [c.label for c in self.columns], rows)
        searched = bool(self.search_param and request.GET.get(self.search_param, "").strip())
        paginator = CappedPaginator(
            qs,
            self.get_page_size(),
            cap=self.search_count_cap if searched else self.count_cap,
            ids_first=searched,
            search=getattr(filterset, "search_parts", None) if searched else None,
        )
        page = paginator.get_page(request.GET.get("page"))
        ctx = self.get_context_data(filterset=filterset, page=page, sort=sort, **kwargs)
        return self.render_to_response(ctx)

    def render_rows(self, objects) -> list:
        """Rows as (object, [(cell value, link url or None, long text?)]), prepared here rather than
        in the template: a list page renders hundreds of cells."""
        from kehu.core.templatetags.kehu import cell

        rows = []
        for o in objects:
            url = (
                o.get_absolute_url()
                if any(c.link for c in self.columns) and hasattr(o, "get_absolute_url")
                else None
            )
            cells = []
            for c in self.columns:
                v = cell(c.value(o))
                cells.append((v, url if c.link else None, isinstance(v, str) and len(v) > 60))
            rows.append((o, cells))
        return rows

    def get_page_size(self) -> int:
        try:
            return max(10, min(200, int(self.request.GET.get("per_page", self.paginate_by))))
        except ValueError:
            return self.paginate_by

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        page = kwargs["page"]
        ctx.update(
            title=self.title,
            columns=self.columns,
            rows=self.render_rows(page.object_list),
            breadcrumbs=self.breadcrumbs + [(self.title, None)],
            archivable=self.archivable,
            show_archived=self.request.GET.get("archived") == "1",
            create_url=self.create_url if self.can_create() else None,
        )
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx["query_without_page"] = query.urlencode()
        q2 = self.request.GET.copy()
        q2.pop("sort", None)
        q2.pop("page", None)
        ctx["query_without_sort"] = q2.urlencode()
        return ctx

    def can_create(self) -> bool:
        u = self.request.user
        return bool(self.create_url) and not u.is_read_only and u.has_right(self.create_right or self.right)


def run_service(request, func, *args, success: str | None = None, **kwargs):
    """Call a service; a domain error becomes an error message.  Returns (ok, result)."""
    try:
        result = func(*args, **kwargs)
    except DomainError as exc:
        messages.error(request, str(exc))
        return False, None
    if success:
        messages.success(request, success)
    return True, result


def forbid_read_only(user):
    if user.is_read_only:
        raise PermissionDenied(_("Your role is read-only."))
