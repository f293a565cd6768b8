"""The durable event log: every inference, feedback and admin action, hash-chained.

``SQLiteEventLog`` is the embedded store (SQLite, WAL, group commit in a writer thread);
``EventStore`` is the protocol the rest of abgate codes against.
"""

from abgate.events.chain import ChainReport, verify_chain
from abgate.events.export import export_events
from abgate.events.sqlite import SQLiteEventLog
from abgate.events.store import EventStore
from abgate.events.types import (
    ASSIGNMENTS,
    AdminEvent,
    FeedbackItem,
    FeedbackResult,
    InferenceEvent,
    LogStats,
    ModelTally,
)

__all__ = [
    "ASSIGNMENTS",
    "AdminEvent",
    "ChainReport",
    "EventStore",
    "FeedbackItem",
    "FeedbackResult",
    "InferenceEvent",
    "LogStats",
    "ModelTally",
    "SQLiteEventLog",
    "export_events",
    "verify_chain",
]
