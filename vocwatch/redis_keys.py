"""Every Redis key (and the one pub/sub channel) of the service: the whole layout in one place.

Every name starts with ``<prefix>``, the app id (``VOCWATCH_APP_ID``), so that several
deployments can share one Redis. A part in braces is the key's *hash tag*: Redis Cluster
(集群) places a key by its first ``{…}``, so the keys one script touches share a slot, and
different window keys spread over the nodes. (So the app id may not contain braces on a
cluster: :mod:`vocwatch.settings` refuses it.)

Key — type — owner: what it holds; lifetime or cap.

``<prefix>:{<window key>}:b`` — hash — :mod:`alerts.windows`
    time buckets of one window key: event counts and sums. EXPIRE the longest window plus
    two buckets, renewed on every write; older buckets are trimmed.
``<prefix>:{<window key>}:ids`` — sorted set — :mod:`alerts.windows`
    ids of the events counted (the dedup), scored by event time. Same EXPIRE; ids older than
    the longest window are trimmed.
``<prefix>:series:<dimension>:<day>`` — hash — :mod:`alerts.series`
    per-minute totals per platform or per category, for the console. EXPIRE 3 days, renewed
    on every write.
``<prefix>:posts:<hour>`` — sorted set — :mod:`alerts.series`
    the hour's negative social posts (masked JSON) by reach. Capped at 50; EXPIRE 2 days.
``<prefix>:alerts:active`` — hash — :mod:`alerts.store`
    fingerprint → the pending or firing alert (JSON). No TTL: an entry is deleted when its
    alert resolves, or is dropped before it fired.
``<prefix>:alerts:summaries`` — hash — :mod:`alerts.store`
    fingerprint → the active alert's summary (kind, status, priority, times, sinks) and
    the digest of its state: what the timer reads of every alert at each step. Written and
    deleted with the alert's state, repaired from the states when they disagree.
``<prefix>:alerts:acks`` — hash — :mod:`alerts.store`
    fingerprint → who acknowledged which alert id. No TTL: deleted with its alert.
``<prefix>:alerts:history`` — list — :mod:`alerts.store`
    the last resolved alerts (JSON), newest first. Capped (LTRIM) at 500 by default.
``<prefix>:silences`` — hash — :mod:`alerts.store`
    silence id → silence (JSON). No TTL: an expired silence is deleted when read.
``<prefix>:baseline:{<rule>}`` — hash — :mod:`alerts.store`
    window key → its learned baseline (JSON), per spike rule. A key unseen for 14 days is
    deleted.
``<prefix>:baseline:{<rule>}:keys`` — sorted set — :mod:`alerts.store`
    the spike rule's window keys by last seen. Unseen for 14 days: removed.
``<prefix>:baseline:step`` — string — :mod:`alerts.store`
    the last baseline step taken (a one-key script lets one worker take each step). No TTL.
``<prefix>:emerging:report:<worker>`` — string — :mod:`alerts.emerging_store`
    one worker's latest emerging-topic report (JSON: its texts per minute and its groups of
    similar texts, :class:`alerts.emerging.WorkerReport`). EXPIRE a few evaluation steps:
    a stopped worker's report goes away by itself.
``<prefix>:emerging:workers`` — sorted set — :mod:`alerts.emerging_store`
    the workers that reported, by time of their last report; older than the reports' EXPIRE:
    removed.
``<prefix>:emerging:step`` — string — :mod:`alerts.emerging_store`
    the last emerging-topic step taken (a one-key script lets one worker decide each step).
    No TTL.
``<prefix>:emerging:known`` — hash — :mod:`alerts.emerging_store`
    topic id → a topic that emerged (JSON: its words, first and last seen): what keeps its
    id stable. Deleted when not seen for the baseline span (an hour by default).
``<prefix>:emerging:watch`` — string — :mod:`alerts.emerging_store`
    the last step's busiest groups (JSON, masked samples only), for ``GET /api/emerging``.
    EXPIRE a few evaluation steps.
``<prefix>:customer:{<customer>}`` — hash — :mod:`alerts.customer_history`
    one customer's recent contacts: contact id → event time and contact (JSON); and
    ``!<kind>`` → the event time up to which a ``customer_risk`` or ``detractor``
    follow-up was handled. At most ``max_contacts`` contacts, none older than
    ``history_days``; EXPIRE ``history_days``, renewed on every write.
``<prefix>:kpi:<hour>`` — hash — :mod:`alerts.kpis`
    one hour's KPI sums (calls, first-contact resolutions, wait seconds, survey responses
    and scores, contacts and repeat contacts) overall, per product and per region.
    EXPIRE 2 days.
``<prefix>:{corrections}`` — hash — :mod:`streams.corrections_store`
    text key (a hash of the cleaned text) → the correction (纠正) of that text's category or
    sentiment (JSON: a LABELS line). At most 50 000 entries: past that, the least recently
    corrected are dropped. No TTL: corrections wait for the next ``vocwatch adapt``.
``<prefix>:{corrections}:order`` — sorted set — :mod:`streams.corrections_store`
    the text keys by time of their last correction: the listing order and the cap.
``<prefix>:alerts:live`` — pub/sub channel — :mod:`alerts.engine`
    the live alert feed of every worker's console. A channel: nothing is stored.
``<stream>`` — stream — :mod:`alerts.notifiers`
    the records of a ``redis_stream`` sink, under the name its sink configuration gives
    (``stream:``, not prefixed; see :mod:`alerts.sinkconfig`). XADD ``MAXLEN ~ maxlen``
    (10 000 by default).

Scripts: the window script touches :func:`window_buckets` and :func:`window_ids` of one window
key (one slot: the window key's tag); the customer script the :func:`customer_contacts` of
one slot (all of a batch's customers on one server); the corrections script both correction
keys (one slot: the tag ``corrections``); the step locks touch
:func:`baseline_step` or :func:`emerging_step` alone. Every other command touches one key.
docs/alerts.md and docs/customers.md describe the values in detail.
"""

