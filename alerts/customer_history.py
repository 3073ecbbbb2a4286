"""Each customer's recent contacts (客户接触历史), kept in Redis.

Two Redis keys per customer (named in :mod:`vocwatch.redis_keys`) share the customer's
hash tag, so the one script that updates them touches one Redis Cluster slot:

* ``<prefix>:customer:{<customer>}:c`` — hash: contact id → contact (compact JSON, see
  :class:`alerts.contacts.Contact`); and ``!customer_risk`` / ``!detractor`` → the event
  time up to which that kind of follow-up was handled (see :meth:`mark_handled`);
* ``<prefix>:customer:{<customer>}:t`` — sorted set: contact id → event time.

History goes by **event time**: a contact from two hours or two days ago that arrives now
(a backlog, a replay, a late export) is added where it belongs; only contacts older than
the horizon (``history_days``) are ignored, and those that age past it are dropped. A
contact id is added once (the sorted set is the dedup), so a replayed event changes
nothing. A customer keeps at most ``max_contacts`` contacts, the newest; a contact older
than every contact of a full history is not added (it would be the first to go), which
keeps a replay of a contact dropped for the bound from coming back. Both keys expire
``history_days`` after their last write.

A batch's updates are one pipeline: one round trip, one script call per customer (by
SHA-1, reloaded after NOSCRIPT, as the window script is: :func:`alerts.windows.run_script`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.contacts import Contact, customer_key
from alerts.windows import DUPLICATE, LATE, NEW, RedisLike, run_script
from vocwatch import redis_keys
from vocwatch.vocabulary import AlertKind

__all__ = ["DUPLICATE", "LATE", "NEW", "CustomerState", "RedisCustomerHistory"]

#: The follow-ups whose handling is marked in a customer's history.
HANDLED = (AlertKind.CUSTOMER_RISK, AlertKind.DETRACTOR)

# KEYS: contacts hash, times set. ARGV: now, horizon seconds, max contacts, skew, the
# handled-mark fields, then per contact: id, event time, JSON. Returns the flags (NEW,
# DUPLICATE, LATE), every contact kept (oldest first) and the handled marks.
_RECORD = """
local now, span = tonumber(ARGV[1]), tonumber(ARGV[2])
local cap, skew = tonumber(ARGV[3]), tonumber(ARGV[4])
local marks = {ARGV[5], ARGV[6]}
local horizon = now - span
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. horizon)
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
local flags = {}
local wrote = false
for i = 7, #ARGV, 3 do
  local ts = tonumber(ARGV[i + 1])
  if ts > now + skew then ts = now end
  if ts < horizon then
    flags[#flags + 1] = 2
  elseif redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    flags[#flags + 1] = 0
  else
    local full = redis.call('ZCARD', KEYS[2]) >= cap
    if full and ts <= tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]) then
      flags[#flags + 1] = 2
    else
      if full then
        local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
        redis.call('ZREM', KEYS[2], oldest)
        redis.call('HDEL', KEYS[1], oldest)
      end
      redis.call('ZADD', KEYS[2], ts, ARGV[i])
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
      flags[#flags + 1] = 1
      wrote = true
    end
  end
end
if wrote then
  redis.call('EXPIRE', KEYS[1], span)
  redis.call('EXPIRE', KEYS[2], span)
end
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
ids[#ids + 1] = marks[1]
ids[#ids + 1] = marks[2]
local values = redis.call('HMGET', KEYS[1], unpack(ids))
local handled = {values[#values - 1], values[#values]}
values[#values] = nil
values[#values] = nil
return {flags, values, handled}
"""
_RECORD_SHA = hashlib.sha1(_RECORD.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class CustomerState:
    """A customer's history after an update."""

    flags: tuple[int, ...]  # NEW / DUPLICATE / LATE, per contact given, in order
    contacts: tuple[Contact, ...]  # every contact kept, oldest first
    # kind → event time up to which that follow-up was handled
    handled: Mapping[AlertKind, float] = field(default_factory=dict)


class RedisCustomerHistory:
    def __init__(
        self,
        redis: RedisLike,
        *,
        prefix: str,
        history_seconds: float,
        max_contacts: int,
        skew_seconds: int = 60,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.history_seconds = history_seconds
        self.max_contacts = max_contacts
        self.skew_seconds = skew_seconds

    def redis_keys(self, customer: str) -> list[str]:
        """The two keys of a customer, by its reference (:func:`alerts.contacts.customer_ref`)."""
        key = customer_key(customer)
        return [
            redis_keys.customer_contacts(self.prefix, key),
            redis_keys.customer_times(self.prefix, key),
        ]

    async def record(
        self, contacts: Mapping[str, Sequence[Contact]], now: float
    ) -> dict[str, CustomerState]:
        """Add each customer's new contacts; return each customer's history after."""
        customers = list(contacts)
        if not customers:
            return {}
        head = [
            repr(now),
            int(self.history_seconds),
            self.max_contacts,
            self.skew_seconds,
            *(_mark(kind) for kind in HANDLED),
        ]
        calls = []
        for customer in customers:
            args: list[Any] = [*self.redis_keys(customer), *head]
            for contact in contacts[customer]:
                args += [contact.id, repr(contact.time), contact.to_json()]
            calls.append(args)
        replies = await run_script(self.redis, _RECORD, _RECORD_SHA, 2, calls)
        return {
            customer: CustomerState(
                tuple(int(f) for f in flags),
                tuple(Contact.from_json(v) for v in values if v is not None),
                {kind: float(t) for kind, t in zip(HANDLED, handled, strict=True) if t},
            )
            for customer, (flags, values, handled) in zip(customers, replies, strict=True)
        }

    async def read(self, customer: str, now: float) -> CustomerState:
        """A customer's history as it is (nothing added)."""
        return (await self.record({customer: ()}, now))[customer]

    async def mark_handled(self, customer: str, kind: AlertKind, up_to: float) -> None:
        """A person handled the customer's ``kind`` follow-up: its contacts up to event time
        ``up_to`` have been dealt with and raise no new one."""
        contacts = self.redis_keys(customer)[0]
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(contacts, _mark(kind), repr(up_to))
        pipe.expire(contacts, int(self.history_seconds))
        await pipe.execute()


def _mark(kind: AlertKind) -> str:
    """The hash field of a handled mark (contact ids start with their source, never !)."""
    return f"!{kind}"
