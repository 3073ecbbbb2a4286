"""The ``sinks:`` section of the alert configuration (告警推送目标): validation and set-up.

::

    sinks:
      wecom_support: {type: wecom, url_env: VOCWATCH_SINK_WECOM_SUPPORT_URL}
      dingtalk_tech: {type: dingtalk, url_env: VOCWATCH_SINK_DINGTALK_TECH_URL,
                      secret_env: VOCWATCH_SINK_DINGTALK_TECH_SECRET}
      feishu_social: {type: feishu, url_env: VOCWATCH_SINK_FEISHU_SOCIAL_URL,
                      secret_env: VOCWATCH_SINK_FEISHU_SOCIAL_SECRET}
      alertmanager: {type: alertmanager, url_env: VOCWATCH_SINK_ALERTMANAGER_URL}
      webhook: {type: webhook, url_env: VOCWATCH_SINK_WEBHOOK_URL,
                token_env: VOCWATCH_SINK_WEBHOOK_TOKEN}
      stream: {type: redis_stream, stream: alerts, maxlen: 10000}

URLs, secrets and tokens are never in the file: only the names of ``VOCWATCH_SINK_*``
environment variables, whose values the settings collect and pass in. A sink whose
variable is unset is disabled (one warning naming the variable), so that the development
stack runs without any secret. Optional per sink: ``per_minute`` and ``per_second`` (override
the vendor's rate limit) and ``timeout`` (seconds per request).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from alerts.delivery import DeliveryQueue, Dispatcher, Notifier, QueueLimits, default_budget
from alerts.notifiers import (
    DEFAULT_TIMEOUT,
    AlertmanagerNotifier,
    DingTalkRobot,
    FeishuBot,
    JsonWebhook,
    RedisStreamSink,
    WeComRobot,
)
from alerts.rules import Lines
from vocwatch.errors import ConfigError
from vocwatch.metrics import Metrics

log = logging.getLogger(__name__)

TYPES = ("wecom", "dingtalk", "feishu", "alertmanager", "webhook", "redis_stream")
HTTP_TYPES = frozenset(TYPES) - {"redis_stream"}
ENV_FIELDS = {  # which *_env fields each type may have
    "wecom": ("url_env",),
    "dingtalk": ("url_env", "secret_env"),
    "feishu": ("url_env", "secret_env"),
    "alertmanager": ("url_env",),
    "webhook": ("url_env", "token_env"),
    "redis_stream": (),
}
COMMON_FIELDS = ("type", "per_minute", "per_second", "timeout")
STREAM_FIELDS = ("stream", "maxlen")
DEFAULT_MAXLEN = 10_000
MAX_TIMEOUT = 60.0
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_ENV = re.compile(r"^VOCWATCH_SINK_[A-Z0-9_]+$")
_STREAM = re.compile(r"^[\w:.\-]{1,200}$")


@dataclass(frozen=True)
class SinkSpec:
    name: str
    type: str
    url_env: str | None = None
    secret_env: str | None = None
    token_env: str | None = None
    stream: str | None = None
    maxlen: int = DEFAULT_MAXLEN
    per_minute: int | None = None
    per_second: int | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Every environment variable this sink needs, URL first."""
        return tuple(v for v in (self.url_env, self.secret_env, self.token_env) if v)


