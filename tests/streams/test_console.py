"""The console's page and routes: served from the package data with a strict
Content-Security-Policy, ``/`` redirecting to it even where Faust already routes ``/``, no
token needed for the page itself; static checks that the page builds no HTML from data,
loads nothing from elsewhere, and reads only fields the API really sends."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine
from alerts.lifecycle import Sample
from alerts.observation import Observation
from alerts.rules import parse_rules
from alerts.series import Point, RedisSeries
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from classifiers.corrections import parse_correction
from streams.api import AlertApi
from streams.console import CONTENT_SECURITY_POLICY, console_html, install_console
from tests.support import ListSink
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import Category, Polarity, Priority

PAGE_PATH = Path(__file__).resolve().parents[2] / "streams" / "console" / "index.html"
PAGE = PAGE_PATH.read_text(encoding="utf-8")
SCRIPT = PAGE[PAGE.index("<script>") : PAGE.index("</script>")]
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def console_url() -> AsyncIterator[str]:
    app = web.Application()

    async def faust_index(request: web.Request) -> web.Response:
        return web.json_response({"status": "OK"})

    # Faust routes "/" to a placeholder before the worker's hook runs: so here too.
    app.router.add_get("/", faust_index)
    app.router.add_get("/other", faust_index)
    install_console(app)
    runner, url = await serve(app)
    yield url
    await runner.cleanup()


async def test_the_page_is_served_with_a_strict_policy(console_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(console_url + "/console") as reply:
        assert reply.status == 200
        assert reply.content_type == "text/html" and reply.charset == "utf-8"
        assert await reply.read() == PAGE_PATH.read_bytes() == console_html()
        headers = reply.headers
    policy = dict(
        part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self' 'unsafe-inline'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["frame-ancestors"] == "'none'"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_root_redirects_to_the_console_and_other_routes_are_untouched(
    console_url: str, method: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, console_url + "/", allow_redirects=False) as reply:
            assert (reply.status, reply.headers["Location"]) == (302, "/console")
        async with http.get(console_url + "/other") as reply:
            assert (reply.status, await reply.json()) == (200, {"status": "OK"})
        async with http.post(console_url + "/", allow_redirects=False) as reply:
            assert reply.status == 405  # only GET / HEAD redirect


@pytest.mark.integration
async def test_the_page_needs_no_token_but_the_api_does(redis_url: str, unique: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    engine = AlertEngine(
        (),
        RedisWindowStore(client, prefix=unique, bucket_seconds=10, spans=[60]),
        RedisAlertStore(client, prefix=unique),
        [ListSink()],
        Metrics.create(CollectorRegistry()),
        update_seconds=0,
    )
    app = web.Application()
    AlertApi(engine, clock=time.time, token="secret").install(app.router)
    install_console(app)
    runner, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/console") as reply:
                assert reply.status == 200
            async with http.get(url + "/api/alerts") as reply:
                assert reply.status == 401
    finally:
        await runner.cleanup()
        await client.aclose()


# --- static checks of the page ------------------------------------------------------------

HTML_SINKS = re.compile(
    r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function"
    r"|srcdoc|createContextualFragment|DOMParser|\.html\s*\("
)


def html_sinks(text: str) -> list[str]:
    """Ways of turning a string into markup or code: the page must use none of them."""
    return HTML_SINKS.findall(text)


def external_references(text: str) -> list[str]:
    """URLs that would load or contact anything but the serving service."""
    found = re.findall(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s"'`)]*""", text)
    found += re.findall(r"""\b(?:src|href)\s*=\s*["'](?!data:|#)[^"']+""", text)
    found += re.findall(r"@import|url\(", text)
    return [url for url in found if url != SVG_NAMESPACE]


@pytest.mark.parametrize(
    "snippet",
    [
        "node.innerHTML = record.text;",
        "list.insertAdjacentHTML('beforeend', row);",
        "document.write(x)",
        "eval(data)",
        "new Function(body)",
    ],
)
def test_the_sink_check_catches_markup_from_strings(snippet: str) -> None:
    assert html_sinks(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="https://cdn.example.com/vue.js"></script>',
        '<link rel="stylesheet" href="//fonts.example.com/css">',
        "@import 'x.css';",
        "background: url(/bg.png)",
        "fetch('https://api.example.com/x')",
    ],
)
def test_the_reference_check_catches_outside_urls(snippet: str) -> None:
    assert external_references(snippet)


