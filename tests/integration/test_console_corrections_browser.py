"""The console's 纠正 control in a real headless browser (Debian's chromium, driven by
Playwright) against a real ``vocwatch worker`` with a bearer token: an alert's sample text is
marked 类别不对 with another category and a 舆情 post 情感不对; both corrections are then in
the API, in Redis and in ``vocwatch_corrections_total``. The worker's /health and
``vocwatch_models_info`` name the same models. Screenshots in ``artifacts/console/``."""

from __future__ import annotations

import json

import pytest
import redis

from tests.integration.test_console_browser import (
    ARTIFACTS,
    CHROMIUM,
    RULES,
    TOKEN,
    _background,
    _browser,
    _burst,
    _social_ready,
    produce,
)
from tests.support import eventually
from tests.workers import LiveWorker, WorkerFactory
from vocwatch import redis_keys

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(module_worker_factory: WorkerFactory) -> LiveWorker:
    return module_worker_factory(RULES, name="console-corrections", VOCWATCH_API_TOKEN=TOKEN)


def test_health_and_a_metric_label_name_the_models_in_use(service: LiveWorker) -> None:
    models = service.health()["models"]
    assert models.startswith("sentiment-")
    (sample,) = service.samples("vocwatch_models_info")
    assert (sample.labels, sample.value) == ({"version": models}, 1.0)


@pytest.mark.timeout(180)
def test_a_sample_text_and_a_post_are_corrected_in_the_page(
    service: LiveWorker, redis_sync: redis.Redis
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    produce(service, _background(80))
    page_errors: list[str] = []
    with _browser() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(f"{service.base_url}/console?refresh=2")
            page.wait_for_selector("#token-dialog[open]", timeout=10_000)
            page.fill("#token-input", TOKEN)
            page.click("#token-submit")

            produce(service, _burst(24))  # delivery complaints on the app channel
            card = page.locator(".card[data-rule='delivery_burst']")
            card.wait_for(timeout=30_000)
            alert_id = card.get_attribute("data-alert-id")
            # The alert may fire before the whole burst is counted, and its update brings
            # other samples: wait for the last count and one redraw (?refresh=2) after it,
            # so that the sample corrected below is still the first when the card redraws.
            eventually(lambda: _counted(service, alert_id, 24), 30, "the whole burst counted")
            page.wait_for_timeout(2500)
            sample = card.locator(".sample").first
            text = sample.locator(".sample-text").inner_text()
            assert sample.locator(".corrected").is_hidden()

            # Nothing chosen: the dialog says so and sends nothing.
            sample.locator(".correct-button").click()
            page.wait_for_selector("#correct-dialog[open]", timeout=5_000)
            assert page.locator("#correct-text").inner_text() == text
            page.click("#correct-submit")
            assert "请选择" in page.locator("#correct-error").inner_text()
            assert service.api("GET", "/api/corrections")["count"] == 0

            # 类别不对: the delivery complaint is really about the service.
            options = page.locator("#correct-category option").all_inner_texts()
            assert "服务体验 service" in options and len(options) == 8
            page.select_option("#correct-category", "service")
            page.screenshot(path=ARTIFACTS / "6-correct-dialog.png", full_page=True)
            page.click("#correct-submit")
            page.wait_for_selector("#correct-dialog", state="hidden", timeout=10_000)
            sample.locator(".corrected").wait_for(timeout=5_000)
            assert sample.locator(".corrected").inner_text() == "已记录"

            listing = service.api("GET", "/api/corrections")
            assert listing["count"] == 1
            (correction,) = listing["corrections"]
            assert correction["text"] == text
            assert (correction["category"], correction["channel"], correction["source"]) == (
                "service",
                "app",
                f"alert:{alert_id}",
            )
            assert "sentiment" not in correction
            stored = redis_sync.hgetall(redis_keys.corrections(service.settings.app_id))
            assert [json.loads(v)["category"] for v in stored.values()] == ["service"]
            assert service.metric("vocwatch_corrections_total", kind="category") == 1
            assert service.metric("vocwatch_corrections_total", kind="sentiment") == 0

            # The card is redrawn every 2 s (?refresh=2): the mark stays.
            page.wait_for_timeout(2500)
            assert card.locator(".sample").first.locator(".corrected").is_visible()

            # 情感不对 on a 舆情 post.
            eventually(lambda: _social_ready(service), 30, "social series and posts")
            page.click("#tab-social")
            post = page.locator("#social-posts li").first
            post.wait_for(timeout=10_000)
            post_text = post.locator("p").inner_text()
            post.locator(".correct-button").click()
            page.select_option("#correct-sentiment", "positive")
            page.click("#correct-submit")
            post.locator(".corrected").wait_for(timeout=10_000)
            page.screenshot(path=ARTIFACTS / "7-social-corrected.png", full_page=True)
            newest = service.api("GET", "/api/corrections?limit=1")["corrections"][0]
            assert (newest["text"], newest["sentiment"], newest["channel"]) == (
                post_text,
                "positive",
                "social",
            )
            assert newest["source"] == f"social:{post.get_attribute('data-post-id')}"
            assert service.metric("vocwatch_corrections_total", kind="sentiment") == 1
        finally:
            browser.close()
    assert page_errors == []


def _counted(service: LiveWorker, alert_id: str | None, count: int) -> bool:
    """Whether the alert's value has reached ``count``: every event of the burst counted."""
    alerts = service.api("GET", "/api/alerts")["alerts"]
    return any(a["id"] == alert_id and a["value"] >= count for a in alerts)