def parse_sinks(
    data: Any, source: str = "rules", *, lines: Lines | None = None
) -> dict[str, SinkSpec]:
    """Validate the ``sinks`` mapping; errors name the sink and the field."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            "'sinks' must be a mapping of sink name to settings",
            source=_where(source, lines, ["sinks"]),
        )
    return {
        str(name): _parse_sink(str(name), item, _where(source, lines, ["sinks", name]))
        for name, item in data.items()
    }


def _parse_sink(name: str, item: Any, where: str) -> SinkSpec:
    source = f"{where}: sink '{name}'"
    if not _NAME.match(name):
        raise ConfigError(
            "a sink name is a lower-case letter, then up to 62 lower-case "
            "letters, digits or _ (it is a metric label)",
            source=source,
        )
    if not isinstance(item, Mapping):
        raise ConfigError("expected a mapping with at least 'type'", source=source)
    kind = item.get("type")
    if kind not in TYPES:
        raise ConfigError(f"must be one of {', '.join(TYPES)}", source=source, field="type")
    allowed = {
        *COMMON_FIELDS,
        *ENV_FIELDS[kind],
        *(STREAM_FIELDS if kind == "redis_stream" else ()),
    }
    for field in item:
        if field not in allowed:
            raise ConfigError(
                f"unknown field for a {kind} sink (allowed: {', '.join(sorted(allowed))})",
                source=source,
                field=str(field),
            )
    env = _env_fields(item, kind, source)
    stream, maxlen = _stream_fields(item, kind, source)
    return SinkSpec(
        name=name,
        type=kind,
        url_env=env.get("url_env"),
        secret_env=env.get("secret_env"),
        token_env=env.get("token_env"),
        stream=stream,
        maxlen=maxlen,
        per_minute=_positive_int(item, "per_minute", source),
        per_second=_positive_int(item, "per_second", source),
        timeout=_timeout(item, source),
    )


def _env_fields(item: Mapping[str, Any], kind: str, source: str) -> dict[str, str | None]:
    fields: dict[str, str | None] = {}
    for field in ENV_FIELDS[kind]:
        value = item.get(field)
        if value is None and field == "url_env":
            raise ConfigError(
                "required: the name of the environment variable that holds "
                "the URL, like VOCWATCH_SINK_<NAME>_URL",
                source=source,
                field=field,
            )
        if value is not None and not (isinstance(value, str) and _ENV.match(value)):
            raise ConfigError(
                "must name an environment variable VOCWATCH_SINK_<NAME> "
                "(upper case); the value itself never goes in this file",
                source=source,
                field=field,
            )
        fields[field] = value
    return fields


def _stream_fields(item: Mapping[str, Any], kind: str, source: str) -> tuple[str | None, int]:
    if kind != "redis_stream":
        return None, DEFAULT_MAXLEN
    stream = item.get("stream")
    if not isinstance(stream, str) or not _STREAM.match(stream):
        raise ConfigError(
            "required: the stream's key, letters, digits and _ : . -", source=source, field="stream"
        )
    maxlen = _positive_int(item, "maxlen", source)
    return stream, maxlen if maxlen is not None else DEFAULT_MAXLEN


def _positive_int(item: Mapping[str, Any], field: str, source: str) -> int | None:
    value = item.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be a whole number ≥ 1, not {value!r}", source=source, field=field)
    return value


def _timeout(item: Mapping[str, Any], source: str) -> float:
    value = item.get("timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_TIMEOUT
    ):
        raise ConfigError(
            f"must be a number of seconds in (0, {MAX_TIMEOUT:g}], not {value!r}",
            source=source,
            field="timeout",
        )
    return float(value)


def _where(source: str, lines: Lines | None, path: list[str | int]) -> str:
    line = lines(path) if lines else None
    return f"{source}:{line}" if line else source


# --- building the dispatcher -----------------------------------------------------------------


def build_dispatcher(
    specs: Mapping[str, SinkSpec],
    env: Mapping[str, str],
    session: aiohttp.ClientSession | None,
    redis: Any,
    metrics: Metrics,
    clock: Callable[[], float] = time.time,
    *,
    limits: QueueLimits | None = None,
) -> Dispatcher:
    """A queue per usable sink. A sink whose environment variables are unset (or, for a
    stream, with no Redis client) is disabled, with one warning naming what is missing.

    ``clock`` (wall time) signs robot requests; queues keep time with ``time.monotonic``."""
    queues: dict[str, DeliveryQueue] = {}
    disabled: dict[str, str] = {}
    for name, spec in specs.items():
        missing = _missing(spec, env, session, redis)
        if missing:
            disabled[name] = missing
            log.warning("alert sink %s (%s) disabled: %s", name, spec.type, missing)
            continue
        notifier = make_notifier(spec, env, session, redis, clock)
        budget = default_budget(spec.type, spec.per_minute, spec.per_second)
        queues[name] = DeliveryQueue(notifier, budget, metrics, limits=limits)
    if queues:
        log.info("alert sinks enabled: %s", ", ".join(sorted(queues)))
    return Dispatcher(queues, metrics, disabled=disabled)


def _missing(
    spec: SinkSpec, env: Mapping[str, str], session: aiohttp.ClientSession | None, redis: Any
) -> str:
    unset = [var for var in spec.env_vars if not env.get(var, "").strip()]
    if unset:
        return f"{' and '.join(unset)} not set"
    if spec.type == "redis_stream" and redis is None:
        return "no Redis client"
    if spec.type in HTTP_TYPES and session is None:
        return "no HTTP session"
    return ""


def make_notifier(
    spec: SinkSpec,
    env: Mapping[str, str],
    session: aiohttp.ClientSession | None,
    redis: Any,
    clock: Callable[[], float] = time.time,
) -> Notifier:
    """The adapter for ``spec``; its environment variables must be set."""
    if spec.type == "redis_stream":
        return RedisStreamSink(redis, spec.stream or spec.name, spec.maxlen, name=spec.name)
    if session is None or not env.get(spec.url_env or "", "").strip():
        raise ConfigError(
            "needs an HTTP session and its URL variable set",
            source=f"sink '{spec.name}'",
            field="url_env",
        )
    url = env[spec.url_env or ""].strip()
    secret = env.get(spec.secret_env or "", "").strip() or None
    common: dict[str, Any] = {"name": spec.name, "timeout": spec.timeout}
    if spec.type == "wecom":
        return WeComRobot(session, url, clock=clock, **common)
    if spec.type == "dingtalk":
        return DingTalkRobot(session, url, secret, clock=clock, **common)
    if spec.type == "feishu":
        return FeishuBot(session, url, secret, clock=clock, **common)
    if spec.type == "alertmanager":
        return AlertmanagerNotifier(session, url, clock=clock, **common)
    token = env.get(spec.token_env or "", "").strip() or None
    return JsonWebhook(session, url, token, **common)
