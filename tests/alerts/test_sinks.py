"""alerts.sinks: the log line of an alert of another kind than window."""

from __future__ import annotations

import asyncio
import logging

import pytest

from alerts.sinks import LogSink
from tests.alerts.test_payloads import customer_records


def test_the_log_line_of_a_customer_alert_names_its_score_or_due_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    risk, follow_up = customer_records()
    with caplog.at_level(logging.WARNING, logger="vocwatch.alerts"):
        for record in (risk, follow_up):
            asyncio.run(LogSink().deliver(record))
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("ALERT P1 firing customer_risk [customer_id=u1] score=100")
    assert "churn_threat: 销户 (+40)" in first and first.endswith(f"id={risk['id']}")
    assert second.startswith("ALERT P3 firing detractor [customer_id=u2] due_at=2027-01-17")
    assert "overdue=False" in second
