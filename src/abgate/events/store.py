"""``EventStore``: what the gateway and the stats engine need from an event log.

``SQLiteEventLog`` is the embedded implementation; a PostgreSQL store for many gateway replicas
implements the same protocol. Semantics every implementation keeps:

- ``record_*`` never drop an event: when the store falls behind they wait (asynchronously).
- After ``close()`` returns, every event acknowledged to a caller is durable.
- Feedback joins by request id within the experiment, after all inferences recorded before it.
- Mirror traffic is recorded but never counted by ``tallies`` or ``assignment_counts``.
- Failures surface as ``abgate.errors.StoreError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from abgate.events.types import (
    AdminEvent,
    FeedbackItem,
    FeedbackResult,
    InferenceEvent,
    ModelTally,
)


@runtime_checkable
class EventStore(Protocol):
    """A durable, append-only log of inferences, feedback and admin actions."""

    async def start(self) -> None: ...

    async def close(self) -> None:
        """Flush everything accepted; idempotent."""
        ...

    async def record_inference(self, event: InferenceEvent) -> None: ...

    async def record_admin(self, event: AdminEvent) -> None: ...

    async def record_feedback(
        self, experiment: str, items: Sequence[FeedbackItem]
    ) -> FeedbackResult: ...

    async def tallies(self, experiment: str) -> dict[str, ModelTally]: ...

    async def assignment_counts(self, experiment: str) -> dict[str, int]:
        """Requests per assigned variant (before fallback), for sample-ratio-mismatch checks."""
        ...

    async def find_inference(self, request_id: str) -> dict[str, object] | None: ...
