"""Each customer's recent contacts (客户接触历史), kept in Redis.

One Redis hash per customer, ``<prefix>:customer:{<customer>}`` (named in
:mod:`vocwatch.redis_keys`; the customer's hash tag puts it in one Redis Cluster slot):

* contact id (``<source>:<event id>``) → ``<event time>`` TAB the contact (compact JSON,
  see :class:`alerts.contacts.Contact`);
* ``!customer_risk`` / ``!detractor`` → the event time up to which that kind of follow-up
  was handled (see :meth:`RedisCustomerHistory.mark_handled`);
* ``!open:customer_risk`` / ``!open:detractor`` → ``1`` while the customer may have an
  open alert of that kind (see :meth:`RedisCustomerHistory.mark_open`): only then, or when
  one may open, are the customer's alerts read.

History goes by **event time**: a contact from two hours or two days ago that arrives now
(a backlog, a replay, a late export) is added where it belongs; only contacts older than
the horizon (``history_days``) are ignored, and those that age past it are dropped. A
contact id is added once (the hash is the dedup), so a replayed event changes nothing. A
customer keeps at most ``max_contacts`` contacts, the newest; a contact older than every
contact of a full history is not added (it would be the first to go), which keeps a replay
of a contact dropped for the bound from coming back. The hash expires ``history_days``
after its last write.

A batch's updates are one round trip: on one server one script call for all the batch's
customers, on a Redis Cluster one per slot (a script may only touch keys of one slot); by
SHA-1, reloaded after NOSCRIPT, as the window script is (:func:`alerts.windows.run_script`).
The script reads each customer's whole hash (a history is small and bounded), decides in
Lua, and answers one string per customer — the flags, the marks and every contact kept —
which is cheap to send and to parse: this runs for every customer of every batch.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from redis.crc import key_slot

from alerts.contacts import Contact, customer_key
from alerts.windows import DUPLICATE, LATE, NEW, RedisLike, run_script
from vocwatch import redis_keys
from vocwatch.vocabulary import AlertKind

__all__ = ["DUPLICATE", "LATE", "NEW", "CustomerState", "RedisCustomerHistory"]

#: The follow-ups whose handling is marked in a customer's history, in the order the
#: script answers their marks.
HANDLED = (AlertKind.CUSTOMER_RISK, AlertKind.DETRACTOR)
_SEPARATOR = "\x1e"  # between the parts of the script's answer (ASCII record separator)

# KEYS: customers' hashes (of one slot). ARGV: "<now> <horizon seconds> <max contacts>",
# then per key: how many contacts, and per contact its id and "<event time>\t<JSON>".
# Answers one string per key: the flags (a digit per contact: 1 NEW, 0 DUPLICATE, 2 LATE),
# the two handled marks, the two open marks, then every contact kept but those just added
# (the caller has them) ("<time>\t<JSON>"), separated by \x1e.
_RECORD = """
local now, span, cap = string.match(ARGV[1], '(%S+) (%S+) (%S+)')
now, span, cap = tonumber(now), tonumber(span), tonumber(cap)
local horizon = now - span

