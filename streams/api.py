"""The HTTP API (接口) of a worker, for people and the console:

==========================================  ==============================================
``GET  /api/alerts?status=active``          alerts: ``active`` (default: pending and
                                            firing), ``pending``, ``firing``, ``resolved``
                                            (the most recent), or ``all``; ``&kind=…``
                                            only those of one kind (``customer_risk`` …)
                                            or of several (``window,emerging_topic``);
                                            ``&limit=N`` the first N; ``total``: how
                                            many there are
``GET  /api/alerts/{id}``                   one alert (active or recently resolved)
``POST /api/alerts/{id}/ack``               acknowledge: ``{"by": "张三", "note": "处理中"}``;
                                            a customer follow-up needs the note and is
                                            resolved by it
``GET  /api/silences``                      active silences
``POST /api/silences``                      ``{"matchers": {...}, "duration_seconds": 3600,
                                            "created_by": "张三", "comment": "…"}``
``DELETE /api/silences/{id}``               end a silence
``POST /api/stream/ticket``                 a short-lived ticket for the event stream:
                                            ``{"ticket": "…", "expires_in": 60}``
``GET  /api/stream?ticket=…``               server-sent events: every alert record as it
                                            is emitted or acknowledged
``GET  /api/social?hours=6``                per platform, negative share and reach-weighted
                                            negative volume over the last hours, and the
                                            most-reached negative posts
``GET  /api/overview``                      per category, the rate now (last 15 minutes)
                                            against its average over the day before
``GET  /api/emerging``                      emerging topics (新问题): their alerts, active
                                            then recently resolved, and the watch list of
                                            the busiest groups of similar texts
``GET  /api/kpis``                          service KPIs over the last 24 hours against
                                            their targets, overall, per product and region
``POST /api/corrections``                   a correction (纠正) of a text's category or
                                            sentiment: ``{"text": "…", "category":
                                            "logistics", "sentiment": "negative"}``
``GET  /api/corrections?limit=50``          the latest corrections and how many there are
``GET  /healthz``                           health (also ``/health``); no token needed
==========================================  ==============================================

Access (docs/alerts.md, "HTTP API"):

* When ``VOCWATCH_API_TOKEN`` is set, every ``/api/`` request needs
  ``Authorization: Bearer <token>``. Browsers open an event stream without headers, and a
  token in a URL stays in proxy logs and browser history: the stream takes a *ticket*
  instead, obtained with the token and valid for :data:`TICKET_SECONDS` (an HMAC of its
  expiry under the token, so any worker that shares the token accepts it).
* Without a token, a worker that listens on loopback only serves everything to whoever
  can reach it there (one machine, ``vocwatch dev``). One that listens on another
  address serves the API **read-only**: acknowledging, silencing and correcting (every
  ``POST`` and ``DELETE`` but the ticket) answer 403, since anyone on the network could
  otherwise silence every alert, or feed the next adapt wrong labels. It says so at
  start, in ``/health`` (``"api": "read-only"``) and in each refusal.

Request bodies over ``VOCWATCH_API_MAX_BODY_BYTES`` are refused with 413. Errors are JSON:
``{"error": "...", "field": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from alerts.emerging_monitor import EmergingMonitor
from alerts.engine import AlertEngine
from alerts.kpis import PERIOD_HOURS
from alerts.lifecycle import Alert
from alerts.series import RedisSeries, Totals
from alerts.silences import MAX_TEXT, new_silence
from alerts.store import ActiveAlerts, Stored
from classifiers.category import CATEGORIES, CATEGORY_NAMES_ZH
from classifiers.corrections import Correction, parse_correction
from streams.corrections_store import RedisCorrections
from streams.events import PLATFORMS
from vocwatch.errors import ActionRefused, InvalidCorrection
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import AlertKind, AlertStatus, priority_rank

log = logging.getLogger(__name__)
TICKET_SECONDS = 60
READ_ONLY = (
    "read-only: this worker listens on a non-loopback address without VOCWATCH_API_TOKEN; "
    "set a token to acknowledge or silence alerts"
)
CORRECTIONS_LIMIT = 50  # GET /api/corrections without ?limit=
MAX_CORRECTIONS_LIMIT = 1000
MAX_ALERTS_LIMIT = 10_000  # GET /api/alerts?limit=
# ?status=: every alert status, and two selections of them
STATUSES = ("active", *(status.value for status in AlertStatus), "all")
OVERVIEW_WINDOW = 900
BASELINE_SPAN = 86400
KINDS = tuple(kind.value for kind in AlertKind)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Health = Callable[[], Awaitable[tuple[dict[str, Any], bool]]]
Kpis = Callable[[], Awaitable[list[dict[str, Any]]]]


class AlertApi:
    def __init__(
        self,
        engine: AlertEngine,
        *,
        clock: Callable[[], float],
        token: str = "",
        writable: bool = True,
        max_body_bytes: int = 64 * 1024,
        health: Health | None = None,
        series: RedisSeries | None = None,
        emerging: EmergingMonitor | None = None,
        kpis: Kpis | None = None,
        corrections: RedisCorrections | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``writable``: whether requests that change state are served without a token
        (false on a non-loopback address); with a token they always are. ``metrics``:
        where corrections are counted."""
        self.engine = engine
        self.series = series
        self.emerging = emerging
        self.clock = clock
        self.token = token
        self.writable = writable or bool(token)
        self.max_body_bytes = max_body_bytes
        self.health = health
        self.kpis = kpis
        self.corrections = corrections
        self.metrics = metrics

    @property
    def mode(self) -> str:
        """``read-write`` or ``read-only``, as ``/health`` reports it."""
        return "read-write" if self.writable else "read-only"

    def install(self, router: web.UrlDispatcher) -> None:
        api, write = self._guarded, self._writing
        router.add_get("/api/alerts", api(self.list_alerts))
        router.add_get("/api/alerts/{id}", api(self.get_alert))
        router.add_post("/api/alerts/{id}/ack", write(self.acknowledge))
        router.add_get("/api/silences", api(self.list_silences))
        router.add_post("/api/silences", write(self.create_silence))
        router.add_delete("/api/silences/{id}", write(self.delete_silence))
        router.add_post("/api/stream/ticket", api(self.stream_ticket))
        router.add_get("/api/stream", self._ticketed(self.stream))
        router.add_get("/api/social", api(self.social))
        router.add_get("/api/overview", api(self.overview))
        router.add_get("/api/emerging", api(self.emerging_topics))
        router.add_get("/api/kpis", api(self.kpi_board))
        router.add_get("/api/corrections", api(self.list_corrections))
        router.add_post("/api/corrections", write(self.add_correction))
        router.add_get("/healthz", self.healthz)

    # --- handlers ----------------------------------------------------------------------
    async def list_alerts(self, request: web.Request) -> web.Response:
        status = request.query.get("status", "active")
        if status not in STATUSES:
            return _error(400, f"status must be one of {', '.join(STATUSES)}", "status")
        kinds = request.query.get("kind")
        wanted = None if kinds is None else kinds.split(",")
        if wanted is not None and not set(wanted) <= set(KINDS):
            return _error(
                400, f"kind must be one or more of {', '.join(KINDS)}, with commas", "kind"
            )
        raw = request.query.get("limit")
        if raw is not None and not (raw.isdigit() and 0 < int(raw) <= MAX_ALERTS_LIMIT):
            return _error(400, f"limit must be a whole number in [1, {MAX_ALERTS_LIMIT}]", "limit")
        alerts, total = await self._alerts(status, wanted, None if raw is None else int(raw))
        return _json({"alerts": [a.to_record() for a in alerts], "total": total})

    async def get_alert(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["id"]
        read = await self.engine.store.active()
        for summary in read.summaries:
            if summary.id == alert_id and (alert := await read.alert(summary)) is not None:
                return _json(alert.to_record())
        for alert in await self.engine.store.history():
            if alert.id == alert_id:
                return _json(alert.to_record())
        return _error(404, f"no alert {alert_id!r}", "id")

    async def acknowledge(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        by, note = body.get("by"), body.get("note", "")
        if not isinstance(by, str) or not by.strip() or len(by) > MAX_TEXT:
            return _error(400, f"by: who acknowledges, a string of 1–{MAX_TEXT} characters", "by")
        if not isinstance(note, str) or len(note) > MAX_TEXT:
            return _error(400, f"note: a string of at most {MAX_TEXT} characters", "note")
        try:
            alert = await self.engine.acknowledge(
                request.match_info["id"], by.strip(), note.strip(), self.clock()
            )
        except ActionRefused as exc:
            return _error(400, str(exc), exc.field)
        if alert is None:
            return _error(404, "no active alert with this id (resolved, or never existed)", "id")
        return _json(alert.to_record())

    async def list_silences(self, request: web.Request) -> web.Response:
        silences = await self.engine.store.silences(self.clock())
        return _json({"silences": [s.to_json() for s in silences]})

    async def create_silence(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        try:
            silence = new_silence(body, self.clock())
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            return _error(400, str(exc), field)
        await self.engine.add_silence(silence)
        return _json(silence.to_json(), status=201)

    async def delete_silence(self, request: web.Request) -> web.Response:
        if await self.engine.store.delete_silence(request.match_info["id"]):
            self.engine.silences = [
                s for s in self.engine.silences if s.id != request.match_info["id"]
            ]
            return _json({"deleted": request.match_info["id"]})
        return _error(404, "no such silence", "id")

    async def stream_ticket(self, request: web.Request) -> web.Response:
        """A ticket for ``GET /api/stream?ticket=…``; empty when no token is configured
        (the stream then needs none)."""
        if not self.token:
            return _json({"ticket": "", "expires_in": None})
        return _json(
            {"ticket": issue_ticket(self.token, self.clock()), "expires_in": TICKET_SECONDS}
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``alert`` event per record, a comment every 15 s."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

        def push(record: dict[str, Any]) -> None:
            with contextlib.suppress(asyncio.QueueFull):  # a slow reader misses updates
                queue.put_nowait(record)

        unsubscribe = self.engine.subscribe(push)
        idle = 0
        try:
            await response.write(b": connected\n\n")
            # Poll once a second, so a reader that went away (or a server shutting down)
            # ends the handler promptly rather than at the next write.
            while request.transport is not None and not request.transport.is_closing():
                try:
                    record = await asyncio.wait_for(queue.get(), timeout=1)
                except TimeoutError:
                    idle += 1
                    if idle % 15 == 0:
                        await response.write(b": keep-alive\n\n")
                    continue
                data = json.dumps(record, ensure_ascii=False)
                await response.write(f"event: alert\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            unsubscribe()
        return response

    async def social(self, request: web.Request) -> web.Response:
        try:
            hours = float(request.query.get("hours", "6"))
        except ValueError:
            hours = -1
        if not 0 < hours <= 48:
            return _error(400, "hours must be a number in (0, 48]", "hours")
        if self.series is None:
            return _error(503, "no series store configured", "")
        step = 300 if hours <= 6 else 900 if hours <= 24 else 1800
        now = self.clock()
        start = (now - hours * 3600) // step * step
        series = await self.series.read("platform", start, now)
        buckets = range(int(start), int(now) + 1, step)
        platforms = {}
        for platform in PLATFORMS:
            minutes = series.get(platform, {})
            points = []
            for bucket in buckets:
                totals = _sum(t for m, t in minutes.items() if bucket <= m * 60 < bucket + step)
                points.append(
                    {
                        "t": _iso(bucket),
                        "count": totals.count,
                        "negative": totals.negative,
                        "negative_share": round(totals.negative / totals.count, 4)
                        if totals.count
                        else 0.0,
                        "reach_negative": totals.reach_negative,
                    }
                )
            platforms[platform] = points
        posts = await self.series.top_posts(now - hours * 3600, now + 1)
        return _json(
            {
                "step_seconds": step,
                "platforms": platforms,
                "posts": [{**p, "time": _iso(p["time"])} for p in posts],
            }
        )

    async def overview(self, request: web.Request) -> web.Response:
        if self.series is None:
            return _error(503, "no series store configured", "")
        now = self.clock()
        recent_from = now - OVERVIEW_WINDOW
        series = await self.series.read("category", recent_from - BASELINE_SPAN, now)
        seen = [m for minutes in series.values() for m in minutes if m * 60 < recent_from]
        # The baseline spans the day before the window, or as much of it as there is data.
        baseline_minutes = max(1.0, (recent_from - min(seen) * 60) / 60) if seen else 0.0
        rows = []
        for code in CATEGORIES:
            minutes = series.get(code, {})
            now_totals = _sum(t for m, t in minutes.items() if m * 60 >= recent_from)
            before = _sum(t for m, t in minutes.items() if m * 60 < recent_from)
            rate = now_totals.count / (OVERVIEW_WINDOW / 60)
            baseline = before.count / baseline_minutes if baseline_minutes else None
            rows.append(
                {
                    "category": code,
                    "name": CATEGORY_NAMES_ZH.get(code, code),
                    "count": now_totals.count,
                    "rate_per_minute": round(rate, 3),
                    "baseline_per_minute": None if baseline is None else round(baseline, 3),
                    "ratio": round(rate / baseline, 2) if baseline else None,
                    "negative_share": round(now_totals.negative / now_totals.count, 4)
                    if now_totals.count
                    else 0.0,
                }
            )
        return _json({"window_seconds": OVERVIEW_WINDOW, "categories": rows})

    async def emerging_topics(self, request: web.Request) -> web.Response:
        if self.emerging is None:
            return _error(503, "emerging-topic detection is off (VOCWATCH_EMERGING)", "")
        return _json(await self.emerging.topics())

    async def kpi_board(self, request: web.Request) -> web.Response:
        """Every KPI against its target: overall, per product, per region."""
        if self.kpis is None:
            return _error(503, "no KPI store configured", "")
        return _json({"period_hours": PERIOD_HOURS, "kpis": await self.kpis()})

    async def list_corrections(self, request: web.Request) -> web.Response:
        """The latest corrections, newest first, and how many texts have one."""
        if self.corrections is None:
            return _error(503, "no corrections store configured", "")
        raw = request.query.get("limit", str(CORRECTIONS_LIMIT))
        limit = int(raw) if raw.isdigit() else 0
        if not 0 < limit <= MAX_CORRECTIONS_LIMIT:
            return _error(
                400, f"limit must be a whole number in [1, {MAX_CORRECTIONS_LIMIT}]", "limit"
            )
        recent = await self.corrections.recent(limit)
        return _json(
            {
                "corrections": [_correction(c) for c in recent],
                "count": await self.corrections.count(),
            }
        )

    async def add_correction(self, request: web.Request) -> web.Response:
        """类别不对 / 情感不对: the right category or sentiment of a text; answers the text's
        correction as stored (merged with an earlier one of the same text)."""
        if self.corrections is None:
            return _error(503, "no corrections store configured", "")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        try:
            correction = parse_correction(body, at=self.clock())
        except InvalidCorrection as exc:
            return _error(400, str(exc), exc.field)
        stored = await self.corrections.add(correction)
        if self.metrics is not None:
            for kind in correction.kinds:
                self.metrics.corrections.labels(kind).inc()
        return _json(_correction(stored), status=201)

    async def healthz(self, request: web.Request) -> web.Response:
        if self.health is None:
            return _json({"status": "ok"})
        body, healthy = await self.health()
        return _json(body, status=200 if healthy else 503)

    # --- helpers -----------------------------------------------------------------------
    async def _alerts(
        self, status: str, kinds: Collection[str] | None, limit: int | None
    ) -> tuple[list[Alert], int]:
        """The first ``limit`` alerts of ``status`` and ``kinds`` (None: all), active first,
        then by priority, newest first; and how many there are. An active alert is read
        whole only when it is listed: thousands of customer alerts may be open."""
        read = ActiveAlerts([], {}, {})
        if status != AlertStatus.RESOLVED:
            read = await self.engine.store.active()
        one = status if status in (AlertStatus.PENDING, AlertStatus.FIRING) else None
        active = [
            s
            for s in read.summaries
            if (one is None or s.status == one) and (kinds is None or s.kind in kinds)
        ]
        resolved = (
            [a for a in await self.engine.store.history() if kinds is None or a.kind in kinds]
            if status in (AlertStatus.RESOLVED, "all")
            else []
        )
        active.sort(key=_listed_first)
        resolved.sort(key=_listed_first)
        chosen: list[Stored | Alert] = [*active]
        chosen = [*chosen, *resolved][:limit]
        listed = {
            a.fingerprint: a for a in await read.alerts(c for c in chosen if isinstance(c, Stored))
        }
        alerts = [
            listed[c.fingerprint] if isinstance(c, Stored) else c
            for c in chosen
            if not isinstance(c, Stored) or c.fingerprint in listed
        ]
        return alerts, len(active) + len(resolved)

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if self.token and not self._authorized(request):
                return _error(
                    401,
                    "missing or wrong bearer token",
                    "Authorization",
                    headers={"WWW-Authenticate": 'Bearer realm="vocwatch"'},
                )
            return await handler(request)

        return guarded

    def _writing(self, handler: Handler) -> Handler:
        """A handler that changes state: refused (403) on a read-only worker."""
        guarded = self._guarded(handler)

        async def writing(request: web.Request) -> web.StreamResponse:
            if not self.writable:
                return _error(403, READ_ONLY, "Authorization")
            return await guarded(request)

        return writing

    def _ticketed(self, handler: Handler) -> Handler:
        """The event stream: a valid ticket (or the bearer token itself, for clients that
        can send headers) when a token is configured."""

        async def ticketed(request: web.Request) -> web.StreamResponse:
            ticket = request.query.get("ticket", "")
            if self.token and not (
                valid_ticket(self.token, ticket, self.clock()) or self._authorized(request)
            ):
                return _error(
                    401,
                    "missing, wrong or expired ticket: POST /api/stream/ticket for a new one",
                    "ticket",
                )
            return await handler(request)

        return ticketed

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        given = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        if (request.content_length or 0) > self.max_body_bytes:
            return _error(413, f"body over {self.max_body_bytes} bytes", "body")
        raw = await request.content.read(self.max_body_bytes + 1)
        if len(raw) > self.max_body_bytes:
            return _error(413, f"body over {self.max_body_bytes} bytes", "body")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _error(400, "body: not valid JSON (UTF-8)", "body")
        if not isinstance(body, dict):
            return _error(400, "body: expected a JSON object", "body")
        return body


def _sum(totals: Iterable[Totals]) -> Totals:
    total = Totals()
    for t in totals:
        total.count += t.count
        total.negative += t.negative
        total.reach_negative += t.reach_negative
    return total


def _correction(correction: Correction) -> dict[str, Any]:
    """A correction as the API shows it: its LABELS line, and the key of its text."""
    return {**correction.to_json(), "key": correction.key}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _json(body: Any, *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _error(
    status: int, message: str, field: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    response = _json({"error": message, "field": field}, status=status)
    if headers:
        response.headers.update(headers)
    return response


def issue_ticket(token: str, now: float) -> str:
    """``<expiry>.<signature>``: the expiry (unix seconds) signed with the token."""
    expiry = str(int(now) + TICKET_SECONDS)
    return f"{expiry}.{_signature(token, expiry)}"


def valid_ticket(token: str, ticket: str, now: float) -> bool:
    """Whether ``ticket`` was issued with ``token`` and has not expired."""
    expiry, _, signature = ticket.partition(".")
    if not expiry.isdigit() or int(expiry) < now or int(expiry) > now + TICKET_SECONDS:
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, expiry).encode())


def _signature(token: str, expiry: str) -> str:
    key = hashlib.sha256(b"vocwatch stream ticket:" + token.encode()).digest()
    return hmac.new(key, expiry.encode(), hashlib.sha256).hexdigest()


def _listed_first(alert: Alert | Stored) -> tuple[int, float]:
    """The order of a list of active (or of resolved) alerts: by priority, newest first."""
    return priority_rank(alert.priority), -alert.first_seen
