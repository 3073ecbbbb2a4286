"""Sink adapters (推送适配器): render records with :mod:`alerts.payloads` and send them.

Each adapter has a ``name`` (the sink's name in the configuration, a metric label), a
``kind``, ``messages(records)`` (how many requests a send makes) and ``async send(records)``,
which raises :class:`~vocwatch.errors.DeliveryError` on an HTTP status ≥ 400, a timeout, a
connection failure or a vendor error code in a 200 answer. HTTP adapters use the
``aiohttp.ClientSession`` they are given. Robot URLs carry their key (in the query for WeCom
and DingTalk, in the path for Feishu), so errors and logs show only :func:`mask_url`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import redis.exceptions
from yarl import URL

from alerts import payloads
from vocwatch.errors import DeliveryError

log = logging.getLogger(__name__)

Record = dict[str, Any]
Clock = Callable[[], float]

DEFAULT_TIMEOUT = 5.0
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
# Vendor error codes in a 200 answer that mean "too fast", and how long to wait then.
WECOM_RATE_LIMITED = frozenset({45009})
DINGTALK_RATE_LIMITED = frozenset({130101, 660026})
FEISHU_RATE_LIMITED = frozenset({9499, 11232})
WECOM_PAUSE = 60.0
DINGTALK_PAUSE = 600.0  # DingTalk blocks a robot for 10 minutes once it is over its limit
FEISHU_PAUSE = 60.0
BUSY = frozenset({-1})  # "system busy": worth another try


def mask_url(url: str | URL) -> str:
    """``scheme://host:port/…``: what may be shown of a URL that may hold a key."""
    parts = urlsplit(str(url))
    host = parts.netloc.rsplit("@", 1)[-1]
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{rest}"


def retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header given in seconds (dates are ignored)."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


class HttpSender:
    """Posts JSON and turns every failure into a :class:`DeliveryError` naming the sink and
    the masked URL, never the key."""

    def __init__(self, session: aiohttp.ClientSession, name: str, timeout: float) -> None:
        self.session = session
        self.name = name
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def post(
        self, url: str | URL, body: Any, headers: Mapping[str, str] | None = None
    ) -> Any:
        """POST ``body``; the answer's JSON (None if it has none)."""
        shown = mask_url(url)
        try:
            async with self.session.post(
                url,
                data=payloads.encode(body),
                headers={**JSON_HEADERS, **(headers or {})},
                timeout=self.timeout,
            ) as reply:
                content = await reply.read()
                if reply.status >= 400:
                    raise _status_error(
                        self.name, shown, reply.status, reply.headers.get("Retry-After")
                    )
        except TimeoutError:
            raise DeliveryError(
                f"{self.name}: {shown} did not answer within {self.timeout.total:g} s",
                retryable=True,
            ) from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(
                f"{self.name}: {shown} unreachable ({type(exc).__name__})", retryable=True
            ) from None
        return _json(content)


class _RobotBase:
    """A chat robot: one POST per rendered message, each answer checked."""

    kind = ""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        name: str,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = time.time,
    ) -> None:
        self.name = name or self.kind
        self.url = url
        self.clock = clock
        self.http = HttpSender(session, self.name, timeout)

    def render(self, records: Sequence[Record]) -> list[payloads.Body]:
        raise NotImplementedError

    def messages(self, records: Sequence[Record]) -> int:
        return len(self.render(records))

    async def send(self, records: list[Record]) -> None:
        for body in self.render(records):
            answer = await self.post(body)
            self.check(answer)

    async def post(self, body: payloads.Body) -> Any:
        return await self.http.post(self.url, body)

    def check(self, answer: Any) -> None:
        raise NotImplementedError

    def _vendor_error(
        self, code: Any, message: Any, rate_limited: frozenset[int], pause: float
    ) -> DeliveryError:
        limited = code in rate_limited
        return DeliveryError(
            f"{self.name}: {mask_url(self.url)} answered error {code} ({str(message)[:80]})",
            retryable=limited or code in BUSY,
            retry_after=pause if limited else None,
            rate_limited=limited,
        )


class WeComRobot(_RobotBase):
    """企业微信群机器人: markdown messages; ``errcode`` 0 is success, 45009 too fast."""

    kind = "wecom"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        name: str = "wecom",
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(session, url, name=name, timeout=timeout, clock=clock)

    def render(self, records: Sequence[Record]) -> list[payloads.Body]:
        return payloads.render_wecom(records)

    def check(self, answer: Any) -> None:
        code = _field(answer, "errcode", self)
        if code != 0:
            raise self._vendor_error(code, answer.get("errmsg"), WECOM_RATE_LIMITED, WECOM_PAUSE)


class DingTalkRobot(_RobotBase):
    """钉钉自定义机器人: markdown messages, signed (加签) when a secret is set; ``errcode`` 0
    is success, 130101 / 660026 too fast (the robot is then blocked for 10 minutes)."""

    kind = "dingtalk"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: str | None = None,
        *,
        name: str = "dingtalk",
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(session, url, name=name, timeout=timeout, clock=clock)
        self.secret = secret

    def render(self, records: Sequence[Record]) -> list[payloads.Body]:
        return payloads.render_dingtalk(records)

    async def post(self, body: payloads.Body) -> Any:
        if not self.secret:
            return await self.http.post(self.url, body)
        signed = payloads.dingtalk_signed_url(self.url, self.secret, int(self.clock() * 1000))
        return await self.http.post(URL(signed, encoded=True), body)

    def check(self, answer: Any) -> None:
        code = _field(answer, "errcode", self)
        if code != 0:
            raise self._vendor_error(
                code, answer.get("errmsg"), DINGTALK_RATE_LIMITED, DINGTALK_PAUSE
            )