from __future__ import annotations


def window_buckets(prefix: str, window_key: str) -> str:
    """Hash of time buckets of one window key (see :mod:`alerts.windows`)."""
    return f"{prefix}:{{{window_key}}}:b"


def window_ids(prefix: str, window_key: str) -> str:
    """Sorted set of the event ids a window key counted; shares the buckets' slot."""
    return f"{prefix}:{{{window_key}}}:ids"


def series(prefix: str, dimension: str, day: int) -> str:
    """Hash of one day's minute totals of a dimension (``platform`` or ``category``)."""
    return f"{prefix}:series:{dimension}:{day}"


def posts(prefix: str, hour: int) -> str:
    """Sorted set of one hour's most-reached negative social posts."""
    return f"{prefix}:posts:{hour}"


def alerts_active(prefix: str) -> str:
    """Hash: fingerprint → the pending or firing alert."""
    return f"{prefix}:alerts:active"


def alerts_summaries(prefix: str) -> str:
    """Hash: fingerprint → the active alert's summary and the digest of its state."""
    return f"{prefix}:alerts:summaries"


def alerts_acks(prefix: str) -> str:
    """Hash: fingerprint → who acknowledged which alert id."""
    return f"{prefix}:alerts:acks"


def alerts_history(prefix: str) -> str:
    """List of the last resolved alerts, newest first."""
    return f"{prefix}:alerts:history"


def silences(prefix: str) -> str:
    """Hash: silence id → silence."""
    return f"{prefix}:silences"


def baselines(prefix: str, rule: str) -> str:
    """Hash: window key → baseline, of one spike rule."""
    return f"{prefix}:baseline:{{{rule}}}"


def baseline_keys(prefix: str, rule: str) -> str:
    """Sorted set of a spike rule's window keys by last seen; shares the baselines' slot."""
    return f"{baselines(prefix, rule)}:keys"


def baseline_step(prefix: str) -> str:
    """The last baseline step taken (the step lock)."""
    return f"{prefix}:baseline:step"


def customer_contacts(prefix: str, customer: str) -> str:
    """Hash of one customer's contacts and handled marks (see :mod:`alerts.customer_history`);
    ``customer`` is the customer's quoted reference (:func:`alerts.contacts.customer_key`).
    The braces make it the key's hash tag: each customer's key lands on a slot of its own."""
    return f"{prefix}:customer:{{{customer}}}"


def kpis(prefix: str, hour: int) -> str:
    """Hash of one hour's KPI sums (see :mod:`alerts.kpis`)."""
    return f"{prefix}:kpi:{hour}"


def live_channel(prefix: str) -> str:
    """The pub/sub channel of the live alert feed (a channel, not a key)."""
    return f"{prefix}:alerts:live"


def emerging_report(prefix: str, worker: str) -> str:
    """One worker's latest emerging-topic report."""
    return f"{prefix}:emerging:report:{worker}"


def emerging_workers(prefix: str) -> str:
    """Sorted set of the workers that reported, by time of their last report."""
    return f"{prefix}:emerging:workers"


def emerging_step(prefix: str) -> str:
    """The last emerging-topic step taken (the step lock)."""
    return f"{prefix}:emerging:step"


def emerging_known(prefix: str) -> str:
    """Hash: topic id → a topic that emerged."""
    return f"{prefix}:emerging:known"


def emerging_watch(prefix: str) -> str:
    """The last step's busiest groups, for the API."""
    return f"{prefix}:emerging:watch"


def corrections(prefix: str) -> str:
    """Hash: text key → the correction of that text (see :mod:`streams.corrections_store`)."""
    return f"{prefix}:{{corrections}}"


def corrections_order(prefix: str) -> str:
    """Sorted set of the corrected text keys by time; shares the corrections' slot."""
    return f"{corrections(prefix)}:order"
