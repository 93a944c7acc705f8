"""The decision store and the audit log: every decision, masked, in SQLite by default (``DETOUR_DATABASE_URL``
for others); ``Recorder`` is the pipeline's record stage."""

from gateway.store.store import DecisionStore, StoredDecision

__all__ = ["DecisionStore", "StoredDecision"]
