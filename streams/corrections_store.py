"""Corrections (纠正) in Redis, shared by every worker: what people marked 类别不对 (wrong
category) or 情感不对 (wrong sentiment) in the console or through ``POST /api/corrections``,
kept until ``vocwatch corrections export FILE`` writes them as the LABELS file of the next
``vocwatch adapt``. The logic — parsing, cleaning, the merge rule — is
:mod:`classifiers.corrections`; this is its thin Redis adapter.

* ``<prefix>:{corrections}`` — hash: text key → the correction (JSON: a LABELS line);
* ``<prefix>:{corrections}:order`` — sorted set: text key → time of its last correction.

**Bounded.** At most ``max_corrections`` texts (:data:`MAX_CORRECTIONS`, 50,000, by default):
a correction of a new text past the cap drops the least recently corrected one, in the same
script. A text is at most 2,000 characters, so the cap also bounds memory — about 15 MB for
50,000 corrections of alert samples of ~100 characters, 300 MB if every one were 2,000.
Corrections are not meant to pile up: each adapt consumes them.

**One correction per text, without lost fields.** Adding reads the text's correction, merges
the new one in (:func:`classifiers.corrections.merge`) and writes the result only if the
entry is still what was read (a compare-and-set script over both keys, which share the hash
tag ``corrections``: one Redis Cluster slot); otherwise it reads again. So two people
correcting one text at once — one the category, one the sentiment — keep both.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.exceptions import WatchError

from classifiers.corrections import Correction, merge
from classifiers.pii import mask_pii
from vocwatch import redis_keys

log = logging.getLogger(__name__)

MAX_CORRECTIONS = 50_000
ATTEMPTS = 10  # compare-and-set rounds before giving up (only a storm on one text needs 2)
EXPORT_CHUNK = 1000  # corrections read per HMGET when exporting

# KEYS: the hash, the sorted set. ARGV: text key, the value read ("" for none), the new
# value, its time, the cap. 1 when written, 0 when the entry changed since it was read.
_ADD = """
local old = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if old ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if extra > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[2], extra)
  for i = 1, #dropped, 2 do redis.call('HDEL', KEYS[1], dropped[i]) end
end
return 1
"""


class RedisCorrections:
    def __init__(self, redis: Any, *, prefix: str, max_corrections: int = MAX_CORRECTIONS) -> None:
        if max_corrections < 1:
            raise ValueError("max_corrections must be at least 1")
        self.redis = redis
        self.key = redis_keys.corrections(prefix)
        self.order_key = redis_keys.corrections_order(prefix)
        self.max_corrections = max_corrections

    async def add(self, correction: Correction) -> Correction:
        """Store ``correction`` merged into the text's earlier one, if any; the stored
        correction. Its text is masked once more here, whatever made it: no unmasked
        personal data reaches Redis. Its ``at`` (unix seconds) orders the listing."""
        correction = dataclasses.replace(correction, text=mask_pii(correction.text).text)
        key = correction.key
        score = correction.at if correction.at is not None else 0.0
        for _ in range(ATTEMPTS):
            old = await self.redis.hget(self.key, key)
            earlier = None if old is None else _load(old)
            stored = correction if earlier is None else merge(earlier, correction)
            written = await self.redis.eval(
                _ADD,
                2,
                self.key,
                self.order_key,
                key,
                old or b"",
                stored.to_line(),
                score,
                self.max_corrections,
            )
            if written:
                return stored
        raise WatchError(f"the correction of text {key} kept changing; try again")

    async def recent(self, limit: int) -> list[Correction]:
        """The ``limit`` most recently corrected texts' corrections, newest first."""
        keys = await self.redis.zrange(self.order_key, 0, limit - 1, desc=True)
        return await self._read(keys)

    async def count(self) -> int:
        """How many texts have a correction."""
        return int(await self.redis.zcard(self.order_key))

    async def all(self, chunk: int = EXPORT_CHUNK) -> AsyncIterator[Correction]:
        """Every correction, oldest first: the texts corrected when this starts (one read
        of the order), their corrections read ``chunk`` at a time."""
        keys = await self.redis.zrange(self.order_key, 0, -1)
        for start in range(0, len(keys), chunk):
            for correction in await self._read(keys[start : start + chunk]):
                yield correction

    async def _read(self, keys: list[bytes]) -> list[Correction]:
        if not keys:
            return []
        values = await self.redis.hmget(self.key, keys)
        loaded = (_load(value) for value in values if value is not None)
        return [correction for correction in loaded if correction is not None]


async def export_labels(store: RedisCorrections, write: Callable[[str], object]) -> int:
    """Write every correction as a LABELS line (with its newline) through ``write``,
    oldest first; how many were written."""
    written = 0
    async for correction in store.all():
        write(correction.to_line() + "\n")
        written += 1
    return written


def _load(value: bytes | str) -> Correction | None:
    """A stored correction; None (and a warning) for one this version cannot read."""
    try:
        return Correction.from_json(json.loads(value))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("a stored correction could not be read (%s); it is skipped", exc)
        return None
