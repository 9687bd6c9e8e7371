"""Cards that other modules add to a product's detail page (stock by warehouse, serial units,
safety stock…), in the same way as the customer 360° page's panels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProductPanel:
    """``template`` is included with ``product``, ``panel`` and ``data`` (what ``context(request,
    product)`` returned); ``right`` hides the card from users without it."""

    code: str
    title: object
    template: str
    right: str | None = None
    order: int = 100
    icon: str = "grid"
    context: Callable | None = None


PRODUCT_PANELS: list[ProductPanel] = []


def register_product_panel(panel: ProductPanel) -> None:
    """Called from another app's ``ready()``; registering the same code twice replaces it."""
    PRODUCT_PANELS[:] = [p for p in PRODUCT_PANELS if p.code != panel.code] + [panel]
    PRODUCT_PANELS.sort(key=lambda p: p.order)


def panels_for(request, product) -> list[dict]:
    """The panels this user may see, each with its data, for the product detail template."""
    user = request.user
    return [
        {"panel": p, "data": p.context(request, product) if p.context else {}}
        for p in PRODUCT_PANELS
        if not p.right or user.has_right(p.right)
    ]
