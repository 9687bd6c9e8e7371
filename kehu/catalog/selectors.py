"""Reads of the product centre.  Product data is company-wide (no owner, no data scope): the rights
``catalog.view`` / ``catalog.edit`` decide who sees and changes it."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Category, Product, ProductImage


def products() -> QuerySet[Product]:
    """Products with what a list row shows (category, unit), in one query."""
    return Product.objects.select_related("category", "unit")


def product_search_q(text: str, prefix: str = "", *, within=None) -> Q:
    """One box: code, name, specification, brand, barcode, pinyin initials (``dyj`` finds 打印机).

    On PostgreSQL the branches become one ``id IN (… UNION ALL …)`` (``within``: the products being
    searched, whose conditions each branch then carries): each branch is then one indexed condition
    on its own, instead of an OR whose every branch the database re-checks on every row found."""
    text = (text or "").strip()
    if not text:
        return Q()
    if connection.vendor == "postgresql":
        from kehu.core.filters import any_branch_q

        base = Product.objects.all() if within is None else within
        return any_branch_q(base, _search_branches(text, ""), prefix)
    q = Q()
    for b in _search_branches(text, prefix):
        q |= b
    return q


def _search_branches(text: str, p: str) -> list[Q]:
    branches = [
        Q(**{f"{p}code__icontains": text}),
        Q(**{f"{p}name__icontains": text}),
        Q(**{f"{p}spec__icontains": text}),
        Q(**{f"{p}brand__icontains": text}),
        Q(**{f"{p}barcode": text}),
    ]
    if text.isascii() and text.replace(" ", "").isalnum():
        # Initials anywhere in the name: "dyj" finds 斑马桌面标签打印机 (brands come first in names).
        initials = text.replace(" ", "").lower()
        lookup = "pinyin__contains" if len(initials) >= 2 else "pinyin__startswith"
        branches.append(Q(**{f"{p}{lookup}": initials}))
    return branches


def product_detail(pk) -> Product:
    from django.http import Http404

    try:
        return (
            products()
            .select_related("archived_by", "category__parent")
            .prefetch_related(Prefetch("images", queryset=ProductImage.objects.order_by("order", "pk")))
            .get(pk=pk)
        )
    except (Product.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


# --- the category tree --------------------------------------------------------------------------------


def category_children() -> dict[int | None, list[Category]]:
    by_parent: dict[int | None, list[Category]] = {}
    for c in Category.objects.order_by("order", "name", "pk"):
        by_parent.setdefault(c.parent_id, []).append(c)
    return by_parent


def category_tree(*, with_counts: bool = False) -> list[tuple[Category, int]]:
    """Every category as (category, depth), depth-first in display order; with ``with_counts``
    each category carries ``product_count`` (its own products, archived ones left out) and
    ``total_count`` (with its sub-categories')."""
    by_parent = category_children()
    counts = {}
    if with_counts:
        counts = dict(
            Product.objects.active()
            .filter(category__isnull=False)
            .values_list("category_id")
            .annotate(n=Count("pk"))
            .values_list("category_id", "n")
        )
    out: list[tuple[Category, int]] = []

    def walk(parent_id, depth, seen):
        total = 0
        for c in by_parent.get(parent_id, []):
            if c.pk in seen:
                continue
            seen.add(c.pk)
            out.append((c, depth))
            c.product_count = counts.get(c.pk, 0)
            c.has_children = bool(by_parent.get(c.pk))
            c.total_count = c.product_count + walk(c.pk, depth + 1, seen)
            total += c.total_count
        return total

    walk(None, 0, set())
    return out


def category_choices(*, exclude_subtree_of: Category | None = None) -> list[tuple[int, str]]:
    """(id, "  indented name") for select boxes; a category's own subtree can be left out (the
    parent chooser of that category)."""
    excluded = set(descendant_ids(exclude_subtree_of.pk)) if exclude_subtree_of else set()
    return [(c.pk, "\u3000" * depth + c.name) for c, depth in category_tree() if c.pk not in excluded]


def descendant_ids(category_id: int) -> list[int]:
    """The category and everything below it (for "category incl. sub-categories" filters)."""
    by_parent: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        by_parent.setdefault(parent, []).append(pk)
    out, todo, seen = [], [category_id], set()
    while todo:
        pk = todo.pop()
        if pk in seen:
            continue
        seen.add(pk)
        out.append(pk)
        todo.extend(by_parent.get(pk, []))
    return out


def category_path(category: Category | None) -> str:
    """电脑设备 / 工控机: the names from the root down."""
    if category is None:
        return ""
    names = dict(Category.objects.values_list("pk", "name"))
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    out, pk, seen = [], category.pk, set()
    while pk is not None and pk not in seen:
        seen.add(pk)
        out.append(names.get(pk, ""))
        pk = parents.get(pk)
    return " / ".join(reversed(out))


def category_paths() -> dict[int, str]:
    """Every category's path, computed once (for exports and imports)."""
    rows = list(Category.objects.values_list("pk", "name", "parent_id"))
    names = {pk: name for pk, name, _p in rows}
    parents = {pk: parent for pk, _n, parent in rows}
    out = {}
    for pk in names:
        parts, cur, seen = [], pk, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            parts.append(names.get(cur, ""))
            cur = parents.get(cur)
        out[pk] = " / ".join(reversed(parts))
    return out


BRANDS_CACHE_KEY = "catalog:brands"


def brands(limit: int = 500) -> list[str]:
    """The brands in use (the list filter's choices, the form's suggestions).  A DISTINCT over every
    product is not free on a big catalogue: cached for 10 minutes, dropped when a product is saved."""
    from django.core.cache import cache

    found = cache.get(BRANDS_CACHE_KEY)
    if found is None:
        found = list(
            Product.objects.exclude(brand="")
            .values_list("brand", flat=True)
            .distinct()
            .order_by("brand")[:limit]
        )
        cache.set(BRANDS_CACHE_KEY, found, 600)
    return found


def forget_brands() -> None:
    from django.core.cache import cache

    cache.delete(BRANDS_CACHE_KEY)
