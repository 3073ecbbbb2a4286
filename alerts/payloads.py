"""Request bodies of the alert sinks (告警推送内容), pure: no I/O, no clock.

Each vendor gets its own documented shape:

* WeCom group robot (企业微信群机器人): ``{"msgtype": "markdown", "markdown": {"content"}}``,
  content at most 4096 bytes of UTF-8;
* DingTalk custom robot (钉钉自定义机器人): ``{"msgtype": "markdown", "markdown": {"title",
  "text"}}``, signed with ``timestamp`` and ``sign`` query parameters; kept well under the
  ~20 000-byte message limit;
* Feishu / Lark custom bot (飞书自定义机器人): an interactive card, signed with ``timestamp``
  and ``sign`` in the body; the whole body at most 20 KB;
* Prometheus Alertmanager: the ``POST /api/v2/alerts`` list of alerts;
* a generic JSON webhook: ``{"version": 1, "alerts": [records]}``.

One record makes one message. Several records make a *digest* (合并发送): one compact entry
per record, split on record boundaries into as many messages as the vendor's size limit
needs; a single entry too big for one message is cut, on a character boundary, with a
visible marker. Text that comes from customers or operators (samples, terms, key values,
acknowledgement notes) goes through :func:`escape_markdown`, so it cannot add links, images,
mentions, HTML or headings to a chat message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

from vocwatch.vocabulary import (
    CATEGORY_NAMES_ZH,
    AlertKind,
    AlertStatus,
    Measure,
    Notification,
    Priority,
    RiskSignal,
    priority_rank,
)

Record = Mapping[str, Any]
Body = dict[str, Any]

WECOM_CONTENT_LIMIT = 4096  # bytes of UTF-8 in markdown.content
DINGTALK_TEXT_LIMIT = 15_000  # bytes of JSON text, well under DingTalk's ~20 000
FEISHU_BODY_LIMIT = 20 * 1024  # bytes of the whole JSON request body
FEISHU_SIGN_RESERVE = 128  # room kept for "timestamp" and "sign" in a Feishu body
MAX_SAMPLES = 3
DIGEST_SAMPLE_CHARS = 60
TRUNCATED = "\n…（内容过长，已截断）"
RESOLVE_MARGIN = 5.0  # seconds; see render_alertmanager
BEIJING = timezone(timedelta(hours=8), "北京时间")

# Chinese labels by vocabulary member; looked up with a record's plain strings.
STATUS_ZH: dict[str, str] = {
    Notification.NEW: "告警",
    Notification.UPDATE: "更新",
    Notification.ESCALATION: "升级",
    Notification.REMINDER: "提醒",
    Notification.RESOLVED: "已恢复",
    Notification.REFRESH: "告警",
}
STATE_ZH: dict[str, str] = {
    AlertStatus.PENDING: "待定",
    AlertStatus.FIRING: "告警",
    AlertStatus.RESOLVED: "已恢复",
}
MEASURE_ZH: dict[str, str] = {
    Measure.COUNT: "事件数",
    Measure.RATE_PER_MINUTE: "每分钟事件数",
    Measure.NEGATIVE_COUNT: "负面数",
    Measure.NEGATIVE_SHARE: "负面占比",
    Measure.MEAN_SENTIMENT: "平均情感分",
    Measure.P1_COUNT: "P1 事件数",
    Measure.REACH_NEGATIVE: "负面传播量",
    Measure.FIRST_CONTACT_RESOLUTION: "一次解决率",
    Measure.MEAN_WAIT_SECONDS: "平均等待秒数",
    Measure.NPS: "净推荐值",
    Measure.CSAT: "满意度",
    Measure.CES: "费力度",
}
_PERCENT = frozenset({Measure.NEGATIVE_SHARE, Measure.FIRST_CONTACT_RESOLUTION})
DIMENSION_ZH = {
    "source": "来源",
    "channel": "渠道",
    "platform": "平台",
    "category": "类别",
    "product": "产品",
    "region": "地区",
    "customer_id": "客户",
}
SOURCE_ZH = {"complaint": "投诉", "call": "来电", "social": "社交", "survey": "调查"}
SIGNAL_ZH: dict[str, str] = {
    RiskSignal.REPEAT_CONTACTS: "重复联络",
    RiskSignal.UNRESOLVED_CALL: "来电未解决",
    RiskSignal.LONG_WAIT: "等待过长",
    RiskSignal.TRANSFERS: "多次转接",
    RiskSignal.NEGATIVE_CONTACTS: "负面情绪",
    RiskSignal.FALLING_SENTIMENT: "情绪下滑",
    RiskSignal.LOW_RATING: "低评分",
    RiskSignal.DETRACTOR: "NPS 贬损",
    RiskSignal.ESCALATION: "升级投诉用语",
    RiskSignal.CHURN_THREAT: "流失威胁",
}
MAX_CONTACT_LINES = 5  # of a customer_risk alert's timeline in a chat message
FEISHU_TEMPLATE: dict[str, str] = {
    Priority.P1: "red",
    Priority.P2: "orange",
    Priority.P3: "yellow",
}
WECOM_COLOUR: dict[str, str] = {
    Priority.P1: "warning",
    Priority.P2: "warning",
    Priority.P3: "comment",
}

# Markdown and HTML specials become their full-width look-alikes: the text reads the same
# but no chat client parses it as markup (backslash escapes are not honoured everywhere).
_FULL_WIDTH = str.maketrans(
    {
        "@": "＠",
        "<": "＜",
        ">": "＞",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "!": "！",
        "~": "～",
        "|": "｜",
        "&": "＆",
        "\\": "＼",
    }
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):/+")
_WWW = re.compile(r"(?i)\bwww\.")


# --- escaping and sizes ------------------------------------------------------------------


def escape_markdown(text: object) -> str:
    """``text`` made inert in a chat message: one line, no markup, no mention, no link.

    ``@`` becomes ``＠`` (no @所有人 / @all), angle brackets become ``＜ ＞`` (no ``<at>``,
    ``<font>`` or any HTML), markdown specials become full-width, a URL scheme loses its
    ``://`` and ``www.`` its dot, so that clients do not turn it into a link.
    """
    flat = _CONTROL.sub(" ", str(text)).translate(_FULL_WIDTH)
    return _WWW.sub("www．", _SCHEME.sub(r"\1：//", flat)).strip()


def utf8_size(text: str) -> int:
    return len(text.encode())


def json_size(text: str) -> int:
    """Bytes ``text`` takes as a JSON string (UTF-8, ``ensure_ascii=False``), quotes excluded.

    JSON escapes character by character, so the size of a concatenation is the sum of the
    sizes of its parts."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def encode(body: Any) -> bytes:
    """A request body as sent: compact UTF-8 JSON, Chinese kept as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def truncate(
    text: str, limit: int, size: Callable[[str], int] = utf8_size, marker: str = TRUNCATED
) -> str:
    """``text`` cut so that it and ``marker`` fit in ``limit`` (as measured by ``size``).

    The cut falls between characters, never inside a UTF-8 sequence."""
    if size(text) <= limit:
        return text
    room = limit - size(marker)
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low] + marker


# --- signatures ----------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")).

    The value is URL-encoded when put in the query (:func:`dingtalk_signed_url`)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot's URL with ``timestamp`` and the URL-encoded ``sign`` appended."""
    sign = quote_plus(dingtalk_sign(secret, timestamp_ms))
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu 签名校验: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- what a message says -------------------------------------------------------------------