class FeishuBot(_RobotBase):
    """飞书自定义机器人: interactive cards, signed (签名校验) in the body when a secret is
    set; ``code`` 0 is success, 9499 / 11232 too fast."""

    kind = "feishu"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: str | None = None,
        *,
        name: str = "feishu",
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(session, url, name=name, timeout=timeout, clock=clock)
        self.secret = secret

    def render(self, records: Sequence[Record]) -> list[payloads.Body]:
        return payloads.render_feishu(records)

    async def post(self, body: payloads.Body) -> Any:
        if self.secret:
            timestamp = int(self.clock())
            body = {
                "timestamp": str(timestamp),
                "sign": payloads.feishu_sign(self.secret, timestamp),
                **body,
            }
        return await self.http.post(self.url, body)

    def check(self, answer: Any) -> None:
        # Older answers carry StatusCode instead of code.
        code = answer.get("code", answer.get("StatusCode")) if isinstance(answer, dict) else None
        if code is None:
            raise _no_json(self)
        if code != 0:
            raise self._vendor_error(code, answer.get("msg"), FEISHU_RATE_LIMITED, FEISHU_PAUSE)


class AlertmanagerNotifier:
    """Prometheus Alertmanager: ``POST {base_url}/api/v2/alerts``, all records in one body.

    Firing records open or refresh an alert, resolved ones close it (``endsAt``)."""

    kind = "alertmanager"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        name: str = "alertmanager",
        timeout: float = DEFAULT_TIMEOUT,
        generator_url: str | None = None,
        firing_ttl: float = 3600.0,
        clock: Clock = time.time,
    ) -> None:
        self.name = name
        self.clock = clock
        self.url = base_url.rstrip("/") + "/api/v2/alerts"
        self.generator_url = generator_url
        self.firing_ttl = firing_ttl
        self.http = HttpSender(session, name, timeout)

    def messages(self, records: Sequence[Record]) -> int:
        return 1 if self._alerts(records) else 0

    async def send(self, records: list[Record]) -> None:
        alerts = self._alerts(records)
        if alerts:
            await self.http.post(self.url, alerts)

    def _alerts(self, records: Sequence[Record]) -> list[payloads.Body]:
        return payloads.render_alertmanager(
            records,
            generator_url=self.generator_url,
            firing_ttl=self.firing_ttl,
            now=datetime.fromtimestamp(self.clock(), UTC),
        )


class JsonWebhook:
    """A generic JSON webhook: ``{"version": 1, "alerts": [records]}``, with an optional
    bearer token."""

    kind = "webhook"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str | None = None,
        *,
        name: str = "webhook",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = name
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = HttpSender(session, name, timeout)

    def messages(self, records: Sequence[Record]) -> int:
        return 1 if records else 0

    async def send(self, records: list[Record]) -> None:
        if records:
            await self.http.post(self.url, payloads.render_webhook(records), self.headers)


class RedisStreamSink:
    """Appends each record to a Redis stream (``XADD … MAXLEN ~ maxlen``), field ``record``
    = the record as JSON, for consoles and other consumers."""

    kind = "redis_stream"

    def __init__(self, redis: Any, stream: str, maxlen: int, *, name: str = "stream") -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self.name = name

    def messages(self, records: Sequence[Record]) -> int:
        return 1 if records else 0

    async def send(self, records: list[Record]) -> None:
        if not records:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for record in records:
                    pipe.xadd(
                        self.stream,
                        {"record": payloads.encode(record)},
                        maxlen=self.maxlen,
                        approximate=True,
                    )
                await pipe.execute()
        except redis.exceptions.ResponseError as exc:  # e.g. the key is not a stream
            raise DeliveryError(
                f"{self.name}: XADD to stream {self.stream!r} refused ({_redis_error_code(exc)})",
                retryable=False,
            ) from None
        except (redis.exceptions.RedisError, OSError) as exc:
            raise DeliveryError(
                f"{self.name}: XADD to stream {self.stream!r} failed ({type(exc).__name__})",
                retryable=True,
            ) from None


def _status_error(name: str, shown: str, status: int, after: str | None) -> DeliveryError:
    return DeliveryError(
        f"{name}: {shown} answered HTTP {status}",
        retryable=status in (408, 425, 429) or status >= 500,
        retry_after=retry_after(after),
        rate_limited=status == 429,
    )


def _redis_error_code(error: Exception) -> str:
    """``WRONGTYPE`` and the like: a pipeline's message quotes the command, record included,
    so only the server's error code is kept."""
    reply = str(error).rsplit("caused error: ", 1)[-1].lstrip("('\"")
    code = reply.split(" ", 1)[0]
    return code if code.isalpha() and code.isupper() else type(error).__name__


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content.strip() else None
    except ValueError:
        return None


def _field(answer: Any, field: str, robot: _RobotBase) -> Any:
    if not isinstance(answer, dict) or field not in answer:
        raise _no_json(robot)
    return answer[field]


def _no_json(robot: _RobotBase) -> DeliveryError:
    return DeliveryError(
        f"{robot.name}: {mask_url(robot.url)} answered without the {robot.kind} JSON status",
        retryable=True,
    )