def test_the_page_turns_no_data_into_markup_and_loads_nothing_from_elsewhere() -> None:
    assert html_sinks(PAGE) == []
    assert external_references(PAGE) == []
    assert PAGE.count("<script") == 1 and "<script>" in PAGE  # inline, no src=
    assert "<iframe" not in PAGE and "<object" not in PAGE


def test_every_element_the_script_looks_up_exists() -> None:
    ids = set(re.findall(r'\bid="([\w-]+)"', PAGE))
    looked_up = set(re.findall(r"\$\('([\w-]+)'\)", SCRIPT))
    looked_up |= {
        f"{prefix}-{name}"
        for prefix in ("filter",)
        for name in ("team", "channel", "category", "priority")
    }
    looked_up |= {f"count-{name}" for name in ("firing", "pending", "acknowledged", "silenced")}
    assert looked_up and looked_up <= ids, sorted(looked_up - ids)


def test_the_page_is_chinese_with_english_for_technical_terms() -> None:
    for pair in (
        "告警",
        "舆情",
        "概览",
        "新问题<small>emerging",
        "观察中 <small>watch list",
        "客户风险",
        "指标",
        "处理完成 done",
        "风险客户",
        "贬损者回访",
        "严重度 severity",
        "基线 baseline",
        "阈值 threshold",
        "确认 ack",
        "静默 silence",
        "负面占比 negative share",
        "纠正",
        "类别不对 <small>wrong category",
        "情感不对 <small>wrong sentiment",
        "负面 negative",
        "已记录",
    ):
        assert pair in PAGE, pair
    assert '<html lang="zh-CN">' in PAGE


def test_the_correction_control_offers_every_category_and_polarity_the_api_takes() -> None:
    """The 纠正 dialog's choices are the vocabularies :func:`parse_correction` accepts: the
    category select is filled from the page's CATEGORY map, the sentiment select is static."""
    categories = re.search(r"const CATEGORY = \{(.*?)\};", SCRIPT, re.S)
    assert categories
    assert re.findall(r"(\w+): '", categories.group(1)) == [c.value for c in Category]
    sentiment = PAGE[
        PAGE.index('id="correct-sentiment"') : PAGE.index(
            "</select>", PAGE.index('id="correct-sentiment"')
        )
    ]
    assert re.findall(r'<option value="(\w*)"', sentiment) == ["", *(p.value for p in Polarity)]
    sent = {"text", "source"} | set(re.findall(r"\bbody\.(\w+) = ", SCRIPT))
    assert sent == {"text", "source", "category", "sentiment", "channel", "by"}
    body = {field: "x" for field in sent} | {"category": "logistics", "sentiment": "negative"}
    assert parse_correction(body | {"channel": "social"}).source == "x"
    assert "'/api/corrections'" in SCRIPT


# --- the API as the console reads it -------------------------------------------------------

# Every field of an alert record the page reads (as ``r.<field>`` / ``record.<field>``).
ALERT_FIELDS = {
    "id",
    "kind",
    "rule",
    "description",
    "priority",
    "status",
    "notification",
    "acknowledged",
    "silenced_by",
    "key",
    "channels",
    "window",
    "measure",
    "value",
    "threshold",
    "baseline",
    "severity",
    "count",
    "negative_count",
    "p1_count",
    "terms",
    "samples",
    "route",
    "first_seen",
    "fired_at",
    "updated_at",
    "resolved_at",
    "sequence",
    "fingerprint",
}
SAMPLE_FIELDS = {"id", "text", "priority", "source", "channel"}
SOCIAL_POINT_FIELDS = {"t", "count", "negative", "negative_share", "reach_negative"}
POST_FIELDS = {"id", "platform", "text", "reach", "sentiment", "priority", "time"}
# The 客户风险 and 指标 tabs: a customer alert (``a``), its signals (``h``), timeline
# (``t``) and survey responses (``v``); a KPI row (``k``).
CUSTOMER_FIELDS = {
    "id",
    "kind",
    "customer_id",
    "priority",
    "description",
    "rule",
    "score",
    "threshold",
    "signals",
    "contacts",
    "samples",
    "route",
    "first_seen",
    "status",
    "due_at",
    "overdue",
    "responses",
}
SIGNAL_FIELDS = {"signal", "detail", "points"}
CONTACT_FIELDS = {"time", "source", "channel", "category", "sentiment", "resolved"}
RESPONSE_FIELDS = {"kind", "score", "touchpoint", "comment"}
KPI_FIELDS = {"scope", "kpi", "value", "target", "red", "status", "base"}
CATEGORY_FIELDS = {
    "category",
    "name",
    "count",
    "rate_per_minute",
    "baseline_per_minute",
    "ratio",
    "negative_share",
}


