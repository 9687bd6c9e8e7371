"""Background jobs of the customers module (the import job is registered by importing.py)."""

from . import importing  # noqa: F401  (registers "customers.import" in the worker too)