def status_label(record: Record) -> str:
    """告警 / 更新 / 提醒 / 已恢复 (or 待定 for a pending alert)."""
    if record.get("status") == AlertStatus.RESOLVED:
        return STATUS_ZH[Notification.RESOLVED]
    notification = record.get("notification")
    if notification in STATUS_ZH:
        return STATUS_ZH[notification]
    return STATE_ZH.get(str(record.get("status")), "告警")


def title(record: Record) -> str:
    what = record.get("description") or record.get("rule") or "告警"
    return escape_markdown(f"【{record.get('priority', '')} {status_label(record)}】{what}")


def key_text(record: Record) -> str:
    """The dimension key in Chinese: ``渠道=app，类别=物流配送``."""
    key = record.get("key") or {}
    if not isinstance(key, Mapping):
        return escape_markdown(key)
    parts = []
    for dim, value in key.items():
        shown = CATEGORY_NAMES_ZH.get(value, value) if dim == "category" else value
        parts.append(f"{DIMENSION_ZH.get(dim, dim)}={shown}")
    return escape_markdown("，".join(parts)) or "（全部）"


def measure_text(record: Record) -> str:
    """Value against threshold or baseline: ``负面数 31 ≥ 阈值 25``; a customer's risk
    score against its threshold, or a follow-up's due time."""
    if record.get("kind") == AlertKind.CUSTOMER_RISK:
        score, limit = _number(record.get("score"), ""), _number(record.get("threshold"), "")
        return f"风险分 {score} / 阈值 {limit}"
    if record.get("kind") == AlertKind.DETRACTOR:
        late = "（已逾期）" if record.get("overdue") else ""
        return f"回访截止 {_when(record.get('due_at'))}{late}"
    measure = str(record.get("measure", ""))
    name = MEASURE_ZH.get(measure, escape_markdown(measure))
    value = _number(record.get("value"), measure)
    baseline = record.get("baseline")
    if isinstance(baseline, Mapping):
        expected = _number(baseline.get("expected"), measure)
        deviation = _number(baseline.get("deviation"), "")
        return f"{name} {value}，基线 {expected}（偏离 {deviation}）"
    threshold = record.get("threshold")
    if threshold is None:
        return f"{name} {value}"
    return f"{name} {value} / 阈值 {_number(threshold, measure)}"


