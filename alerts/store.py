"""Alert state in Redis, shared by every worker and kept across restarts.

* ``<prefix>:alerts:active`` — hash: fingerprint → the pending or firing alert (JSON).
  Creation uses ``HSETNX`` so two workers that see the same incident make one alert.
* ``<prefix>:alerts:summaries`` — hash: fingerprint → the alert's summary (:class:`Stored`
  and a digest of its state, compact JSON), written with the alert: what the timer reads of
  every active alert at every step, where the states themselves would be megabytes.
* ``<prefix>:alerts:acks`` — hash: fingerprint → who acknowledged which alert id. Kept
  beside the alert, so that an acknowledgement through the API never races a worker
  saving the alert; merged in when alerts are read.
* ``<prefix>:alerts:history`` — list of the last resolved alerts, newest first (capped).
* ``<prefix>:silences`` — hash: silence id → silence (JSON); expired ones are removed
  when read.
* ``<prefix>:baseline:{<rule>}`` — hash: window key → the key's baseline (JSON);
  ``<prefix>:baseline:{<rule>}:keys`` — sorted set of the rule's keys by last seen;
  ``<prefix>:baseline:step`` — which baseline step was taken last (one worker per step).

Every command touches one key, and the step lock is a one-key script, so this works on
Redis Cluster as it is (pipelines are non-transactional, split per node by the client).
The key names are made in :mod:`vocwatch.redis_keys`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from alerts.baseline import Baseline
from alerts.lifecycle import Ack, Alert
from alerts.silences import Silence
from vocwatch import redis_keys
from vocwatch.vocabulary import AlertKind, AlertStatus, Priority

log = logging.getLogger(__name__)

KEY_RETENTION_SECONDS = 14 * 86400  # keys unseen this long stop being learned


# The kinds of alert kept whole between reads: few, and every one of them read at every
# step. A customer's alert is summarised: whole it takes about 13 kB of a worker's heap (its
# details, counts and samples), and thousands are open in a busy hour (docs/performance.md).
KEPT_WHOLE = frozenset({AlertKind.WINDOW, AlertKind.EMERGING_TOPIC})
# Every this many reads the summaries are checked against the states' fingerprints even when
# their numbers agree (a summary lost and another left over would hide from the count).
RECONCILE_READS = 60


class Stored(NamedTuple):
    """What the timer needs to know of every active alert at every step (and the API, to
    choose the alerts it lists)."""

    fingerprint: str
    id: str
    kind: AlertKind
    rule: str
    status: AlertStatus
    priority: Priority
    first_seen: float
    updated_at: float
    sinks: tuple[str, ...]

    @classmethod
    def of(cls, alert: Alert) -> Stored:
        return cls(
            alert.fingerprint,
            alert.id,
            alert.kind,
            alert.rule,
            alert.status,
            alert.priority,
            alert.first_seen,
            alert.updated_at,
            alert.route.sinks if alert.route else (),
        )

    def dump(self, digest: bytes) -> str:
        """The summary as stored, with the digest of the alert's stored state."""
        return json.dumps(
            [
                self.id,
                self.kind,
                self.rule,
                self.status,
                self.priority,
                self.first_seen,
                self.updated_at,
                self.sinks,
                digest.hex(),
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, fingerprint: str, raw: bytes | str) -> tuple[Stored, bytes] | None:
        """A summary and its state's digest; None (and a warning) if unreadable."""
        try:
            item, kind, rule, status, priority, first, updated, sinks, digest = json.loads(raw)
            summary = cls(
                fingerprint,
                item,
                AlertKind(kind),
                rule,
                AlertStatus(status),
                Priority(priority),
                first,
                updated,
                tuple(sinks),
            )
            return summary, bytes.fromhex(digest)
        except (ValueError, TypeError) as exc:
            log.warning("ignoring an alert summary this version cannot read (%s)", exc)
            return None


StatesReader = Callable[[list[str]], Awaitable[list[Any]]]


class ActiveAlerts:
    """The active alerts of one read of the store: every alert's :class:`Stored` summary,
    the alerts kept whole, and the others read whole when asked for (one round trip)."""

    def __init__(
        self,
        summaries: list[Stored],
        acks: Mapping[str, bytes | str],
        whole: Mapping[str, Alert],
        states: StatesReader | None = None,
    ) -> None:
        self.summaries = summaries
        self._acks = acks
        self._whole = whole
        self._states = states

    async def alert(self, summary: Stored) -> Alert | None:
        """The whole alert; None if it is no longer active."""
        found = await self.alerts([summary])
        return found[0] if found else None

    async def alerts(self, summaries: Iterable[Stored]) -> list[Alert]:
        """The whole alerts, in order, less those no longer active (resolved since the
        summaries were read) or unreadable."""
        chosen = list(summaries)
        wanted = [s.fingerprint for s in chosen if s.fingerprint not in self._whole]
        read: dict[str, Alert | None] = {}
        if wanted and self._states is not None:
            states = await self._states(wanted)
            read = {fp: _load(v) if v else None for fp, v in zip(wanted, states, strict=True)}
        found = []
        for summary in chosen:
            fp = summary.fingerprint
            alert = self._whole.get(fp) or read.get(fp)
            if alert is not None:
                found.append(_with_ack(alert, self._acks.get(fp)))
        return found


class RedisAlertStore:
    def __init__(self, redis: Any, *, prefix: str, history: int = 500) -> None:
        self.redis = redis
        self.key = redis_keys.alerts_active(prefix)
        self.summaries_key = redis_keys.alerts_summaries(prefix)
        self.acks_key = redis_keys.alerts_acks(prefix)
        self.history_key = redis_keys.alerts_history(prefix)
        self.silences_key = redis_keys.silences(prefix)
        self.history_size = history
        # The timer reads every active alert's summary at each step, and most are as they
        # were: a summary is parsed again only when it changed. fingerprint → (stored
        # summary, summary, digest); (digest, alert) of the kinds kept whole (KEPT_WHOLE).
        self._summaries: dict[str, tuple[bytes | str, Stored, bytes]] = {}
        self._whole: dict[str, tuple[bytes, Alert]] = {}
        self._reads = 0

    async def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]:
        if not fingerprints:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(self.key, list(fingerprints))
        pipe.hmget(self.acks_key, list(fingerprints))
        values, acks = await pipe.execute()
        loaded = {
            fp: (_load(v), a) for fp, v, a in zip(fingerprints, values, acks, strict=True) if v
        }
        return {fp: _with_ack(alert, a) for fp, (alert, a) in loaded.items() if alert}

    async def all_active(self) -> list[Alert]:
        active = await self.active()
        return await active.alerts(active.summaries)

    async def active(self) -> ActiveAlerts:
        """Every active alert's summary, in one read (the alerts kept whole too, read
        again when their state changed); other alerts whole on request."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.summaries_key)
        pipe.hgetall(self.acks_key)
        pipe.hlen(self.key)
        values, acks, states = await pipe.execute()
        summaries: dict[str, tuple[bytes | str, Stored, bytes]] = {}
        for field, raw in values.items():
            fp = _text(field)
            known = self._summaries.get(fp)
            if known is None or known[0] != raw:
                loaded = Stored.load(fp, raw)
                if loaded is None:
                    continue
                known = (raw, *loaded)
            summaries[fp] = known
        self._reads += 1
        if states != len(summaries) or self._reads % RECONCILE_READS == 0:
            summaries = await self._reconcile(summaries)
        self._summaries = summaries
        whole = await self._kept_whole(summaries)
        return ActiveAlerts(
            [summary for _, summary, _ in summaries.values()],
            {_text(fp): ack for fp, ack in acks.items()},
            whole,
            self._read_states,
        )

    async def _read_states(self, fingerprints: list[str]) -> list[Any]:
        return list(await self.redis.hmget(self.key, fingerprints))

    async def _kept_whole(
        self, summaries: Mapping[str, tuple[bytes | str, Stored, bytes]]
    ) -> dict[str, Alert]:
        """The alerts of the kinds kept whole, read again when their digest changed."""
        kept = {fp: digest for fp, (_, s, digest) in summaries.items() if s.kind in KEPT_WHOLE}
        stale = [fp for fp, digest in kept.items() if self._whole.get(fp, (b"",))[0] != digest]
        whole = {fp: self._whole[fp] for fp in kept if fp not in stale}
        for fp, state in zip(stale, await self._read_states(stale) if stale else [], strict=True):
            alert = _load(state) if state else None
            if alert is not None:
                whole[fp] = (_digest(state), alert)
        self._whole = whole
        return {fp: alert for fp, (_, alert) in whole.items()}

    async def _reconcile(
        self, summaries: dict[str, tuple[bytes | str, Stored, bytes]]
    ) -> dict[str, tuple[bytes | str, Stored, bytes]]:
        """Make the summaries match the active alerts: written for a state that has none
        (left by a version before summaries, or a worker stopped between the two writes),
        forgotten where the state is gone."""
        fingerprints = {_text(fp) for fp in await self.redis.hkeys(self.key)}
        missing = sorted(fingerprints - summaries.keys())
        written = {}
        states = await self._read_states(missing) if missing else []
        for fp, state in zip(missing, states, strict=True):
            alert = _load(state) if state else None
            if alert is not None:
                summary = Stored.of(alert)
                raw = summary.dump(_digest(state))
                summaries[fp] = (raw, summary, _digest(state))
                written[fp] = raw
        orphans = [fp for fp in summaries if fp not in fingerprints]
        pipe = self.redis.pipeline(transaction=False)
        if written:
            pipe.hset(self.summaries_key, mapping=written)
        if orphans:
            pipe.hdel(self.summaries_key, *orphans)
        if written or orphans:
            await pipe.execute()
            log.info(
                "alert summaries reconciled: %d written, %d left over removed",
                len(written),
                len(orphans),
            )
        return {fp: known for fp, known in summaries.items() if fp in fingerprints}

    async def create(self, alert: Alert) -> bool:
        """Store a new alert; False if another worker created one for it first."""
        state = _dump(alert)
        if not await self.redis.hsetnx(self.key, alert.fingerprint, state):
            return False
        await self.redis.hset(self.summaries_key, alert.fingerprint, _summary(alert, state))
        return True

    async def save(self, alert: Alert) -> None:
        pipe = self.redis.pipeline(transaction=False)
        if alert.status != AlertStatus.RESOLVED:
            state = _dump(alert)
            pipe.hset(self.key, alert.fingerprint, state)
            pipe.hset(self.summaries_key, alert.fingerprint, _summary(alert, state))
            await pipe.execute()
            return
        pipe.hdel(self.key, alert.fingerprint)
        pipe.hdel(self.summaries_key, alert.fingerprint)
        pipe.hdel(self.acks_key, alert.fingerprint)
        pipe.lpush(self.history_key, _dump(alert, keep_ack=True))
        pipe.ltrim(self.history_key, 0, self.history_size - 1)
        await pipe.execute()

    async def save_many(self, alerts: Sequence[Alert]) -> None:
        """Store active (pending or firing) alerts in one round trip."""
        if any(alert.status == AlertStatus.RESOLVED for alert in alerts):
            raise ValueError("save_many stores active alerts; a resolved one goes through save")
        if alerts:
            states = {alert.fingerprint: _dump(alert) for alert in alerts}
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(self.key, mapping=states)
            pipe.hset(
                self.summaries_key,
                mapping={a.fingerprint: _summary(a, states[a.fingerprint]) for a in alerts},
            )
            await pipe.execute()

    async def drop(self, alert: Alert) -> None:
        """Forget a pending alert whose breach ended before it fired."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hdel(self.key, alert.fingerprint)
        pipe.hdel(self.summaries_key, alert.fingerprint)
        await pipe.execute()

    async def history(self, limit: int = 100) -> list[Alert]:
        loaded = [_load(v) for v in await self.redis.lrange(self.history_key, 0, limit - 1)]
        return [alert for alert in loaded if alert]

    async def acknowledge(self, alert_id: str, ack: Ack) -> Alert | None:
        """Acknowledge the active alert ``alert_id``; None if there is no such alert."""
        fp = alert_id.split("-", 1)[0]
        alert = (await self.get_many([fp])).get(fp)
        if alert is None or alert.id != alert_id:
            return None
        record = {"alert_id": alert_id, **dataclasses.asdict(ack)}
        await self.redis.hset(self.acks_key, fp, json.dumps(record, ensure_ascii=False))
        return dataclasses.replace(alert, acknowledged=ack)

    async def add_silence(self, silence: Silence) -> None:
        await self.redis.hset(
            self.silences_key, silence.id, json.dumps(silence.to_json(), ensure_ascii=False)
        )

    async def silences(self, now: float) -> list[Silence]:
        """Active silences; expired ones are deleted."""
        raw = await self.redis.hgetall(self.silences_key)
        silences = [Silence.from_json(json.loads(v)) for v in raw.values()]
        expired = [s.id for s in silences if s.ends_at <= now]
        if expired:
            await self.redis.hdel(self.silences_key, *expired)
        return sorted((s for s in silences if s.ends_at > now), key=lambda s: s.ends_at)

    async def delete_silence(self, silence_id: str) -> bool:
        return bool(await self.redis.hdel(self.silences_key, silence_id))


