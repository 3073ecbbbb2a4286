"""Emerging-topic state in Redis, shared by the workers (key names in
:mod:`vocwatch.redis_keys`):

* each worker's latest :class:`~alerts.emerging.WorkerReport` (``SET … EX``), and a sorted
  set of the workers that reported: a worker that stopped drops out by itself;
* the step lock: the one worker that claims a step reads every report and decides;
* the known topics (``HSET``): an emerging topic's id and words, which keep its id stable
  while it lasts, whichever worker decides;
* the watch list the API shows: the last step's busiest groups.

Every command touches one key and the lock is a one-key script, so this works on Redis
Cluster as it is. Unreadable entries (left by another version) are skipped with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from alerts.emerging import KnownTopic, WorkerReport
from alerts.store import claim_step
from vocwatch import redis_keys

log = logging.getLogger(__name__)


class EmergingStore(Protocol):
    """What the topic monitor keeps outside the worker (Redis, or the evaluation
    harness's memory)."""

    async def publish(self, report: WorkerReport, now: float) -> None: ...

    async def reports(self, now: float) -> list[WorkerReport]: ...

    async def claim_step(self, step: int) -> bool: ...

    async def known(self) -> list[KnownTopic]: ...

    async def remember(self, topics: Sequence[KnownTopic]) -> None: ...

    async def forget(self, ids: Iterable[str]) -> None: ...

    async def save_watch(self, groups: Sequence[dict[str, Any]]) -> None: ...

    async def watch(self) -> list[dict[str, Any]]: ...


class RedisEmergingStore:
    def __init__(self, redis: Any, *, prefix: str, ttl_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = max(1, round(ttl_seconds))
        self.workers_key = redis_keys.emerging_workers(prefix)
        self.known_key = redis_keys.emerging_known(prefix)
        self.watch_key = redis_keys.emerging_watch(prefix)

    async def publish(self, report: WorkerReport, now: float) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(
            redis_keys.emerging_report(self.prefix, report.worker),
            json.dumps(report.to_json(), ensure_ascii=False),
            ex=self.ttl,
        )
        pipe.zadd(self.workers_key, {report.worker: now})
        pipe.zremrangebyscore(self.workers_key, "-inf", now - self.ttl)
        await pipe.execute()

    async def reports(self, now: float) -> list[WorkerReport]:
        workers = await self.redis.zrangebyscore(self.workers_key, now - self.ttl, "+inf")
        if not workers:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for worker in workers:
            pipe.get(redis_keys.emerging_report(self.prefix, _text(worker)))
        reports = []
        for raw in await pipe.execute():
            report = _load(raw, WorkerReport.from_json) if raw else None
            if report is not None:
                reports.append(report)
        return reports

    async def claim_step(self, step: int) -> bool:
        return await claim_step(self.redis, redis_keys.emerging_step(self.prefix), step)

    async def known(self) -> list[KnownTopic]:
        raw = await self.redis.hgetall(self.known_key)
        loaded = (_load(value, KnownTopic.from_json) for value in raw.values())
        return [topic for topic in loaded if topic is not None]

    async def remember(self, topics: Sequence[KnownTopic]) -> None:
        if topics:
            await self.redis.hset(
                self.known_key,
                mapping={t.id: json.dumps(t.to_json(), ensure_ascii=False) for t in topics},
            )

    async def forget(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            await self.redis.hdel(self.known_key, *ids)

    async def save_watch(self, groups: Sequence[dict[str, Any]]) -> None:
        value = json.dumps(list(groups), ensure_ascii=False)
        await self.redis.set(self.watch_key, value, ex=self.ttl)

    async def watch(self) -> list[dict[str, Any]]:
        raw = await self.redis.get(self.watch_key)
        loaded = _load(raw, list) if raw else None
        return loaded or []


def _load(raw: bytes | str, build: Any) -> Any:
    try:
        return build(json.loads(raw))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning(
            "ignoring emerging-topic state this version cannot read (%s: %s)",
            type(exc).__name__,
            exc,
        )
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
