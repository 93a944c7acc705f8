"""The records the gateway passes around: ``Upload`` in, ``Decision`` out (language-neutral)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.policy.destinations import Destination
from gateway.policy.schema import Action


@dataclass(frozen=True)
class Upload:
    """Who uploads what, where to. The bytes travel separately (they may be large)."""

    file_name: str
    destination: str
    size: int
    sha256: str
    user: str | None = None
    group: str | None = None
    channel: str = "api"  # api | cli | icap | mitmproxy
    client_ip: str | None = None  # from the proxy (ICAP X-Client-IP), when it says


@dataclass(frozen=True)
class DataClassHit:
    """A data class the upload contains, with the numbers that describe it (never values)."""

    id: str
    count: int
    distinct: int
    people: int
    triggered: bool  # the threshold is reached
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reason:
    rule: str
    action: Action
    data_classes: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    id: str
    action: Action
    destination: Destination
    reasons: tuple[Reason, ...] = ()
    data_classes: tuple[DataClassHit, ...] = ()
    alternatives: tuple[str, ...] = field(default_factory=tuple)

    def hit(self, data_class_id: str) -> DataClassHit | None:
        return next((h for h in self.data_classes if h.id == data_class_id), None)