def terms_text(record: Record, limit: int = 5) -> str:
    shown = []
    for term in list(record.get("terms") or [])[:limit]:
        if isinstance(term, Mapping):
            lift = term.get("lift")
            extra = f"，×{_number(lift, '')}" if lift is not None else ""
            word = escape_markdown(term.get("term", ""))
            shown.append(f"{word}（{term.get('count', 0)}{extra}）")
        else:
            shown.append(escape_markdown(term))
    return "、".join(shown)


def sample_lines(record: Record, limit: int = MAX_SAMPLES, chars: int | None = None) -> list[str]:
    """Up to ``limit`` masked example texts as quoted lines: ``> 1. ［P1·complaint·app］…``."""
    lines = []
    for number, sample in enumerate(list(record.get("samples") or [])[:limit], start=1):
        text, tags = _sample(sample)
        if chars is not None and len(text) > chars:
            text = text[:chars] + "…"
        tag = f"［{escape_markdown('·'.join(tags))}］" if tags else ""
        lines.append(f"> {number}. {tag}{escape_markdown(text)}")
    return lines


def time_text(record: Record) -> str:
    parts = [f"首次 {_when(record.get('first_seen'))}", f"最近 {_when(record.get('last_seen'))}"]
    if record.get("resolved_at"):
        parts.append(f"恢复 {_when(record.get('resolved_at'))}")
    return " · ".join(parts) + "（北京时间）"


def record_lines(record: Record) -> list[str]:
    """Every line of the full message about one record (markdown, user text escaped)."""
    if record.get("kind") in (AlertKind.CUSTOMER_RISK, AlertKind.DETRACTOR):
        return customer_lines(record)
    lines = [
        f"**规则**：{_name(record.get('rule', ''))}",
        f"**对象**：{key_text(record)}",
        f"**指标**：{measure_text(record)}",
    ]
    if record.get("severity") is not None:
        lines.append(f"**严重度**：{_number(record.get('severity'), '')}")
    lines.append(
        f"**事件数**：{record.get('count', 0)}（负面 {record.get('negative_count', 0)}，"
        f"P1 {record.get('p1_count', 0)}）"
    )
    lines.extend(_optional_lines(record))
    samples = sample_lines(record)
    if samples:
        lines += ["**样例**：", *samples]
    lines.append(f"**负责团队**：{escape_markdown(_team(record) or '未指定')}")
    lines.append(f"**时间**：{time_text(record)}")
    lines.extend(_handling_lines(record))
    lines.append(f"告警编号：{escape_markdown(record.get('id', ''))}")
    return lines


def customer_lines(record: Record) -> list[str]:
    """The full message about a customer alert: the customer, the score and its reasons or
    the follow-up's due time and responses, the last contacts, the customer's own words."""
    lines = [f"**规则**：{_name(record.get('rule', ''))}", f"**客户**：{key_text(record)}"]
    if record.get("kind") == AlertKind.CUSTOMER_RISK:
        lines.append(f"**风险**：{measure_text(record)}")
        reasons = [_signal_line(h) for h in record.get("signals") or []]
        if reasons:
            lines += ["**原因**：", *reasons]
        contacts = [_contact_line(c) for c in list(record.get("contacts") or [])]
        if contacts:
            lines += ["**最近接触**：", *contacts[:MAX_CONTACT_LINES]]
        samples = sample_lines(record)
        if samples:
            lines += ["**客户原话**：", *samples]
    else:
        lines.append(f"**回访**：{measure_text(record)}")
        responses = [_response_line(r) for r in list(record.get("responses") or [])]
        if responses:
            lines += ["**调查**：", *responses]
    lines.append(f"**负责团队**：{escape_markdown(_team(record) or '未指定')}")
    lines.append(f"**时间**：{time_text(record)}")
    lines.extend(_handling_lines(record))
    lines.append(f"告警编号：{escape_markdown(record.get('id', ''))}")
    return lines


