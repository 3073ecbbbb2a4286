"""alerts.contacts: a contact's compact JSON, detractors, and how customers are named."""

from __future__ import annotations

import json

from alerts.contacts import Contact, customer_key, customer_ref
from tests.alerts.customer_support import HOUR, NOW, call, complaint, survey


def test_a_contact_survives_its_compact_json() -> None:
    for contact in (
        complaint(1, HOUR, churn=("销户",), escalation=("投诉", "12315")),
        call(2, HOUR, resolved=False, rating=1, transfers=3),
        survey(3, HOUR, "nps", 0, "不推荐", touchpoint="delivery"),
    ):
        assert Contact.from_json(contact.to_json()) == contact
    stored = json.loads(complaint(1, HOUR).to_json())
    assert isinstance(stored, list) and stored[:3] == ["complaint:c1", NOW - HOUR, "complaint"]


def test_detractors_by_kind() -> None:
    assert [survey(1, HOUR, "nps", s).detractor for s in (0, 6, 7, 10)] == [
        True,
        True,
        False,
        False,
    ]
    assert [survey(1, HOUR, "csat", s).detractor for s in (1, 2, 3)] == [True, True, False]
    assert survey(1, HOUR, "ces", 1).detractor is None  # CES has no detractors
    assert complaint(1, HOUR).detractor is None


def test_a_customer_id_that_is_personal_data_is_masked_but_kept_apart() -> None:
    assert customer_ref("u10086") == "u10086"
    first, second = customer_ref("13812345678"), customer_ref("13912345678")
    assert first.startswith("[PHONE]~") and second.startswith("[PHONE]~")
    assert first != second and "1381234" not in first
    assert customer_ref("a.b@example.com").startswith("[EMAIL]~")
    assert customer_ref("１３８１２３４５６７８").startswith("[PHONE]~")  # full-width digits
    assert customer_ref("vip-000123") == "vip-000123"  # too few digits to be a number


def test_a_customer_key_has_no_separator_of_a_key_nor_a_brace() -> None:
    assert customer_key("u{1}, x=y|z") == "u%7B1%7D%2C%20x%3Dy%7Cz"
