"""The closed vocabularies of the domain (领域词汇), as types.

Each is a :class:`~enum.StrEnum` — its members are the strings that travel in events,
records, configuration and metric labels, so ``Priority.P1 == "P1"`` and JSON sees plain
strings — plus a ``Literal`` alias for signatures that take the raw value. Strict mypy then
catches ``"firng"`` where a status is expected. Everything that lists, checks or ranks one of
these vocabularies imports it from here; nothing else spells the set out.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeVar

_E = TypeVar("_E", bound=StrEnum)


def by_value(vocabulary: type[_E]) -> dict[str, _E]:
    """Each member of ``vocabulary`` by its value. Code that turns a value into its member
    for every event looks it up here: a dict lookup, several times faster than calling the
    enum (and a KeyError, not a ValueError, for a value that is not one)."""
    return {member.value: member for member in vocabulary}


class Source(StrEnum):
    """Where an event comes from: one input topic each."""

    COMPLAINT = "complaint"  # 投诉工单
    CALL = "call"  # 通话记录
    SOCIAL = "social"  # 社交媒体
    SURVEY = "survey"  # 满意度调查


SourceName = Literal["complaint", "call", "social", "survey"]


class Channel(StrEnum):
    """The contact channel (渠道) of an event: a complaint's own channel, ``call`` for a call
    record, ``social`` for a social post. A survey response has none: its touchpoint says
    where it was asked."""

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


_RANKS = {member.value: rank for rank, member in enumerate(_PRIORITY_ORDER)}


def priority_rank(value: str) -> int:
    """The rank of a priority given as a string; unknown values sort after P3."""
    return _RANKS.get(value, len(_PRIORITY_ORDER))


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
    NPS = "nps"  # net promoter score of the window's NPS responses, -100 to 100
    CSAT = "csat"  # mean CSAT score, 1 to 5
    CES = "ces"  # mean CES score, 1 to 7


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
    "nps",
    "csat",
    "ces",
]


class AlertKind(StrEnum):
    """What an alert is about (告警类型)."""

    WINDOW = "window"  # a dimension key's window against a rule
    CUSTOMER_RISK = "customer_risk"  # one customer heading for churn
    DETRACTOR = "detractor"  # a detractor survey to follow up
    EMERGING_TOPIC = "emerging_topic"  # a new cluster of similar complaints


AlertKindName = Literal["window", "customer_risk", "detractor", "emerging_topic"]


class SurveyKind(StrEnum):
    """The kind of a survey response (满意度调查), which fixes its score's range."""

    NPS = "nps"  # 净推荐值: 0–10, "how likely are you to recommend us"
    CSAT = "csat"  # 满意度: 1–5
    CES = "ces"  # 费力度: 1–7, 7 = it was easy

    @property
    def scores(self) -> tuple[int, int]:
        """The lowest and highest score of this kind."""
        return _SURVEY_SCORES[self]


SurveyKindName = Literal["nps", "csat", "ces"]
_SURVEY_SCORES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5), SurveyKind.CES: (1, 7)}


class RiskSignal(StrEnum):
    """What raises a customer's risk score (流失风险信号); each has a weight in the alert
    configuration's ``customers:`` section."""

    REPEAT_CONTACTS = "repeat_contacts"  # 重复来电/投诉
    UNRESOLVED_CALL = "unresolved_call"  # 未解决来电
    LONG_WAIT = "long_wait"  # 等待过长
    TRANSFERS = "transfers"  # 多次转接
    NEGATIVE_CONTACTS = "negative_contacts"  # 负面情绪
    FALLING_SENTIMENT = "falling_sentiment"  # 情绪下滑
    LOW_RATING = "low_rating"  # 低满意度评分 (call rating, CSAT)
    DETRACTOR = "detractor"  # NPS 贬损者
    ESCALATION = "escalation"  # 升级投诉用语
    CHURN_THREAT = "churn_threat"  # 流失威胁用语


RiskSignalName = Literal[
    "repeat_contacts",
    "unresolved_call",
    "long_wait",
    "transfers",
    "negative_contacts",
    "falling_sentiment",
    "low_rating",
    "detractor",
    "escalation",
    "churn_threat",
]


class Kpi(StrEnum):
    """Service KPIs (服务指标) measured against their targets."""

    FIRST_CONTACT_RESOLUTION = "first_contact_resolution"  # 首次解决率, share of calls
    MEAN_WAIT_SECONDS = "mean_wait_seconds"  # 平均等待, seconds per call
    CSAT = "csat"  # 满意度, mean 1–5
    NPS = "nps"  # 净推荐值, -100 to 100
    CES = "ces"  # 费力度, mean 1–7
    REPEAT_CONTACT_RATE = "repeat_contact_rate"  # 重复联络率, share of contacts

    @property
    def higher_is_better(self) -> bool:
        return self not in (Kpi.MEAN_WAIT_SECONDS, Kpi.REPEAT_CONTACT_RATE)


KpiName = Literal[
    "first_contact_resolution", "mean_wait_seconds", "csat", "nps", "ces", "repeat_contact_rate"
]


class KpiStatus(StrEnum):
    """A KPI against its target: green meets it, amber misses it by less than the red line,
    red is past the red line (and grey: no data yet)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NO_DATA = "no_data"

    @property
    def level(self) -> int:
        """0 green, 1 amber, 2 red, -1 no data: the value of ``vocwatch_kpi_status``."""
        return {"green": 0, "amber": 1, "red": 2}.get(self.value, -1)


KpiStatusName = Literal["green", "amber", "red", "no_data"]


class Polarity(StrEnum):
    """Sentiment polarity (情感极性) of a text."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


PolarityName = Literal["negative", "neutral", "positive"]


class CorrectionKind(StrEnum):
    """What a person's correction (纠正) of a text's analysis changes: its category (类别不对)
    or its sentiment (情感不对). One correction may change both."""

    CATEGORY = "category"
    SENTIMENT = "sentiment"


CorrectionKindName = Literal["category", "sentiment"]


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
