"""Minute series (分钟序列) for the console: per social platform and per category, the
events, negative events and reach of negative posts of each minute, kept for two days;
and the most-reached negative social posts of each hour.

The alert windows keep only as much history as the longest rule needs; people looking
at the last hours need more, at a coarser grain. Only events counted for the first time
are added (the windows' dedup decides), so replays change nothing here either.

Redis keys (named in :mod:`vocwatch.redis_keys`; each command touches one key, so this
works on Redis Cluster too):

* ``<prefix>:series:<dimension>:<day>`` — hash: ``<minute>|<value>|c`` (events),
  ``…|n`` (negative), ``…|r`` (reach of negative posts), expiring after the retention;
* ``<prefix>:posts:<hour>`` — sorted set of negative posts (masked JSON) by reach,
  capped at :data:`POSTS_PER_HOUR`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from vocwatch import redis_keys

DAY = 86400
RETENTION_SECONDS = 2 * DAY
POSTS_PER_HOUR = 50


@dataclass
class Totals:
    count: int = 0
    negative: int = 0
    reach_negative: float = 0.0


class Point(NamedTuple):
    """What one event adds to a series (a named tuple: one or two are made per event)."""

    dimension: str  # platform / category
    value: str
    minute: int  # event time // 60
    negative: bool
    reach: float = 0.0


class RedisSeries:
    def __init__(self, redis: Any, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, dimension: str, day: int) -> str:
        return redis_keys.series(self.prefix, dimension, day)

    async def add(self, points: Iterable[Point], posts: Iterable[Mapping[str, Any]] = ()) -> None:
        """Add a batch's points (summed per field first) and negative posts."""
        sums: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for p in points:
            fields = sums[(p.dimension, p.minute * 60 // DAY)]
            base = f"{p.minute}|{p.value}|"
            fields[base + "c"] += 1
            if p.negative:
                fields[base + "n"] += 1
                if p.reach:
                    fields[base + "r"] += p.reach
        pipe = self.redis.pipeline(transaction=False)
        for (dimension, day), fields in sums.items():
            key = self._key(dimension, day)
            for name, amount in fields.items():
                if name.endswith("|r"):
                    pipe.hincrbyfloat(key, name, amount)
                else:
                    pipe.hincrby(key, name, int(amount))
            pipe.expire(key, RETENTION_SECONDS + DAY)
        for post in posts:
            key = redis_keys.posts(self.prefix, int(post["time"] // 3600))
            pipe.zadd(key, {json.dumps(post, ensure_ascii=False): post["reach"]})
            pipe.zremrangebyrank(key, 0, -POSTS_PER_HOUR - 1)
            pipe.expire(key, RETENTION_SECONDS)
        if len(pipe):
            await pipe.execute()

    async def read(
        self, dimension: str, since: float, until: float
    ) -> dict[str, dict[int, Totals]]:
        """value → minute → totals, from the minute holding ``since`` to the one holding
        ``until``."""
        first, last = int(since // 60), int(until // 60)
        days = range(first * 60 // DAY, last * 60 // DAY + 1)
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self._key(dimension, day))
        series: dict[str, dict[int, Totals]] = defaultdict(dict)
        for reply in await pipe.execute():
            for raw_field, raw_amount in reply.items():
                field = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
                head, kind = field.rsplit("|", 1)
                minute_text, value = head.split("|", 1)
                minute = int(minute_text)
                if minute < first or minute * 60 > until:
                    continue
                totals = series[value].setdefault(minute, Totals())
                if kind == "c":
                    totals.count += int(raw_amount)
                elif kind == "n":
                    totals.negative += int(raw_amount)
                else:
                    totals.reach_negative += float(raw_amount)
        return dict(series)

    async def top_posts(self, since: float, until: float, limit: int = 10) -> list[dict[str, Any]]:
        """The most-reached negative posts between ``since`` and ``until``."""
        pipe = self.redis.pipeline(transaction=False)
        for hour in range(int(since // 3600), int(until // 3600) + 1):
            pipe.zrevrange(redis_keys.posts(self.prefix, hour), 0, limit - 1)
        posts = [json.loads(raw) for reply in await pipe.execute() for raw in reply]
        posts = [p for p in posts if since <= p["time"] < until]
        posts.sort(key=lambda p: -p["reach"])
        return posts[:limit]
