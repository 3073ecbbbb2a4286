"""Sliding windows (滑动窗口) of event counts per dimension key, kept in Redis.

Each dimension key has two Redis keys (named in :mod:`vocwatch.redis_keys`) that share a
hash tag, so one Lua script touches only one cluster slot:

* ``<prefix>:{<key>}:b`` — a hash of time buckets: field ``<bucket>`` counts events, and
  ``<bucket>:<m>`` the other sums (see :data:`FIELDS`): negative and P1 events, sentiment,
  reach of negative posts, calls, calls resolved on first contact, wait seconds; a field
  is written only when its increment is not 0. Survey responses (满意度调查) add their
  own sums (:data:`SURVEY_FIELDS`: NPS responses, promoters and detractors; CSAT and CES
  responses, scores and squared scores) and mark the hash with the field ``survey``: only
  a marked key reads them back, so the keys no survey reaches pay nothing for them;
* ``<prefix>:{<key>}:ids`` — a sorted set of the event ids counted, scored by event time.

An event is counted only if ``ZADD NX`` adds its id, in the same script as the increments:
a replayed or redelivered event changes nothing. Ids and buckets older than the longest
window (the retention) are trimmed, so the dedup horizon and the window agree: an event
older than the retention is *late* and counted nowhere. Updates for a batch are sent as
one pipeline: one round trip, one script call per touched key.

Redis Cluster (集群): the two keys of a dimension key share its hash tag, so each script call
touches one slot, and different dimension keys spread over the slots (and so the nodes). The
script is called by its SHA-1 (``EVALSHA``) in a non-transactional pipeline, which a cluster
pipeline splits per node; a server that does not know the script yet (a restarted server, a
cluster node that never saw it) answers NOSCRIPT, and those calls are run again after
``SCRIPT LOAD``, which a cluster client sends to every primary.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from alerts.observation import Counted
from alerts.rules import WindowCounts
from vocwatch.redis_keys import window_buckets, window_ids

NEW, DUPLICATE, LATE = 1, 0, 2

# Per-bucket sums after the event count, in WindowCounts order: (field suffix, float?).
FIELDS = (
    ("n", False),
    ("p", False),
    ("s", True),
    ("r", True),
    ("c", False),
    ("f", False),
    ("w", True),
)
# Survey sums, in WindowCounts order after FIELDS: NPS responses, promoters (9–10),
# detractors (0–6); CSAT responses, score sum, squared-score sum; the same for CES.
SURVEY_FIELDS = ("nn", "np", "nd", "cn", "cs", "cq", "en", "es", "eq")

# KEYS: bucket hash, id set. ARGV: bucket_seconds, now, retention, skew, write (0/1),
# n_spans, span_1 … span_n (seconds, ascending), then one argument per event: its time,
# the value of each FIELDS entry and its survey code ('0', or the kind's initial and the
# score: 'n9'), separated by spaces, then a space and its id, which is the rest of the
# argument (so an id may hold any character). Totals are returned as strings: Lua
# numbers would be truncated.
_RECORD = """
local bsec, now, retention = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local skew, nspans = tonumber(ARGV[4]), tonumber(ARGV[6])
local suffixes = {'n', 'p', 's', 'r', 'c', 'f', 'w'}
local survey = {'nn', 'np', 'nd', 'cn', 'cs', 'cq', 'en', 'es', 'eq'}
local floats = {s = true, r = true, w = true}
local horizon = now - retention
local flags = {}
local wrote = false
local shape = '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (.*)$'
for i = 7 + nspans, #ARGV do
  local t, n, p, s, r, c, f, w, code, id = string.match(ARGV[i], shape)
  local ts = tonumber(t)
  if ts > now + skew then ts = now end
  if ts < horizon then
    flags[#flags + 1] = 2
  elseif redis.call('ZADD', KEYS[2], 'NX', ts, id) == 1 then
    local b = tostring(math.floor(ts / bsec))
    redis.call('HINCRBY', KEYS[1], b, 1)
    local sums = {n, p, s, r, c, f, w}
    for j, suffix in ipairs(suffixes) do
      local v = sums[j]
      if v ~= '0' then
        if floats[suffix] then redis.call('HINCRBYFLOAT', KEYS[1], b .. ':' .. suffix, v)
        else redis.call('HINCRBY', KEYS[1], b .. ':' .. suffix, v) end
      end
    end
    if code ~= '0' then
      local k, v = string.sub(code, 1, 1), tonumber(string.sub(code, 2))
      redis.call('HINCRBY', KEYS[1], b .. ':' .. k .. 'n', 1)
      if k == 'n' then
        if v >= 9 then redis.call('HINCRBY', KEYS[1], b .. ':np', 1)
        elseif v <= 6 then redis.call('HINCRBY', KEYS[1], b .. ':nd', 1) end
      else
        redis.call('HINCRBY', KEYS[1], b .. ':' .. k .. 's', v)
        redis.call('HINCRBY', KEYS[1], b .. ':' .. k .. 'q', v * v)
      end
      redis.call('HSET', KEYS[1], 'survey', '1')
    end
    flags[#flags + 1] = 1
    wrote = true
  else
    flags[#flags + 1] = 0
  end
end
local surveyed = redis.call('HEXISTS', KEYS[1], 'survey') == 1
local names = {unpack(suffixes)}
if surveyed then
  for _, suffix in ipairs(survey) do names[#names + 1] = suffix end
end
local per = #names + 1
local oldest = math.floor(horizon / bsec)
if ARGV[5] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. horizon)
  if redis.call('HLEN', KEYS[1]) > per * (retention / bsec + 2) + 1 then
    for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
      local b = tonumber(string.match(field, '^%d+'))
      if b and b < oldest then redis.call('HDEL', KEYS[1], field) end
    end
  end
end
if wrote then
  redis.call('EXPIRE', KEYS[1], retention + bsec)
  redis.call('EXPIRE', KEYS[2], retention + bsec)
end
local current = math.floor(now / bsec)
local widest = math.ceil(tonumber(ARGV[6 + nspans]) / bsec)
local fields = {}
for b = current - widest + 1, current do
  local s = tostring(b)
  fields[#fields + 1] = s
  for _, suffix in ipairs(names) do fields[#fields + 1] = s .. ':' .. suffix end
end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
local sums = {}
for j = 1, per do sums[j] = 0 end
local totals = {}
local bucket = 0
for s = 1, nspans do
  local need = math.ceil(tonumber(ARGV[6 + s]) / bsec)
  while bucket < need do
    local at = #values - per * (bucket + 1)
    for j = 1, per do sums[j] = sums[j] + (tonumber(values[at + j]) or 0) end
    bucket = bucket + 1
  end
  for j = 1, per do totals[#totals + 1] = tostring(sums[j]) end
end
return {flags, totals}
"""


# Redis names a loaded script by its SHA-1; nothing here depends on SHA-1 being secure.
_RECORD_SHA = hashlib.sha1(_RECORD.encode(), usedforsecurity=False).hexdigest()


class RedisLike(Protocol):
    def pipeline(self, transaction: bool = ...) -> Any: ...
    def script_load(self, script: str) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class KeyState:
    """What a window key holds after an update: per-event flags and totals per span."""

    flags: tuple[int, ...]  # NEW / DUPLICATE / LATE, in observation order
    totals: Mapping[int, WindowCounts]  # span seconds → counts


class RedisWindowStore:
    """Sliding windows over bucketed counters in Redis (see module docstring)."""

    def __init__(
        self,
        redis: RedisLike,
        *,
        prefix: str,
        bucket_seconds: int,
        spans: Sequence[int],
        skew_seconds: int = 60,
    ) -> None:
        if not spans:
            raise ValueError("at least one window span is needed")
        self.redis = redis
        self.prefix = prefix
        self.bucket_seconds = bucket_seconds
        self.spans = tuple(sorted(set(spans)))
        self.retention = self.spans[-1] + bucket_seconds
        self.skew_seconds = skew_seconds

    def redis_keys(self, key: str) -> list[str]:
        return [window_buckets(self.prefix, key), window_ids(self.prefix, key)]

    def window_start(self, span: int, now: float) -> float:
        """Start of the bucket-aligned window of ``span`` seconds that ends at ``now``."""
        current = int(now // self.bucket_seconds)
        buckets = math.ceil(span / self.bucket_seconds)
        return float((current - buckets + 1) * self.bucket_seconds)

    async def record(
        self, observations: Mapping[str, Sequence[Counted]], now: float
    ) -> dict[str, KeyState]:
        """Count new observations per window key; return each key's state after."""
        return await self._run(observations, now, write=True)

    async def read(self, keys: Sequence[str], now: float) -> dict[str, KeyState]:
        return await self._run({key: () for key in keys}, now, write=False)

    async def _run(
        self, observations: Mapping[str, Sequence[Counted]], now: float, *, write: bool
    ) -> dict[str, KeyState]:
        keys = list(observations)
        if not keys:
            return {}
        head = [
            self.bucket_seconds,
            repr(now),
            self.retention,
            self.skew_seconds,
            int(write),
            len(self.spans),
            *self.spans,
        ]
        calls = []
        for key in keys:
            args: list[Any] = [*self.redis_keys(key), *head]
            args += [o.packed for o in observations[key]]
            calls.append(args)
        replies = await run_script(self.redis, _RECORD, _RECORD_SHA, 2, calls)
        states = {}
        for key, (flags, totals) in zip(keys, replies, strict=True):
            per = len(totals) // len(self.spans)  # with a key's survey sums, or without
            counts = {
                span: _counts(totals[per * i : per * (i + 1)]) for i, span in enumerate(self.spans)
            }
            states[key] = KeyState(tuple(int(f) for f in flags), counts)
        return states


async def run_script(
    redis: RedisLike,
    script: str,
    sha: str,
    numkeys: int | Sequence[int],
    calls: Sequence[Sequence[Any]],
) -> list[Any]:
    """Run ``script`` once per call (its ``numkeys`` keys — one number for every call, or
    one per call — then its arguments) in one non-transactional pipeline, by SHA-1; the
    calls answered NOSCRIPT are run again once after ``SCRIPT LOAD``. Works alike on one
    server and on a cluster (where redis-py's pipeline refuses Script objects, and each node
    may or may not know the script). Raises the first error a call got; replies in call
    order."""
    keys = [numkeys] * len(calls) if isinstance(numkeys, int) else list(numkeys)
    replies: list[Any] = [None] * len(calls)
    todo = list(range(len(calls)))
    for attempt in range(2):
        pipe = redis.pipeline(transaction=False)
        for i in todo:
            pipe.execute_command("EVALSHA", sha, keys[i], *calls[i])
        for i, reply in zip(todo, await pipe.execute(raise_on_error=False), strict=True):
            replies[i] = reply
        todo = [i for i in todo if isinstance(replies[i], NoScriptError)]
        if not todo or attempt:
            break
        await redis.script_load(script)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


_FLOATS = (False, *(f for _, f in FIELDS), *(False for _ in SURVEY_FIELDS))


def _counts(values: Sequence[bytes | str]) -> WindowCounts:
    """A key's totals of one span: the event count and the FIELDS sums, then, if the key
    has seen a survey response, the SURVEY_FIELDS sums."""
    numbers: list[Any] = [
        float(v) if is_float else int(float(v))
        for v, is_float in zip(values, _FLOATS, strict=False)
    ]
    return WindowCounts(*numbers)