# What the 新问题 view reads of an emerging-topic alert (``topic.<field>``) and of an
# entry of the watch list (``w.<field>``), besides the common alert fields.
TOPIC_FIELDS = {
    "id",
    "topic_id",
    "priority",
    "status",
    "acknowledged",
    "count",
    "growth",
    "baseline_count",
    "categories",
    "channels",
    "terms",
    "samples",
    "route",
    "first_text_at",
    "last_text_at",
}
WATCH_FIELDS = {
    "topic_id",
    "emerging",
    "count",
    "baseline_count",
    "growth",
    "terms",
    "samples",
    "categories",
    "last_text_at",
}


def test_the_field_lists_below_are_what_the_page_reads() -> None:
    read = set(re.findall(r"\b(?:r|record)\.(\w+)", SCRIPT))
    assert read == ALERT_FIELDS, (sorted(read - ALERT_FIELDS), sorted(ALERT_FIELDS - read))
    for fields, variable in ((TOPIC_FIELDS, "topic"), (WATCH_FIELDS, "w")):
        read = set(re.findall(rf"\b{variable}\.(\w+)", SCRIPT))
        assert read == fields, (variable, sorted(read - fields), sorted(fields - read))
    for fields, variable in (
        (SAMPLE_FIELDS, "s"),
        (POST_FIELDS, "p"),
        (CATEGORY_FIELDS, "c"),
        (CUSTOMER_FIELDS, "a"),
        (SIGNAL_FIELDS, "h"),
        (CONTACT_FIELDS, "t"),
        (RESPONSE_FIELDS, "v"),
        (KPI_FIELDS, "k"),
    ):
        for field in fields:
            assert f"{variable}.{field}" in SCRIPT, (variable, field)


@pytest.mark.integration
async def test_the_api_sends_every_field_the_page_reads(redis_url: str, unique: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "burst",
                    "key": ["channel", "category"],
                    "window": "1m",
                    "measure": "negative_count",
                    "threshold": 5,
                    "min_count": 5,
                    "priority": "P2",
                }
            ]
        }
    )
    engine = AlertEngine(
        rules,
        RedisWindowStore(client, prefix=unique, bucket_seconds=10, spans=[60]),
        RedisAlertStore(client, prefix=unique),
        [ListSink()],
        Metrics.create(CollectorRegistry()),
        update_seconds=0,
    )
    series = RedisSeries(client, prefix=unique)
    now = time.time()
    key = "channel=app,category=logistics"
    states = await engine.windows.record(
        {key: [Observation(f"e{i}", now, True, False) for i in range(6)]}, now
    )
    engine.activity.add_samples(
        key, [Sample("e0", "快递丢了", Priority.P2, now, source="complaint", channel="app")]
    )
    await engine.on_batch({"burst": [key]}, states, now)
    await series.add(
        [
            Point("platform", "weibo", int(now // 60), True, 1200.0),
            Point("category", "logistics", int(now // 60), True),
        ],
        [
            {
                "id": "p1",
                "platform": "weibo",
                "text": "快递太慢",
                "reach": 1200.0,
                "sentiment": 0.1,
                "priority": "P2",
                "time": now,
            }
        ],
    )
    app = web.Application()
    AlertApi(engine, clock=time.time, series=series).install(app.router)
    runner, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            (alert,) = (await get(http, url + "/api/alerts?status=all"))["alerts"]
            social = await get(http, url + "/api/social?hours=1")
            overview = await get(http, url + "/api/overview")
    finally:
        await runner.cleanup()
        await client.aclose()
    assert set(alert) >= ALERT_FIELDS, sorted(ALERT_FIELDS - set(alert))
    assert set(alert["samples"][0]) >= SAMPLE_FIELDS
    assert {"seconds"} <= set(alert["window"]) and {"team", "sinks"} >= set(alert["route"] or {})
    points = social["platforms"]["weibo"]
    assert points and all(set(p) >= SOCIAL_POINT_FIELDS for p in points)
    assert set(social["posts"][0]) >= POST_FIELDS
    assert overview["window_seconds"] > 0
    assert all(set(c) >= CATEGORY_FIELDS for c in overview["categories"])


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.json()