local function record(key, first, n)
  local stored = redis.call('HGETALL', key)
  local kept, times, count = {}, {}, 0
  local oldest, oldest_id = nil, nil
  local gone = {}
  for i = 1, #stored, 2 do
    local id, value = stored[i], stored[i + 1]
    if string.sub(id, 1, 1) ~= '!' then
      local ts = tonumber(string.match(value, '^[^\\t]+'))
      if ts < horizon then
        gone[#gone + 1] = id
      else
        kept[id], times[id], count = value, ts, count + 1
        if oldest == nil or ts < oldest then oldest, oldest_id = ts, id end
      end
    end
  end
  local flags, fresh = {}, {}
  for i = first, first + 2 * n - 1, 2 do
    local id, value = ARGV[i], ARGV[i + 1]
    local ts = tonumber(string.match(value, '^[^\\t]+'))
    if kept[id] then
      flags[#flags + 1] = '0'
    elseif ts < horizon or (count >= cap and ts <= oldest) then
      flags[#flags + 1] = '2'
    else
      if count >= cap then
        gone[#gone + 1] = oldest_id
        kept[oldest_id], times[oldest_id], count = nil, nil, count - 1
        oldest, oldest_id = nil, nil
        for other, t in pairs(times) do
          if oldest == nil or t < oldest then oldest, oldest_id = t, other end
        end
      end
      kept[id], times[id], count = value, ts, count + 1
      if oldest == nil or ts < oldest then oldest, oldest_id = ts, id end
      fresh[#fresh + 1] = id
      flags[#flags + 1] = '1'
    end
  end
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
  local added = {}
  for _, id in ipairs(fresh) do
    if kept[id] then
      added[#added + 1] = id
      added[#added + 1] = kept[id]
    end
  end
  if #added > 0 then
    redis.call('HSET', key, unpack(added))
    redis.call('EXPIRE', key, span)
  end
  local marks = redis.call(
    'HMGET', key, '!customer_risk', '!detractor', '!open:customer_risk', '!open:detractor')
  local answer = {table.concat(flags), marks[1] or '', marks[2] or '', marks[3] or '',
                  marks[4] or ''}
  local new = {}
  for _, id in ipairs(fresh) do new[id] = true end
  for id, value in pairs(kept) do
    if not new[id] then answer[#answer + 1] = value end
  end
  return table.concat(answer, '\\30')
end

local answers, at = {}, 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[at])
  answers[k] = record(KEYS[k], at + 1, n)
  at = at + 1 + 2 * n
end
return answers
"""
_RECORD_SHA = hashlib.sha1(_RECORD.encode(), usedforsecurity=False).hexdigest()


class CustomerState(NamedTuple):
    """A customer's history after an update (a named tuple: one is made per customer of
    every batch)."""

    flags: tuple[int, ...]  # NEW / DUPLICATE / LATE, per contact given, in order
    contacts: tuple[Contact, ...]  # every contact kept, oldest first
    # kind → event time up to which that follow-up was handled
    handled: Mapping[AlertKind, float] = MappingProxyType({})
    open: frozenset[AlertKind] = frozenset()  # kinds that may have an open alert


class RedisCustomerHistory:
    def __init__(
        self,
        redis: RedisLike,
        *,
        prefix: str,
        history_seconds: float,
        max_contacts: int,
        cluster: bool = False,
    ) -> None:
        """``cluster``: Redis is a Redis Cluster, where one script call may only touch keys
        of one slot; on one server a batch's customers are one script call."""
        self.redis = redis
        self.prefix = prefix
        self.history_seconds = history_seconds
        self.max_contacts = max_contacts
        self.cluster = cluster

    def redis_key(self, customer: str) -> str:
        """The key of a customer, by its reference (:func:`alerts.contacts.customer_ref`)."""
        return redis_keys.customer_contacts(self.prefix, customer_key(customer))

    async def record(
        self,
        contacts: Mapping[str, Sequence[Contact]],
        now: float,
        *,
        encoded: Mapping[str, str] | None = None,
    ) -> dict[str, CustomerState]:
        """Add each customer's new contacts; return each customer's history after.
        ``encoded``: contact id → :meth:`Contact.to_json`, for contacts whose JSON was made
        already (by the analysis process)."""
        encoded = encoded or {}
        if not contacts:
            return {}
        head = f"{now!r} {int(self.history_seconds)} {self.max_contacts}"
        groups: dict[int, list[str]] = defaultdict(list)
        for customer in contacts:
            slot = key_slot(self.redis_key(customer).encode()) if self.cluster else 0
            groups[slot].append(customer)
        calls, numkeys = [], []
        for group in groups.values():
            args: list[Any] = [*(self.redis_key(customer) for customer in group), head]
            for customer in group:
                args.append(len(contacts[customer]))
                for contact in contacts[customer]:
                    value = encoded.get(contact.id) or contact.to_json()
                    args += [contact.id, f"{contact.time!r}\t{value}"]
            calls.append(args)
            numkeys.append(len(group))
        replies = await run_script(self.redis, _RECORD, _RECORD_SHA, numkeys, calls)
        return {
            customer: _state(answer, contacts[customer])
            for group, reply in zip(groups.values(), replies, strict=True)
            for customer, answer in zip(group, reply, strict=True)
        }

    async def read(self, customer: str, now: float) -> CustomerState:
        """A customer's history as it is (nothing added)."""
        return (await self.record({customer: ()}, now))[customer]

    async def mark_open(self, marks: Mapping[tuple[str, AlertKind], bool]) -> None:
        """Note, per (customer, kind), whether the customer may have an open alert of that
        kind (one pipeline; a mark set on a customer without history expires with it)."""
        if not marks:
            return
        pipe = self.redis.pipeline(transaction=False)
        for (customer, kind), is_open in marks.items():
            key = self.redis_key(customer)
            if is_open:
                pipe.hset(key, f"!open:{kind}", "1")
                pipe.expire(key, int(self.history_seconds))
            else:
                pipe.hdel(key, f"!open:{kind}")
        await pipe.execute()

    async def mark_handled(self, customer: str, kind: AlertKind, up_to: float) -> None:
        """A person handled the customer's ``kind`` follow-up: its contacts up to event time
        ``up_to`` have been dealt with and raise no new one."""
        key = self.redis_key(customer)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, f"!{kind}", repr(up_to))
        pipe.expire(key, int(self.history_seconds))
        await pipe.execute()


def _state(reply: bytes | str, given: Sequence[Contact]) -> CustomerState:
    """A customer's state from the script's answer and the contacts given to it (those
    added are not sent back)."""
    if reply in _FIRST_CONTACT and len(given) == 1:  # most customers of a batch
        return CustomerState((NEW,), tuple(given), _NOTHING_HANDLED, frozenset())
    text = reply.decode() if isinstance(reply, bytes) else reply
    flags, *rest = text.split(_SEPARATOR)
    marks, opened, stored = rest[:2], rest[2:4], rest[4:]
    kept = [Contact.from_json(value.split("\t", 1)[1]) for value in stored]
    kept += [c for c, flag in zip(given, flags, strict=True) if flag == "1"]
    if len(kept) > 1:
        kept.sort(key=lambda c: (c.time, c.id))
    # Most customers have no mark at all: their state shares the empty ones.
    handled = (
        {kind: float(mark) for kind, mark in zip(HANDLED, marks, strict=True) if mark}
        if any(marks)
        else _NOTHING_HANDLED
    )
    is_open = (
        frozenset(kind for kind, mark in zip(HANDLED, opened, strict=True) if mark)
        if any(opened)
        else frozenset()
    )
    return CustomerState(tuple(map(int, flags)), tuple(kept), handled, is_open)


_NOTHING_HANDLED: Mapping[AlertKind, float] = MappingProxyType({})
# The answer for a customer seen for the first time (or again after the horizon): its one
# contact added, no mark, nothing kept from before.
_FIRST_CONTACT = frozenset({f"{NEW}{_SEPARATOR * 4}", f"{NEW}{_SEPARATOR * 4}".encode()})
