"""The console's 客户风险 and 指标 tabs in a real headless browser (Debian's chromium,
driven by Playwright) against a real ``vocwatch worker`` with the packaged rules: a customer
at risk is shown with score, reasons, timeline and masked words; a detractor follow-up is
closed in the page with a note (refused without one); the KPI board shows each KPI against
its target. Screenshots in ``artifacts/console/``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.test_console_browser import ARTIFACTS, CHROMIUM, _browser
from tests.support import eventually
from tests.workers import LiveWorker, WorkerFactory

pytestmark = pytest.mark.integration
HOUR = 3600.0


@pytest.fixture(scope="module")
def service(module_worker_factory: WorkerFactory) -> LiveWorker:
    return module_worker_factory(name="console-customers")


def _events(now: float) -> list[tuple[str, dict[str, Any]]]:
    call = {"agent_id": "a1", "talk_seconds": 200}
    return [
        (
            "complaint",
            {
                "id": "c1",
                "customer_id": "u-risk",
                "channel": "app",
                "text": "宽带又断网了，三天都没人来修",
                "created_at": now - 20 * HOUR,
            },
        ),
        (
            "complaint",
            {
                "id": "c2",
                "customer_id": "u-risk",
                "channel": "app",
                "text": "第二次投诉了，还是没人管，回电13812345678",
                "created_at": now - 9 * HOUR,
            },
        ),
        (
            "call",
            {
                "id": "k1",
                "customer_id": "u-risk",
                "text": "客户来电：宽带仍未修复，表示再不解决就销户",
                "started_at": now - HOUR,
                "wait_seconds": 600,
                "resolved_first_contact": False,
                **call,
            },
        ),
        *(
            (
                "complaint",
                {
                    "id": f"c-second-{i}",
                    "customer_id": "u-risk-2",
                    "channel": "app",
                    "text": text,
                    "created_at": now - (10 - i) * HOUR,
                },
            )
            for i, text in enumerate(
                ["网络一直断，投诉了也没用", "第三次投诉，还是没人来修", "再不修好我就销户"]
            )
        ),
        (
            "call",
            {
                "id": "k2",
                "customer_id": "u-ok",
                "text": "客户来电咨询账单，已解释清楚",
                "started_at": now - HOUR,
                "wait_seconds": 30,
                "resolved_first_contact": True,
                **call,
            },
        ),
        (
            "survey",
            {
                "id": "s1",
                "customer_id": "u-nps",
                "kind": "nps",
                "score": 1,
                "comment": "物流太慢，客服也不管",
                "touchpoint": "delivery",
                "created_at": now - HOUR,
            },
        ),
        (
            "survey",
            {
                "id": "s2",
                "customer_id": "u-ok",
                "kind": "csat",
                "score": 5,
                "created_at": now - HOUR,
            },
        ),
    ]


@pytest.mark.timeout(180)
def test_customers_at_risk_follow_ups_and_the_kpi_board(service: LiveWorker) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for source, event in _events(time.time()):
        service.send(source, event)
    service.flush(timeout=10)
    eventually(
        lambda: (
            len(service.api("GET", "/api/alerts?kind=customer_risk")["alerts"]) == 2
            and len(service.api("GET", "/api/alerts?kind=detractor")["alerts"]) == 1
        ),
        timeout=60,
        what="a customer_risk and a detractor alert",
    )
    page_errors: list[str] = []
    with _browser() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            # At most ?customers= of each kind are read, and the tab says how many there are.
            page.goto(f"{service.base_url}/console?customers=1#customers")
            page.locator(".customer-card").first.wait_for(timeout=15_000)
            assert page.locator(".customer-card").count() == 1
            assert page.locator("#count-at-risk").inner_text() == "2"
            assert "1 / 2" in page.locator("#customers-more").inner_text()
            page.goto(f"{service.base_url}/console#customers")
            card = page.locator(".customer-card[data-customer='u-risk']")
            card.wait_for(timeout=15_000)
            assert int(card.locator(".score").inner_text().split()[0]) >= 60
            assert card.locator(".reason[data-signal='churn_threat']").count() == 1
            assert "流失威胁" in card.locator(".reasons").inner_text()
            assert card.locator("tr.contact").count() == 3
            texts = card.locator(".sample-text").all_inner_texts()
            assert any("[PHONE]" in t for t in texts) and not any("138123" in t for t in texts)
            assert page.locator(".card[data-rule='customer_risk']").count() == 0  # not in 告警
            assert page.locator("#count-at-risk").inner_text() == "2"
            assert page.locator(".customer-card").count() == 2
            assert page.locator("#customers-more").is_hidden()
            row = page.locator("tr.follow-up[data-customer='u-nps']")
            assert "NPS 1" in row.inner_text() and "物流太慢" in row.inner_text()
            page.screenshot(path=ARTIFACTS / "6-customers.png", full_page=True)

            # A follow-up is done with a note of what was done: refused without one.
            row.locator(".ack-button").click()
            page.fill("#ack-by", "挽留专员李四")
            page.fill("#ack-note", "")
            page.click("#ack-submit")
            assert "note" in page.locator("#ack-error").inner_text()
            page.fill("#ack-note", "已电话致歉并补发")
            page.click("#ack-submit")
            row.wait_for(state="detached", timeout=10_000)
            (resolved,) = [
                a
                for a in service.api("GET", "/api/alerts?status=resolved&kind=detractor")["alerts"]
                if a["customer_id"] == "u-nps"
            ]
            assert resolved["acknowledged"]["note"] == "已电话致歉并补发"

            page.click("#tab-kpis")
            page.wait_for_selector("#kpi-body tr[data-kpi='first_contact_resolution']")
            eventually(lambda: page.locator("#kpi-body tr").count() == 6, 10, "six KPI rows")
            fcr = page.locator("#kpi-body tr[data-kpi='first_contact_resolution']")
            assert "50%" in fcr.inner_text() and "≥ 80%" in fcr.inner_text()
            assert fcr.locator(".kpi-status.red").count() == 1
            csat = page.locator("#kpi-body tr[data-kpi='csat']")
            assert csat.locator(".kpi-status.green").count() == 1
            page.screenshot(path=ARTIFACTS / "7-kpis.png", full_page=True)
        finally:
            browser.close()
    assert page_errors == []
