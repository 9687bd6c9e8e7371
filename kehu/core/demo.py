"""The demo company (kehu demo).  Each module adds its part through ``register_demo``; loading is
idempotent: what exists is kept."""

from __future__ import annotations

from collections.abc import Callable

DEMO_PASSWORD = "kehu-demo"
DEMO_STEPS: list[tuple[int, str, Callable]] = []


def register_demo(order: int, name: str, func: Callable) -> None:
    DEMO_STEPS.append((order, name, func))


def run_demo(stdout=None) -> None:
    for _order, name, func in sorted(DEMO_STEPS, key=lambda s: s[0]):
        if stdout:
            stdout.write(f"  demo: {name}")
        func()
