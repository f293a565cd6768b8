"""Child process for the SIGKILL tests: records strict events forever, printing each id once it
is acknowledged (its transaction committed).

Usage: python strict_writer_child.py LOCATION [PREFIX] — LOCATION is a SQLite path or a
postgresql:// URL. The parent SIGKILLs it mid-stream; several may run against one database.
"""

from __future__ import annotations

import asyncio
import sys

from abgate.events import InferenceEvent
from abgate.events.factory import open_event_store

WORKERS = 8


async def main(location: str, prefix: str) -> None:
    log = open_event_store(location, durability="strict")
    await log.start()

    async def worker(w: int) -> None:
        i = 0
        while True:
            request_id = f"{prefix}w{w}-{i}"
            await log.record_inference(
                InferenceEvent(
                    ts=float(i),
                    request_id=request_id,
                    experiment="exp",
                    model="baseline",
                    version="1",
                    assigned_model="baseline",
                    assignment="split",
                    unit_hash=None,
                    input_sha256="0" * 64,
                    probability=0.6,
                    signal="buy",
                    latency_ms=1.0,
                    status=200,
                )
            )
            # Printed only after the event's transaction committed: an acknowledgement.
            sys.stdout.write(request_id + "\n")
            sys.stdout.flush()
            i += 1

    await asyncio.gather(*(worker(w) for w in range(WORKERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] + "-" if len(sys.argv) > 2 else ""))
