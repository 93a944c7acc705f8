"""Policy history: every policy version that decided uploads, with its files, when and how it was loaded.

A decision's ``policy_digest`` names its version; ``detour policy diff`` and the console compare two.
Recording never stops a policy from deciding: a store that is down is logged and tried again at the next
load (the version is in the folder meanwhile).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.errors import DetourError
from gateway.policy.loader import Policy, parse_policy
from gateway.store.models import PolicyVersionRow
from gateway.store.store import DecisionStore, aware

log = logging.getLogger(__name__)

MAX_LISTED = 500


class UnknownVersion(DetourError):
    """No policy version with that digest in the store."""


def record_version(store: DecisionStore, policy: Policy, how: str) -> bool:
    """Keep ``policy`` as a version (once per digest; a later load updates when and how). False: the store
    could not be written just now."""
    now = datetime.now(UTC)
    meta = policy.document.policy
    for _attempt in range(2):  # two replicas loading the same version at once: one inserts, the other updates
        try:
            with store.session() as session, session.begin():
                row = session.get(PolicyVersionRow, policy.digest)
                if row is None:
                    session.add(PolicyVersionRow(digest=policy.digest, name=meta.name[:200],
                                                 version=meta.version[:200], files=dict(policy.texts),
                                                 first_loaded=now, last_loaded=now, how=how[:100]))
                else:
                    row.last_loaded, row.how = now, how[:100]
            return True
        except IntegrityError:
            continue
        except SQLAlchemyError as problem:
            log.warning("policy version %s could not be recorded (%s); it is tried again at the next load",
                        policy.digest, type(problem).__name__)
            return False
    return False


def versions(store: DecisionStore, limit: int = 100) -> list[dict[str, Any]]:
    """The versions, the most recently loaded first (without their files)."""
    with store.session() as session:
        rows = session.scalars(select(PolicyVersionRow).order_by(PolicyVersionRow.last_loaded.desc())
                               .limit(max(1, min(limit, MAX_LISTED)))).all()
        return [_listing(row) for row in rows]


def _listing(row: PolicyVersionRow) -> dict[str, Any]:
    return {"digest": row.digest, "name": row.name, "version": row.version, "files": sorted(row.files),
            "first_loaded": aware(row.first_loaded).isoformat(), "last_loaded": aware(row.last_loaded).isoformat(),
            "how": row.how}


def stored_policy(store: DecisionStore, digest: str) -> Policy:
    """A recorded version as a ``Policy``, by its digest or a unique start of it (at least 6 characters)."""
    wanted = digest.strip().lower()
    if len(wanted) < 6 or len(wanted) > 64 or not all(c in "0123456789abcdef" for c in wanted):
        shown = digest if len(digest) <= 20 else digest[:20] + "…"
        raise DetourError(f"{shown!r} is not a policy digest (16 hexadecimal characters; a start of 6 or more "
                          "will do)")
    with store.session() as session:
        rows = session.scalars(select(PolicyVersionRow).where(PolicyVersionRow.digest.startswith(wanted))
                               .limit(2)).all()
    if not rows:
        raise UnknownVersion(f"no policy version {wanted} in the store (`detour policy versions` lists them)")
    if len(rows) > 1:
        raise DetourError(f"more than one policy version starts with {wanted}: give more of the digest")
    row = rows[0]
    files = [(f"{row.digest}/{name}", text.encode("utf-8")) for name, text in row.files.items()]
    return parse_policy(files, Path(f"(version {row.digest})"))