def _signal_line(hit: Any) -> str:
    """One reason of a risk score: ``- 流失威胁：销户（+35）``."""
    if not isinstance(hit, Mapping):
        return f"- {escape_markdown(hit)}"
    name = SIGNAL_ZH.get(str(hit.get("signal")), str(hit.get("signal", "")))
    text = f"{name}：{hit.get('detail', '')}（+{_number(round(float(hit.get('points', 0))), '')}）"
    return f"- {escape_markdown(text)}"


def _contact_line(contact: Any) -> str:
    if not isinstance(contact, Mapping):
        return f"- {escape_markdown(contact)}"
    source = SOURCE_ZH.get(str(contact.get("source")), str(contact.get("source", "")))
    parts = [_when(contact.get("time")), source]
    if contact.get("channel"):
        parts.append(str(contact["channel"]))
    category = contact.get("category")
    if category and category != "other":
        parts.append(CATEGORY_NAMES_ZH.get(category, str(category)))
    if contact.get("polarity") == "negative":
        parts.append("负面")
    if contact.get("resolved") is not None:
        parts.append("已解决" if contact["resolved"] else "未解决")
    survey = contact.get("survey")
    if isinstance(survey, Mapping):
        parts.append(f"{str(survey.get('kind', '')).upper()} {survey.get('score')}")
    return "- " + escape_markdown(" · ".join(str(p) for p in parts))


def _response_line(response: Any) -> str:
    if not isinstance(response, Mapping):
        return f"> {escape_markdown(response)}"
    head = f"{str(response.get('kind', '')).upper()} {response.get('score')}"
    if response.get("touchpoint"):
        head += f"（{response['touchpoint']}）"
    comment = f"：{response['comment']}" if response.get("comment") else ""
    return f"> {escape_markdown(head + comment)}"


def digest_entry(record: Record) -> str:
    """One record in a digest: one line, and its first sample."""
    parts = [f"**{title(record)}**", key_text(record), measure_text(record)]
    terms = terms_text(record, limit=3)
    if terms:
        parts.append(f"高频词 {terms}")
    team = _team(record)
    if team:
        parts.append(escape_markdown(team))
    lines = ["- " + " · ".join(parts), *sample_lines(record, 1, DIGEST_SAMPLE_CHARS)]
    return "\n".join(lines)


def digest_header(count: int, part: int = 1, parts: int = 1) -> str:
    of = f"（第 {part}/{parts} 条）" if parts > 1 else ""
    return f"{count} 条告警合并发送{of}"


# --- chat vendors ----------------------------------------------------------------------------


def render_wecom(records: Sequence[Record]) -> list[Body]:
    """WeCom markdown messages; each ``content`` at most 4096 bytes of UTF-8."""

    def full(record: Record) -> str:
        colour = (
            "info"
            if record.get("status") == AlertStatus.RESOLVED
            else WECOM_COLOUR.get(str(record.get("priority")), "warning")
        )
        return "\n".join(
            [f'### <font color="{colour}">{title(record)}</font>', *record_lines(record)]
        )

    messages = _messages(
        records, full, lambda header: f"### {header}", "\n", WECOM_CONTENT_LIMIT, utf8_size
    )
    return [{"msgtype": "markdown", "markdown": {"content": m.text}} for m in messages]


def render_dingtalk(records: Sequence[Record]) -> list[Body]:
    """DingTalk markdown messages (``title`` is the notification preview)."""
    separator = "\n\n"  # DingTalk joins single-newline lines into one paragraph

    def full(record: Record) -> str:
        return separator.join([f"### {title(record)}", *record_lines(record)])

    messages = _messages(
        records, full, lambda header: f"### {header}", separator, DINGTALK_TEXT_LIMIT, json_size
    )
    return [
        {"msgtype": "markdown", "markdown": {"title": m.title, "text": m.text}} for m in messages
    ]


