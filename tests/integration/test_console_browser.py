"""The console in a real headless browser (Debian's chromium, driven by Playwright) against
a real ``vocwatch worker`` on the embedded broker and Redis, with a bearer token set:
enter the token, watch an incident's alert arrive over the event stream (no reload),
acknowledge and silence it in the page and find both in the API, look at 舆情 and 概览,
and watch the alert resolve and fade out.

Screenshots of every view are left in ``artifacts/console/`` at the repository root for
people to look at.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support import eventually
from tests.workers import LiveWorker, WorkerFactory
from vocwatch.dev.demo import DemoPlan, DemoTraffic

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
TOKEN = "console-test-token"
SUPERVISOR = "值班主管王五"
# A short window, so that the incident's alert fires within seconds of the burst and
# resolves about half a minute after it ends.
RULES = """
rules:
  - name: delivery_burst
    description: "某渠道物流投诉激增 (burst of delivery complaints on one channel)"
    key: [channel, category]
    where: {source: [complaint]}
    window: 30s
    measure: negative_count
    threshold: 12
    min_count: 12
    priority: P2
teams:
  客服主管: {sinks: [stream]}
  技术支持: {sinks: [stream]}
routes:
  - match: {category: [technical]}
    team: 技术支持
  - team: 客服主管
sinks:
  stream: {type: redis_stream, stream: alerts}
"""
# Put into the incident's texts: the page must show it as text, never run it.
MARKUP = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def service(module_worker_factory: WorkerFactory) -> LiveWorker:
    return module_worker_factory(RULES, name="console", VOCWATCH_API_TOKEN=TOKEN)


def produce(service: LiveWorker, messages: list[tuple[str, bytes, bytes]]) -> None:
    for source, key, value in messages:
        service.send(source, value, key=key)
    service.flush(timeout=10)


def _background(count: int) -> list[tuple[str, bytes, bytes]]:
    """Ordinary demo traffic (complaints, calls, social posts), none of it broken: it gives
    the 舆情 and 概览 views something to show and stays far below the burst threshold."""
    traffic = DemoTraffic(DemoPlan(broken_share=0.0), seed=11)
    return [traffic.background(time.time()) for _ in range(count)]


def _burst(count: int) -> list[tuple[str, bytes, bytes]]:
    """The demo's incident: delivery complaints on the app channel, all at once."""
    traffic = DemoTraffic(seed=12)
    messages = []
    for _ in range(count):
        source, key, value = traffic.incident(time.time(), "app")
        event = json.loads(value)
        event["text"] += MARKUP
        messages.append((source, key, json.dumps(event, ensure_ascii=False).encode()))
    return messages


def _social_ready(service: LiveWorker) -> bool:
    body = service.api("GET", "/api/social?hours=1")
    return any(p["count"] for points in body["platforms"].values() for p in points) and bool(
        body["posts"]
    )


def _browser() -> Any:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's browser with "
            "`apt-get install chromium` (Playwright's own download does not work here)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: pip install -e '.[test]'")
    return sync_playwright()


