"""The decision store: every decision, masked, in SQLite by default (``DETOUR_DATABASE_URL`` for others)."""

from gateway.store.store import DecisionStore, StoredDecision

__all__ = ["DecisionStore", "StoredDecision"]