def render_feishu(records: Sequence[Record]) -> list[Body]:
    """Feishu interactive cards, unsigned; each body, once signed, at most 20 KB."""

    def card(head: str, content: str, template: str) -> Body:
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": head}, "template": template},
                "elements": [{"tag": "markdown", "content": content}],
            },
        }

    if not records:
        return []
    # The longest header a body of this batch can have, to size the room left for content.
    longest = (
        title(records[0])
        if len(records) == 1
        else digest_header(len(records), len(records), len(records))
    )
    overhead = len(encode(card(longest, "", "orange"))) + FEISHU_SIGN_RESERVE
    messages = _messages(
        records,
        lambda r: "\n".join(record_lines(r)),
        None,
        "\n",
        FEISHU_BODY_LIMIT - overhead,
        json_size,
    )
    return [card(m.title, m.text, _template(m.records)) for m in messages]


# --- machine sinks ---------------------------------------------------------------------------


def render_alertmanager(
    records: Sequence[Record],
    *,
    generator_url: str | None = None,
    firing_ttl: float = 3600.0,
    now: datetime | None = None,
) -> list[Body]:
    """Alertmanager ``POST /api/v2/alerts`` body: one alert per firing or resolved record.

    A resolved record carries ``endsAt`` = its resolution time, which is how Alertmanager
    resolves an alert. A firing one ends ``firing_ttl`` seconds after its last update unless
    updated again (the engine's reminders), so that an alert of a stopped worker does not
    fire for ever. Pending records are left out (as Prometheus does).

    Alertmanager keeps the later of two explicit ends while the new one is still in the
    future by *its* clock: a resolution stamped a moment ahead of it would not resolve. So
    with ``now`` (the sending time) an ``endsAt`` is never later than ``now`` minus
    :data:`RESOLVE_MARGIN` seconds (nor earlier than ``startsAt``)."""
    alerts = []
    for record in records:
        if record.get("status") == AlertStatus.PENDING:
            continue
        alert: Body = {
            "labels": alertmanager_labels(record),
            "annotations": alertmanager_annotations(record),
            "startsAt": record.get("first_seen"),
        }
        ends = _alertmanager_end(record, firing_ttl, now)
        if ends:
            alert["endsAt"] = ends
        if generator_url:
            alert["generatorURL"] = generator_url.format(
                id=record.get("id", ""), fingerprint=record.get("fingerprint", "")
            )
        alerts.append(alert)
    return alerts


def alertmanager_labels(record: Record) -> dict[str, str]:
    """Identifying labels: the rule, the fingerprint, priority, team and the key's dims."""
    labels = {
        str(dim): str(value)
        for dim, value in (record.get("key") or {}).items()
        if re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", str(dim))
    }
    labels.update(
        {
            "alertname": str(record.get("rule", "")),
            "fingerprint": str(record.get("fingerprint", "")),
            "priority": str(record.get("priority", "")),
            "service": "vocwatch",
        }
    )
    team = _team(record)
    if team:
        labels["team"] = team
    return labels


def alertmanager_annotations(record: Record) -> dict[str, str]:
    summary = (
        f"【{record.get('priority', '')} {status_label(record)}】"
        f"{record.get('description') or record.get('rule', '')}：{key_text(record)}，"
        f"{measure_text(record)}"
    )
    annotations = {
        "summary": summary,
        "description": str(record.get("description") or ""),
        "alert_id": str(record.get("id", "")),
        "count": str(record.get("count", 0)),
    }
    samples = [_sample(s)[0] for s in list(record.get("samples") or [])[:MAX_SAMPLES]]
    if samples:
        annotations["samples"] = "\n".join(samples)
    terms = terms_text(record)
    if terms:
        annotations["terms"] = terms
    return annotations


def render_webhook(records: Sequence[Record]) -> Body:
    """The generic webhook body: every record as it is."""
    return {"version": 1, "alerts": [dict(record) for record in records]}


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One chat message before it is wrapped in the vendor's body."""

    title: str
    text: str
    records: Sequence[Record]