class RedisBaselineStore:
    """Baselines of spike rules, the keys they are learned for, and the step lock."""

    def __init__(self, redis: Any, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, rule: str) -> str:
        return redis_keys.baselines(self.prefix, rule)

    async def claim_step(self, step: int) -> bool:
        """True for the one worker that takes baseline step ``step``."""
        return await claim_step(self.redis, redis_keys.baseline_step(self.prefix), step)

    async def load(self, rules: Iterable[str]) -> dict[str, dict[str, Baseline]]:
        names = list(rules)
        if not names:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._key(name))
        replies = await pipe.execute()
        return {
            name: {_text(k): Baseline.from_json(json.loads(v)) for k, v in reply.items()}
            for name, reply in zip(names, replies, strict=True)
        }

    async def save(self, rule: str, baselines: Mapping[str, Baseline]) -> None:
        if baselines:
            await self.redis.hset(
                self._key(rule), mapping={k: json.dumps(b.to_json()) for k, b in baselines.items()}
            )

    async def register(self, rule: str, keys: Iterable[str], now: float) -> None:
        keys = list(keys)
        if keys:
            await self.redis.zadd(
                redis_keys.baseline_keys(self.prefix, rule), dict.fromkeys(keys, now)
            )

    async def keys(self, rule: str, now: float) -> list[str]:
        """The rule's keys seen lately; the ones not seen for two weeks are forgotten."""
        zset = redis_keys.baseline_keys(self.prefix, rule)
        stale = now - KEY_RETENTION_SECONDS
        old = [_text(k) for k in await self.redis.zrangebyscore(zset, "-inf", stale)]
        if old:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrem(zset, *old)
            pipe.hdel(self._key(rule), *old)
            await pipe.execute()
        return [_text(k) for k in await self.redis.zrangebyscore(zset, stale, "+inf")]