@pytest.mark.timeout(180)
def test_console_shows_acknowledges_silences_and_fades_out_a_live_alert(
    service: LiveWorker,
) -> None:
    try:
        with urllib.request.urlopen(f"{service.base_url}/console", timeout=5):  # noqa: S310
            pass
    except urllib.error.HTTPError as error:
        error.close()
        pytest.fail(
            f"the worker does not serve /console ({error.code}): is "
            "streams.console.install_console called in streams/app.py?"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    produce(service, _background(150))
    page_errors: list[str] = []
    with _browser() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            # refresh=600: within this test only the event stream can bring the alert.
            page.goto(f"{service.base_url}/console?refresh=600&keep=8")

            # The API wants the token: the page asks once, then uses it for every call.
            page.wait_for_selector("#token-dialog[open]", timeout=10_000)
            page.fill("#token-input", TOKEN)
            page.click("#token-submit")
            page.wait_for_selector("#conn[data-state='live']", timeout=10_000)
            assert page.evaluate("sessionStorage.getItem('vocwatch.token')") == TOKEN
            assert page.locator(".card").count() == 0

            produce(service, _burst(24))
            card = page.locator(".card[data-rule='delivery_burst']")
            card.wait_for(timeout=30_000)
            assert card.get_attribute("data-via") == "stream"  # live, not reloaded
            alert_id = card.get_attribute("data-alert-id")
            assert alert_id
            assert card.get_attribute("data-status") == "firing"
            assert "物流配送 logistics" in card.locator(".keys").first.inner_text()
            assert "客服主管" in card.locator(".route").inner_text()
            samples = card.locator(".sample-text").all_inner_texts()
            assert samples and any("<img" in text for text in samples), samples
            assert card.locator(".samples img").count() == 0
            assert page.evaluate("window.__xss") is None
            page.screenshot(path=ARTIFACTS / "1-alerts-firing.png", full_page=True)

            # Filters: by priority and by team (the route's), then back to all.
            page.select_option("#filter-priority", "P1")
            assert card.is_hidden() and page.locator("#alert-empty").is_visible()
            page.select_option("#filter-priority", "P2")
            page.select_option("#filter-team", "客服主管")
            assert card.is_visible()
            page.select_option("#filter-channel", "web")
            assert card.is_hidden()
            for name in ("priority", "team", "channel"):
                page.select_option(f"#filter-{name}", "")
            assert card.is_visible()

            # Acknowledge in the page; the API then shows who did.
            card.locator(".ack-button").click()
            page.fill("#ack-by", SUPERVISOR)
            page.fill("#ack-note", "已联系快递公司")
            page.click("#ack-submit")
            page.wait_for_selector(
                f".card[data-alert-id='{alert_id}'][data-acknowledged='true']", timeout=10_000
            )
            record = service.api("GET", f"/api/alerts/{alert_id}")
            assert record["acknowledged"]["by"] == SUPERVISOR
            assert record["acknowledged"]["note"] == "已联系快递公司"

            # Silence its chat notifications for 30 minutes; the API has the silence.
            card.locator(".silence-button").click()
            page.select_option("#silence-duration", "1800")
            page.click("#silence-submit")
            page.wait_for_selector("#silence-list li", timeout=10_000)
            assert card.get_attribute("data-silenced") == "true"
            (silence,) = service.api("GET", "/api/silences")["silences"]
            assert silence["matchers"] == {
                "rule": "delivery_burst",
                "channel": "app",
                "category": "logistics",
            }
            assert silence["created_by"] == SUPERVISOR  # remembered from the ack
            assert silence["ends_at"] - silence["starts_at"] == 1800
            page.screenshot(path=ARTIFACTS / "2-alerts-acknowledged.png", full_page=True)

            # 舆情: a chart per platform and the negative posts with the most reach.
            eventually(lambda: _social_ready(service), 30, "social series and posts")
            page.click("#tab-social")
            page.wait_for_selector(
                ".platform-chart[data-platform='weibo'] .line-share", timeout=10_000
            )
            assert page.locator("#social-posts li").count() >= 1
            page.screenshot(path=ARTIFACTS / "3-social.png", full_page=True)

            # 概览: complaint rate now against the baseline, per category.
            page.click("#tab-overview")
            page.wait_for_selector("#overview-body tr[data-category='logistics']", timeout=10_000)
            assert page.locator("#overview-body tr").count() == 7
            page.screenshot(path=ARTIFACTS / "4-overview.png", full_page=True)

            # The burst is over: the alert resolves, fades, and is removed from the page.
            page.click("#tab-alerts")
            page.wait_for_selector(
                f".card[data-alert-id='{alert_id}'][data-status='resolved']", timeout=60_000
            )
            page.screenshot(path=ARTIFACTS / "5-alerts-resolved.png", full_page=True)
            assert service.api("GET", f"/api/alerts/{alert_id}")["status"] == "resolved"
            page.wait_for_selector(
                f".card[data-alert-id='{alert_id}']", state="detached", timeout=30_000
            )
            assert page.locator("#alert-empty").is_visible()
        finally:
            browser.close()
    assert page_errors == []


def test_the_console_itself_needs_no_token_but_its_api_calls_do(service: LiveWorker) -> None:
    with urllib.request.urlopen(f"{service.base_url}/console", timeout=5) as reply:  # noqa: S310
        assert reply.status == 200
        assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        service.api("GET", "/api/alerts", auth=False)
    refused.value.close()
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{service.base_url}/", timeout=5) as reply:  # noqa: S310
        assert reply.url.endswith("/console")  # / redirects to it
