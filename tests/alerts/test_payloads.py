"""Sink request bodies, pure: each vendor's shape, Chinese text intact, user text inert,
size limits kept by splitting on record boundaries, signatures as the vendors compute them."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts import payloads
from alerts.payloads import escape_markdown

# Computed outside Python with openssl, as the vendors' documentation describes:
#   printf '1700000000000\nSEC0123456789abcdef' \
#     | openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64
DINGTALK_SECRET, DINGTALK_TS = "SEC0123456789abcdef", 1_700_000_000_000
DINGTALK_SIGN = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
#   printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-secret-测试')" \
#     -binary | base64
FEISHU_SECRET, FEISHU_TS = "feishu-secret-测试", 1_700_000_000
FEISHU_SIGN = "h6Am5lndjkp4lLlUD/4BWI1Q81rUlSB5MNQihh9yZcI="

INJECTIONS = [
    "@所有人 [点我](http://evil) <font color=red>",
    '<at user_id="all">所有人</at>',
    "<at id=all></at> ![img](http://evil/x.png)",
    "# 标题 **粗体** `code` > 引用",
    "访问 https://evil.example/phish 或 www.evil.cn",
    "第一行\n# 第二行是标题\r\n---",
    "@all <@zhangsan> &lt;font&gt;",
]


def example_record(**changes: Any) -> dict[str, Any]:
    """The alert record of the engine's contract (see the lead's brief), with changes."""
    record: dict[str, Any] = {
        "id": "3f2a9c0d11aa22bb-1763800000",
        "fingerprint": "3f2a9c0d11aa22bb",
        "rule": "negative_burst",
        "description": "某渠道某类负面反馈激增 (burst of negative feedback of one kind on one "
        "channel)",
        "priority": "P2",
        "status": "firing",
        "notification": "new",
        "acknowledged": None,
        "silenced_by": None,
        "key": {"channel": "app", "category": "logistics"},
        "channels": ["app", "hotline"],
        "window": {
            "start": "2026-11-22T10:00:00.000+00:00",
            "end": "2026-11-22T10:05:00.000+00:00",
            "seconds": 300,
        },
        "measure": "negative_count",
        "value": 31.0,
        "threshold": 25.0,
        "baseline": None,
        "severity": 1.24,
        "count": 40,
        "negative_count": 31,
        "p1_count": 0,
        "terms": [
            {"term": "快递", "count": 12, "lift": 4.1},
            {"term": "丢件", "count": 7, "lift": 6.0},
        ],
        "samples": [
            {
                "id": "c-1",
                "text": "快递三天没到，电话***********打不通",
                "priority": "P1",
                "source": "complaint",
                "channel": "app",
            }
        ],
        "route": {"team": "客服主管", "sinks": ["wecom_support"]},
        "first_seen": "2026-11-22T10:01:00.000+00:00",
        "last_seen": "2026-11-22T10:05:00.000+00:00",
        "updated_at": "2026-11-22T10:05:00.000+00:00",
        "resolved_at": None,
        "sequence": 0,
    }
    record.update(copy.deepcopy(changes))
    return record


def resolved_record() -> dict[str, Any]:
    return example_record(
        status="resolved",
        notification="resolved",
        resolved_at="2026-11-22T10:20:00.000+00:00",
        updated_at="2026-11-22T10:20:00.000+00:00",
        sequence=3,
    )


def chat_texts(bodies: list[dict[str, Any]]) -> list[str]:
    """The markdown of each chat body, whatever the vendor."""
    texts = []
    for body in bodies:
        if "card" in body:
            texts.append(body["card"]["elements"][0]["content"])
        elif "content" in body["markdown"]:
            texts.append(body["markdown"]["content"])
        else:
            texts.append(body["markdown"]["text"])
    return texts


RENDERERS = {
    "wecom": payloads.render_wecom,
    "dingtalk": payloads.render_dingtalk,
    "feishu": payloads.render_feishu,
}


# --- shapes --------------------------------------------------------------------------------


def test_wecom_markdown_message_says_what_a_supervisor_needs() -> None:
    [body] = payloads.render_wecom([example_record()])
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert content.startswith('### <font color="warning">【P2 告警】某渠道某类负面反馈激增')
    for expected in (
        "`negative_burst`",
        "渠道=app，类别=物流配送",
        "负面数 31 / 阈值 25",
        "**严重度**：1.24",
        "app、hotline",
        "快递（12，×4.1）",
        "丢件（7，×6）",
        "> 1. ［P1·complaint·app］快递三天没到，电话＊＊＊＊＊＊＊＊＊＊＊打不通",
        "**负责团队**：客服主管",
        "首次 11-22 18:01:00",
        "最近 11-22 18:05:00",
        "3f2a9c0d11aa22bb-1763800000",
    ):
        assert expected in content, expected


def test_chinese_stays_readable_when_encoded() -> None:
    encoded = payloads.encode(payloads.render_wecom([example_record()])[0])
    assert "客服主管".encode() in encoded and b"\\u" not in encoded
    assert json.loads(encoded)["markdown"]["content"].count("快递") >= 2


def test_dingtalk_markdown_has_a_title_and_paragraphs() -> None:
    [body] = payloads.render_dingtalk([example_record()])
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"].startswith("【P2 告警】某渠道某类负面反馈激增")
    assert "\n\n**指标**：负面数 31 / 阈值 25\n\n" in body["markdown"]["text"]


@pytest.mark.parametrize(
    ("changes", "template"),
    [
        ({"priority": "P1"}, "red"),
        ({"priority": "P2"}, "orange"),
        ({"priority": "P3"}, "yellow"),
        ({"status": "resolved", "notification": "resolved"}, "green"),
    ],
)
def test_feishu_card_header_colour_follows_priority(changes: dict[str, Any], template: str) -> None:
    [body] = payloads.render_feishu([example_record(**changes)])
    assert body["msg_type"] == "interactive"
    header = body["card"]["header"]
    assert header["template"] == template and header["title"]["tag"] == "plain_text"
    assert header["title"]["content"].endswith(
        "某渠道某类负面反馈激增 （burst of negative feedback of one kind on one channel）"
    )
    [element] = body["card"]["elements"]
    assert element["tag"] == "markdown" and "负面数 31 / 阈值 25" in element["content"]


@pytest.mark.parametrize(
    ("changes", "label"),
    [
        ({"notification": "new"}, "告警"),
        ({"notification": "update"}, "更新"),
        ({"notification": "reminder"}, "提醒"),
        ({"status": "resolved", "notification": "resolved"}, "已恢复"),
        ({"status": "pending", "notification": None}, "待定"),
    ],
)
def test_status_in_chinese(changes: dict[str, Any], label: str) -> None:
    assert payloads.title(example_record(**changes)).startswith(f"【P2 {label}】")


def test_resolved_message_shows_when_it_resolved() -> None:
    [text] = chat_texts(payloads.render_wecom([resolved_record()]))
    assert '<font color="info">【P2 已恢复】' in text and "恢复 11-22 18:20:00" in text


def test_baseline_acknowledgement_and_silence_are_shown() -> None:
    record = example_record(
        rule="complaint_spike",
        threshold=None,
        baseline={"expected": 4.2, "deviation": 1.9},
        acknowledged={"by": "张三", "at": "2026-11-22T10:06:00.000+00:00", "note": "处理中"},
        silenced_by="silence-7",
    )
    [text] = chat_texts(payloads.render_feishu([record]))
    assert "负面数 31，基线 4.2（偏离 1.9）" in text
    assert "**已确认**：张三 11-22 18:06:00（处理中）" in text and "silence-7" in text


def test_share_measure_is_a_percentage_and_plain_string_samples_work() -> None:
    record = example_record(
        measure="negative_share",
        value=0.8125,
        threshold=0.75,
        samples=["只有文本的样例"],
        key={"platform": "weibo"},
    )
    [text] = chat_texts(payloads.render_dingtalk([record]))
    assert "负面占比 81% / 阈值 75%" in text and "> 1. 只有文本的样例" in text
    assert "平台=weibo" in text


def test_alertmanager_alert_firing_then_resolved() -> None:
    [firing] = payloads.render_alertmanager(
        [example_record()], generator_url="http://console/alerts/{fingerprint}"
    )
    assert firing["labels"] == {
        "alertname": "negative_burst",
        "fingerprint": "3f2a9c0d11aa22bb",
        "priority": "P2",
        "team": "客服主管",
        "channel": "app",
        "category": "logistics",
        "service": "vocwatch",
    }
    assert firing["startsAt"] == "2026-11-22T10:01:00.000+00:00"
    assert firing["endsAt"] == "2026-11-22T11:05:00.000+00:00"  # updated_at + 1 h
    assert firing["generatorURL"] == "http://console/alerts/3f2a9c0d11aa22bb"
    annotations = firing["annotations"]
    assert annotations["summary"].startswith("【P2 告警】某渠道某类负面反馈激增")
    assert "负面数 31 / 阈值 25" in annotations["summary"]
    assert annotations["samples"] == "快递三天没到，电话***********打不通"
    [resolved] = payloads.render_alertmanager([resolved_record()])
    assert resolved["labels"] == {k: v for k, v in firing["labels"].items()}
    assert resolved["endsAt"] == "2026-11-22T10:20:00.000+00:00"
    assert "generatorURL" not in resolved


@pytest.mark.parametrize(
    ("resolved_at", "now", "ends"),
    [
        # a resolution already past by the sender's clock is kept as it is
        (
            "2026-11-22T10:20:00.000+00:00",
            "2026-11-22T10:30:00+00:00",
            "2026-11-22T10:20:00.000+00:00",
        ),
        # one stamped ahead of the sender's clock is pulled back to now − 5 s
        (
            "2026-11-22T10:20:00.000+00:00",
            "2026-11-22T10:19:00+00:00",
            "2026-11-22T10:18:55.000+00:00",
        ),
        # never before the alert started (Alertmanager refuses endsAt < startsAt)
        (
            "2026-11-22T10:20:00.000+00:00",
            "2026-11-22T10:01:02+00:00",
            "2026-11-22T10:01:00.000+00:00",
        ),
    ],
)
def test_alertmanager_resolution_is_never_in_the_future(
    resolved_at: str, now: str, ends: str
) -> None:
    record = {**resolved_record(), "resolved_at": resolved_at}
    [alert] = payloads.render_alertmanager([record], now=datetime.fromisoformat(now))
    assert alert["endsAt"] == ends


def test_alertmanager_leaves_pending_records_out() -> None:
    assert payloads.render_alertmanager([example_record(status="pending")]) == []


def test_webhook_body_carries_the_records_as_they_are() -> None:
    records = [example_record(), resolved_record()]
    body = payloads.render_webhook(records)
    assert body == {"version": 1, "alerts": records}


# --- escaping --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", INJECTIONS)
def test_escape_markdown_neutralises_markup_mentions_and_links(text: str) -> None:
    escaped = escape_markdown(text)
    assert not set(escaped) & set("@<>[]()*_`#!~|&\\\n\r")
    assert "://" not in escaped and "www." not in escaped.lower()
    assert not re.search(r"(?i)<\s*(at|font|a|img)\b", escaped)


def test_escape_markdown_keeps_ordinary_chinese_text() -> None:
    text = "快递三天没到，客服电话一直打不通，要求退款。"
    assert escape_markdown(text) == text
    assert escape_markdown("@所有人 看这里") == "＠所有人 看这里"
    assert escape_markdown("<font color=red>红</font>") == "＜font color=red＞红＜/font＞"


@pytest.mark.parametrize("vendor", sorted(RENDERERS))
@pytest.mark.parametrize("attack", INJECTIONS)
def test_user_text_cannot_inject_into_any_chat_message(vendor: str, attack: str) -> None:
    record = example_record(
        key={"channel": "app", "product": attack},
        terms=[{"term": attack, "count": 3, "lift": 2.0}],
        samples=[
            {"id": "x", "text": attack, "priority": "P1", "source": "social", "channel": attack}
        ],
        acknowledged={"by": attack, "at": "2026-11-22T10:06:00+00:00", "note": attack},
        route={"team": attack, "sinks": []},
    )
    for records in ([record], [record, example_record()]):
        for text in chat_texts(RENDERERS[vendor](records)):
            ours = text.replace('<font color="warning">', "").replace("</font>", "")
            assert "<" not in ours and ">" not in ours.replace("\n> ", "\n").lstrip("> ")
            assert "@" not in text and "](" not in text and "://" not in text
            assert not re.search(r"(?m)^#+ .*(第二行|标题)", text)


# --- sizes and splitting ---------------------------------------------------------------------


def many_records(count: int, sample_chars: int) -> list[dict[str, Any]]:
    return [
        example_record(
            id=f"id-{i}",
            key={"product": f"产品{i:03d}"},
            samples=[{"id": f"s{i}", "text": "退款迟迟不到账😡" * sample_chars, "priority": "P2"}],
        )
        for i in range(count)
    ]


def products_in(texts: list[str]) -> list[str]:
    return [m for text in texts for m in re.findall(r"产品\d{3}", text)]


@pytest.mark.parametrize(
    ("vendor", "limit", "size"),
    [
        ("wecom", payloads.WECOM_CONTENT_LIMIT, payloads.utf8_size),
        ("dingtalk", payloads.DINGTALK_TEXT_LIMIT, payloads.json_size),
    ],
)
def test_a_big_digest_is_split_on_record_boundaries(vendor: str, limit: int, size: Any) -> None:
    records = many_records(150, 10)
    texts = chat_texts(RENDERERS[vendor](records))
    assert len(texts) > 1
    assert all(size(text) <= limit for text in texts)
    assert products_in(texts) == [f"产品{i:03d}" for i in range(150)]  # each once, in order
    headers = [re.search(r"(\d+) 条告警合并发送（第 (\d+)/(\d+) 条）", t) for t in texts]
    assert all(headers)
    assert sum(int(h[1]) for h in headers if h) == 150
    assert [int(h[2]) for h in headers if h] == list(range(1, len(texts) + 1))


def test_feishu_bodies_stay_under_20_kb_once_signed() -> None:
    bodies = payloads.render_feishu(many_records(300, 10))
    assert len(bodies) > 1
    for body in bodies:
        signed = {"timestamp": "1700000000", "sign": FEISHU_SIGN, **body}
        assert len(payloads.encode(signed)) <= payloads.FEISHU_BODY_LIMIT
    assert products_in(chat_texts(bodies)) == [f"产品{i:03d}" for i in range(300)]


@pytest.mark.parametrize("vendor", sorted(RENDERERS))
def test_one_huge_record_is_truncated_with_a_marker(vendor: str) -> None:
    record = example_record(
        samples=[{"id": f"s{i}", "text": "快递丢件😡" * 3000} for i in range(3)]
    )
    [body] = RENDERERS[vendor]([record])
    [text] = chat_texts([body])
    assert text.endswith(payloads.TRUNCATED)
    assert len(payloads.encode(body)) < 20 * 1024
    if vendor == "wecom":
        assert payloads.utf8_size(text) <= payloads.WECOM_CONTENT_LIMIT


def test_a_digest_entry_too_big_for_a_message_is_truncated_alone() -> None:
    records = [
        example_record(key={"product": "产品000"}),
        example_record(terms=[{"term": "超长词" * 3000, "count": 1}], key={"product": "产品001"}),
    ]
    texts = chat_texts(payloads.render_wecom(records))
    assert any(t.endswith(payloads.TRUNCATED) for t in texts)
    assert all(payloads.utf8_size(t) <= payloads.WECOM_CONTENT_LIMIT for t in texts)
    assert products_in(texts) == ["产品000", "产品001"]


@pytest.mark.parametrize("limit", [40, 41, 42, 43, 44, 100, 101, 102, 103])
def test_truncate_never_cuts_inside_a_utf8_character(limit: int) -> None:
    text = "a快😡b递" * 50
    cut = payloads.truncate(text, limit, marker="…")
    encoded = cut.encode()
    assert len(encoded) <= limit and len(encoded) >= limit - 4 - 3  # at most one char short
    assert encoded.decode() == cut and text.startswith(cut[:-1]) and cut.endswith("…")


def test_truncate_leaves_short_text_alone() -> None:
    assert payloads.truncate("快递", 6) == "快递"


# --- signatures ------------------------------------------------------------------------------


def test_dingtalk_signature_matches_the_documented_algorithm() -> None:
    assert payloads.dingtalk_sign(DINGTALK_SECRET, DINGTALK_TS) == DINGTALK_SIGN


def test_dingtalk_signed_url_keeps_the_token_and_url_encodes_the_sign() -> None:
    url = payloads.dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=tok", DINGTALK_SECRET, DINGTALK_TS
    )
    raw_query = urlsplit(url).query
    assert "sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D" in raw_query
    assert parse_qs(raw_query) == {
        "access_token": ["tok"],
        "timestamp": [str(DINGTALK_TS)],
        "sign": [DINGTALK_SIGN],
    }


def test_feishu_signature_matches_the_documented_algorithm() -> None:
    assert payloads.feishu_sign(FEISHU_SECRET, FEISHU_TS) == FEISHU_SIGN


@pytest.mark.parametrize(
    ("room", "groups"),
    [
        (7, [["aaa", "bbb"], ["ccc"]]),  # 3 + 1 + 3 = 7 fits exactly
        (6, [["aaa"], ["bbb"], ["ccc"]]),
        (11, [["aaa", "bbb", "ccc"]]),
    ],
)
def test_pack_counts_the_separator(room: int, groups: list[list[str]]) -> None:
    assert payloads.pack(["aaa", "bbb", "ccc"], room, 1, len) == groups


# --- customer alerts ---------------------------------------------------------------------


def customer_records() -> tuple[dict[str, Any], dict[str, Any]]:
    """A customer_risk and a detractor record as the lifecycle makes them."""
    from alerts.customer_alerts import detractor_step, risk_step
    from alerts.risk import assess
    from tests.alerts.customer_support import NOW, POLICY, call, complaint, survey

    contacts = [
        complaint(1, 7200, "第三次投诉了 @所有人 [点我](http://x.cn)", escalation=("投诉",)),
        complaint(2, 5400),
        call(3, 3600, resolved=False, wait_seconds=600.0, churn=("销户",), text="再不修就销户"),
    ]
    risk, _ = risk_step(
        None, "u1", assess(contacts, POLICY.risk, NOW), NOW, POLICY, update_seconds=30
    )
    follow_up, _ = detractor_step(
        None,
        "u2",
        [survey(4, 3600, "nps", 1, "物流太慢", touchpoint="delivery")],
        NOW,
        POLICY,
        update_seconds=30,
    )
    assert risk is not None and follow_up is not None
    return risk.to_record(), follow_up.to_record()


def test_a_customer_risk_message_names_the_customer_score_reasons_and_contacts() -> None:
    risk, _ = customer_records()
    [body] = payloads.render_wecom([risk])
    content = body["markdown"]["content"]
    assert "**客户**：客户=u1" in content
    assert "**风险**：风险分" in content and "/ 阈值 60" in content
    assert "- 流失威胁：销户（+40）" in content  # the packaged weight
    assert "- 来电未解决：1 unresolved call（+20）" in content
    assert "来电 · call · 物流配送 · 负面 · 未解决" in content
    assert "@所有人" not in content and "＠所有人" in content and "http://" not in content
    assert "**事件数**" not in content  # a customer alert has no window counts


def test_a_detractor_message_shows_the_due_time_and_the_response() -> None:
    _, follow_up = customer_records()
    text = "\n".join(payloads.record_lines(follow_up))
    assert "**回访**：回访截止 01-17 15:00:00" in text  # Beijing time
    assert "> NPS 1（delivery）：物流太慢" in text
    assert payloads.measure_text({**follow_up, "overdue": True}).endswith("（已逾期）")


def test_customer_alerts_go_to_alertmanager_with_the_customer_as_a_label() -> None:
    risk, _ = customer_records()
    [alert] = payloads.render_alertmanager([risk])
    assert alert["labels"]["customer_id"] == "u1"
    assert alert["labels"]["alertname"] == "customer_risk"
    assert "风险分" in alert["annotations"]["summary"]