async def claim_step(redis: Any, key: str, step: int) -> bool:
    """True for the one caller that takes step ``step`` of the lock ``key`` (a one-key
    script; a step number only goes up, so a late worker does not take an old step again)."""
    return bool(await redis.eval(_CLAIM_STEP, 1, key, step))


_CLAIM_STEP = (
    "local last = tonumber(redis.call('GET', KEYS[1]) or '-1') "
    "if tonumber(ARGV[1]) > last then redis.call('SET', KEYS[1], ARGV[1]) "
    "return 1 end return 0"
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _dump(alert: Alert, *, keep_ack: bool = False) -> str:
    state = alert.to_state()
    if not keep_ack:
        state.pop("acknowledged")  # an active alert's lives in the acks hash
    return json.dumps(state, ensure_ascii=False)


def _summary(alert: Alert, state: str) -> str:
    return Stored.of(alert).dump(_digest(state))


def _digest(state: bytes | str) -> bytes:
    return hashlib.blake2b(
        state if isinstance(state, bytes) else state.encode(), digest_size=16
    ).digest()


def _load(value: bytes | str) -> Alert | None:
    """An alert from its stored state; None (and a warning) for state this version cannot
    read — left by an older version, say — rather than a worker that cannot start."""
    try:
        return Alert.from_state(json.loads(value))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning(
            "ignoring alert state this version cannot read (%s: %s)", type(exc).__name__, exc
        )
        return None


def _with_ack(alert: Alert, raw: bytes | str | None) -> Alert:
    if not raw:
        return alert
    data = json.loads(raw)
    if data.get("alert_id") != alert.id:  # an acknowledgement of an earlier incident
        return alert
    return dataclasses.replace(
        alert, acknowledged=Ack(data["by"], data["at"], data.get("note", ""))
    )
