"""Where active alerts live between batches and across restarts: one Redis hash.

Field = fingerprint, value = the alert's state as JSON. A restarted worker, or a second
one, picks up the same alerts. Creation uses ``HSETNX`` so two workers that see the same
incident at once still make one alert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from alerts.lifecycle import Alert


class RedisAlertStore:
    def __init__(self, redis: Any, *, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:alerts:active"

    async def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]:
        if not fingerprints:
            return {}
        values = await self.redis.hmget(self.key, list(fingerprints))
        return {fp: _load(v) for fp, v in zip(fingerprints, values, strict=True) if v}

    async def all_active(self) -> list[Alert]:
        return [_load(v) for v in (await self.redis.hgetall(self.key)).values()]

    async def create(self, alert: Alert) -> bool:
        """Store a new alert; False if another worker created one for it first."""
        return bool(await self.redis.hsetnx(self.key, alert.fingerprint, _dump(alert)))

    async def save(self, alert: Alert) -> None:
        if alert.status == "resolved":
            await self.redis.hdel(self.key, alert.fingerprint)
        else:
            await self.redis.hset(self.key, alert.fingerprint, _dump(alert))


def _dump(alert: Alert) -> str:
    return json.dumps(alert.to_state(), ensure_ascii=False)


def _load(value: bytes | str) -> Alert:
    return Alert.from_state(json.loads(value))