def _messages(
    records: Sequence[Record],
    full: Callable[[Record], str],
    heading: Callable[[str], str] | None,
    separator: str,
    limit: int,
    size: Callable[[str], int],
) -> list[Message]:
    """The full form of one record, or a digest split on record boundaries so that every
    text fits in ``limit``; ``heading`` styles the digest header inside the text (None: the
    header is only the title)."""
    if len(records) <= 1:
        return [Message(title(r), truncate(full(r), limit, size), [r]) for r in records]
    worst = digest_header(len(records), len(records), len(records))
    room = limit - (size(heading(worst) + separator) if heading else 0)
    entries = [truncate(digest_entry(r), room, size) for r in records]
    groups = pack(entries, room, size(separator), size)
    messages, start = [], 0
    for part, group in enumerate(groups, start=1):
        header = digest_header(len(group), part, len(groups))
        text = separator.join([heading(header), *group] if heading else group)
        messages.append(Message(header, text, records[start : start + len(group)]))
        start += len(group)
    return messages


def pack(
    entries: Sequence[str], room: int, separator_size: int, size: Callable[[str], int]
) -> list[list[str]]:
    """Entries grouped in order so that each group, joined by the separator, fits ``room``.

    Every entry must fit alone (see :func:`truncate`)."""
    groups: list[list[str]] = []
    used = 0
    for entry in entries:
        cost = size(entry)
        if groups and used + separator_size + cost <= room:
            groups[-1].append(entry)
            used += separator_size + cost
        else:
            groups.append([entry])
            used = cost
    return groups


def _template(records: Sequence[Record]) -> str:
    firing = [r for r in records if r.get("status") != AlertStatus.RESOLVED]
    if not firing:
        return "green"
    worst = min((str(r.get("priority", Priority.P3)) for r in firing), key=priority_rank)
    return FEISHU_TEMPLATE.get(worst, "orange")


def _optional_lines(record: Record) -> list[str]:
    lines = []
    channels = record.get("channels") or []
    if channels:
        lines.append(f"**渠道**：{escape_markdown('、'.join(map(str, channels)))}")
    terms = terms_text(record)
    if terms:
        lines.append(f"**高频词**：{terms}")
    return lines


def _handling_lines(record: Record) -> list[str]:
    lines = []
    ack = record.get("acknowledged")
    if isinstance(ack, Mapping):
        note = f"（{escape_markdown(ack['note'])}）" if ack.get("note") else ""
        lines.append(
            f"**已确认**：{escape_markdown(ack.get('by', ''))} {_when(ack.get('at'))}{note}"
        )
    if record.get("silenced_by"):
        lines.append(f"**已静默**：{escape_markdown(record['silenced_by'])}")
    return lines


def _name(name: Any) -> str:
    """A rule name from the configuration, in inline code (escaped if it is not a name)."""
    text = str(name)
    return f"`{text}`" if re.fullmatch(r"[a-z][a-z0-9_]*", text) else escape_markdown(text)


def _team(record: Record) -> str:
    route = record.get("route")
    return str(route.get("team") or "") if isinstance(route, Mapping) else ""


def _sample(sample: Any) -> tuple[str, list[str]]:
    """(text, tags) of a sample, a mapping with ``text`` or the text alone."""
    if isinstance(sample, Mapping):
        tags = [str(sample[k]) for k in ("priority", "source", "channel") if sample.get(k)]
        return str(sample.get("text", "")), tags
    return str(sample), []


def _number(value: Any, measure: str) -> str:
    if value is None:
        return "—"
    if not isinstance(value, int | float):
        return escape_markdown(value)
    if measure in _PERCENT:
        return f"{value:.0%}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _when(iso: Any) -> str:
    """An ISO time as Beijing wall-clock time, ``11-22 18:05:00``."""
    if not iso:
        return "—"
    moment = _parse_time(iso)
    if moment is None:
        return escape_markdown(iso)
    return moment.astimezone(BEIJING).strftime("%m-%d %H:%M:%S")


def _alertmanager_end(record: Record, firing_ttl: float, now: datetime | None) -> str | None:
    if record.get("status") != AlertStatus.RESOLVED:
        last = _parse_time(record.get("updated_at") or record.get("last_seen"))
        return _iso(last + timedelta(seconds=firing_ttl)) if last else None
    resolved = _parse_time(record.get("resolved_at") or record.get("updated_at"))
    if resolved is None:
        return None
    if now is not None:
        resolved = min(resolved, now - timedelta(seconds=RESOLVE_MARGIN))
    started = _parse_time(record.get("first_seen"))
    return _iso(max(resolved, started) if started else resolved)


def _parse_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
