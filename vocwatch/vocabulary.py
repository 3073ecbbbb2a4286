"""The closed vocabularies of the domain (领域词汇), as types.

Each is a :class:`~enum.StrEnum` — its members are the strings that travel in events,
records, configuration and metric labels, so ``Priority.P1 == "P1"`` and JSON sees plain
strings — plus a ``Literal`` alias for signatures that take the raw value. Strict mypy then
catches ``"firng"`` where a status is expected. Everything that lists, checks or ranks one of
these vocabularies imports it from here; nothing else spells the set out.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Source(StrEnum):
    """Where an event comes from: one input topic each."""

    COMPLAINT = "complaint"  # 投诉工单
    CALL = "call"  # 通话记录
    SOCIAL = "social"  # 社交媒体


SourceName = Literal["complaint", "call", "social"]


class Channel(StrEnum):
    """The contact channel (渠道) of an event: a complaint's own channel, ``call`` for a call
    record, ``social`` for a social post."""

    HOTLINE = "hotline"
    EMAIL = "email"
    APP = "app"
    WEB = "web"
    WECHAT = "wechat"
    STORE = "store"
    CALL = "call"
    SOCIAL = "social"


ChannelName = Literal["hotline", "email", "app", "web", "wechat", "store", "call", "social"]
#: The channels a complaint may name (its ``channel`` field).
COMPLAINT_CHANNELS: tuple[Channel, ...] = (
    Channel.HOTLINE,
    Channel.EMAIL,
    Channel.APP,
    Channel.WEB,
    Channel.WECHAT,
    Channel.STORE,
)


class Platform(StrEnum):
    """The platform of a social post (社交平台)."""

    WEIBO = "weibo"
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"
    WECHAT = "wechat"
    OTHER = "other"


PlatformName = Literal["weibo", "douyin", "xiaohongshu", "wechat", "other"]


class Priority(StrEnum):
    """Priority (优先级) of an event or an alert; P1 is the most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """0 for P1, 1 for P2, 2 for P3: sort by it, most urgent first."""
        return _PRIORITY_ORDER.index(self)


PriorityName = Literal["P1", "P2", "P3"]
_PRIORITY_ORDER = (Priority.P1, Priority.P2, Priority.P3)


def priority_rank(value: str) -> int:
    """The rank of a priority given as a string; unknown values sort after P3."""
    try:
        return Priority(value).rank
    except ValueError:
        return len(_PRIORITY_ORDER)


class AlertStatus(StrEnum):
    """Where an alert is in its lifecycle (告警状态)."""

    PENDING = "pending"  # breached, for less than the rule's for:
    FIRING = "firing"
    RESOLVED = "resolved"


AlertStatusName = Literal["pending", "firing", "resolved"]


class Notification(StrEnum):
    """Why an alert record was emitted (its ``notification`` field)."""

    NEW = "new"  # it started firing
    UPDATE = "update"  # counts or examples changed
    ESCALATION = "escalation"  # its severity doubled since people were last told
    REMINDER = "reminder"  # still firing, unacknowledged, its rule's repeat: has passed
    RESOLVED = "resolved"  # it is over
    # Never an alert's own state, only on records sent outside the lifecycle:
    REFRESH = "refresh"  # the timer re-sends a firing alert to sinks that expire alerts
    ACKNOWLEDGED = "acknowledged"  # the live feed, when a person acknowledges an alert


NotificationName = Literal[
    "new", "update", "escalation", "reminder", "resolved", "refresh", "acknowledged"
]
#: What chat robots are sent: the news of the lifecycle, not ``update`` (nor ``refresh``).
CHAT_NOTIFICATIONS: frozenset[Notification] = frozenset(
    {Notification.NEW, Notification.ESCALATION, Notification.REMINDER, Notification.RESOLVED}
)


class Measure(StrEnum):
    """What a window rule measures over its window."""

    COUNT = "count"
    RATE_PER_MINUTE = "rate_per_minute"
    NEGATIVE_COUNT = "negative_count"
    NEGATIVE_SHARE = "negative_share"
    MEAN_SENTIMENT = "mean_sentiment"
    P1_COUNT = "p1_count"
    REACH_NEGATIVE = "reach_negative"
    FIRST_CONTACT_RESOLUTION = "first_contact_resolution"
    MEAN_WAIT_SECONDS = "mean_wait_seconds"


MeasureName = Literal[
    "count",
    "rate_per_minute",
    "negative_count",
    "negative_share",
    "mean_sentiment",
    "p1_count",
    "reach_negative",
    "first_contact_resolution",
    "mean_wait_seconds",
]


class AlertKind(StrEnum):
    """What an alert is about (告警类型)."""

    WINDOW = "window"  # a dimension key's window against a rule
    CUSTOMER_RISK = "customer_risk"  # one customer heading for churn
    DETRACTOR = "detractor"  # a detractor survey to follow up
    EMERGING_TOPIC = "emerging_topic"  # a new cluster of similar complaints


AlertKindName = Literal["window", "customer_risk", "detractor", "emerging_topic"]


class Polarity(StrEnum):
    """Sentiment polarity (情感极性) of a text."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


PolarityName = Literal["negative", "neutral", "positive"]


class Category(StrEnum):
    """Issue categories (问题分类)."""

    PRODUCT_QUALITY = "product_quality"
    LOGISTICS = "logistics"
    SERVICE = "service"
    PRICE = "price"
    AFTER_SALES = "after_sales"
    TECHNICAL = "technical"
    OTHER = "other"


CategoryName = Literal[
    "product_quality", "logistics", "service", "price", "after_sales", "technical", "other"
]
#: 中文 names, as the console and chat messages show them.
CATEGORY_NAMES_ZH: dict[Category, str] = {
    Category.PRODUCT_QUALITY: "产品质量",
    Category.LOGISTICS: "物流配送",
    Category.SERVICE: "服务体验",
    Category.PRICE: "价格费用",
    Category.AFTER_SALES: "售后退换",
    Category.TECHNICAL: "技术故障",
    Category.OTHER: "其他",
}
