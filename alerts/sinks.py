"""Where alert records go. Each sink delivers one JSON-ready record; a failing sink is
logged and counted by the engine, never allowed to stop the stream."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("vocwatch.alerts")
# What the log line of an alert of another kind shows besides its key.
_SUMMARY = {"customer_risk": ("score", "reasons"), "detractor": ("due_at", "overdue")}


class AlertSink(Protocol):
    name: str

    async def deliver(self, record: dict[str, Any]) -> None: ...


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


class JsonLinesSink:
    """Appends each record as one line to a file (``--alerts-out``)."""

    name = "file"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    async def deliver(self, record: dict[str, Any]) -> None:
        self._file.write(encode(record).decode() + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class LogSink:
    """One log line per record, with what a supervisor needs to read first."""

    name = "log"

    async def deliver(self, record: dict[str, Any]) -> None:
        key = ", ".join(f"{k}={v}" for k, v in record["key"].items())
        if "measure" not in record:  # an alert of another kind than window
            log.warning(
                "ALERT %s %s %s [%s] %s id=%s",
                record["priority"],
                record["status"],
                record["rule"],
                key,
                " ".join(f"{k}={record[k]}" for k in _SUMMARY.get(record["kind"], ())),
                record["id"],
            )
            return
        log.warning(
            "ALERT %s %s %s [%s] %s=%s threshold=%s count=%s id=%s",
            record["priority"],
            record["status"],
            record["rule"],
            key,
            record["measure"],
            record["value"],
            record["threshold"],
            record["count"],
            record["id"],
        )


class TopicSink:
    """Publishes each record to the alerts topic, keyed by fingerprint."""

    name = "kafka"

    def __init__(self, send: Callable[[bytes, bytes], Awaitable[None]]) -> None:
        self._send = send

    async def deliver(self, record: dict[str, Any]) -> None:
        await self._send(record["fingerprint"].encode(), encode(record))
