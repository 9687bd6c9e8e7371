"""Money helpers of the sales module: Decimal, rounded half-up to 0.01."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_money(value) -> Decimal:
    if value in (None, ""):
        return Decimal("0.00")
    try:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(str(value)) from exc


def weighted(amount, probability) -> Decimal:
    """Amount × probability %, half-up to the cent."""
    return (Decimal(amount or 0) * Decimal(probability or 0) / Decimal(100)).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
