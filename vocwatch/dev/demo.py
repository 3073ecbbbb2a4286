"""Synthetic, realistic demo traffic (演示数据): complaints, call records, social posts and
survey responses, with an incident — a burst of one kind of complaint — so that alerts
appear; a few customers whose contacts drift into churn risk (客户流失风险) or who answer
a survey as detractors (贬损者), so that customer alerts appear too; and later a new problem
no rule names (a robot vacuum's firmware update gone wrong, told by many customers in their
own words), so that an emerging topic (新问题) appears.

:class:`DemoTraffic` is pure (a seeded ``random.Random`` and times passed in); :func:`run`
produces its output to Kafka with kafka-python. Some messages are deliberately broken
(about 1 in 60) to show dead-lettering, and some texts carry made-up phone numbers and
e-mail addresses to show masking.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from vocwatch.settings import Settings

log = logging.getLogger(__name__)
CST = timezone(timedelta(hours=8))

PRODUCTS = [
    "智能手表X2",
    "扫地机器人S7",
    "蓝牙耳机Pro",
    "空气炸锅A5",
    "会员年卡",
    "4K电视55寸",
    "婴儿奶粉3段",
    "护肤套装",
    "电动牙刷T3",
    "流量套餐",
]
REGIONS = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安"]
COURIERS = ["顺丰", "中通", "圆通", "韵达", "京东物流"]

NEGATIVE = {
    "logistics": [
        "{product}下单{days}天了还没发货，催了好几次都说在处理，太慢了",
        "快递显示已签收，但我根本没收到包裹，{courier}的快递员电话也打不通",
        "物流信息{days}天没更新了，{product}到底寄到哪里去了？",
        "收到的箱子被压坏了，{product}外壳都裂了，配送太不小心",
        "发错货了，我买的是{product}，寄来的是别的东西",
    ],
    "product_quality": [
        "{product}用了{days}天就坏了，质量太差了",
        "刚收到的{product}有明显瑕疵，做工很粗糙，跟宣传的完全不一样",
        "{product}充不进电，开机就黑屏，是不是次品？",
        "奶粉打开有异味，怀疑变质了，孩子喝了不舒服",
    ],
    "service": [
        "客服态度太差了，问了三遍都在敷衍，最后直接挂电话",
        "人工客服排队排了{minutes}分钟都没人接，打不通",
        "在线客服已读不回，问题提交{days}天了没人管",
        "门店工作人员很不耐烦，推来推去踢皮球",
    ],
    "price": [
        "{product}刚买完就降价{amount}元，申请价保被拒绝",
        "优惠券明明满足条件却用不了，结算价格比页面贵",
        "套餐乱收费，多收了{amount}元，也没提前告知",
    ],
    "after_sales": [
        "申请退款{days}天了还没到账，售后一直说在审核",
        "{product}坏了申请保修，售后让我自己承担运费，太不合理",
        "退货寄回去一周了，商家不处理退款，联系电话{phone}",
        "换货流程太复杂，来回折腾还没解决，要求赔偿",
    ],
    "technical": [
        "APP一打开就闪退，更新了也没用，根本下不了单",
        "支付失败但是钱被扣了，重复扣费{amount}元，请尽快处理",
        "登录不上，验证码一直收不到，账号也找不回",
        "网站页面一直白屏，系统故障好几个小时了",
    ],
}
ESCALATION = [
    "这已经是第三次了，再不解决我就打12315投诉，还要找媒体曝光！",
    "{product}充电时突然起火，差点烫伤孩子，我要起诉你们",
    "吃了你们的{product}全家拉肚子，食物中毒住院了，已经报警",
]
POSITIVE = [
    "{product}很好用，物流也快，好评！",
    "客服小姐姐很耐心，问题很快解决了，点赞",
    "第二次购买了，{product}质量不错，性价比高",
    "售后处理很及时，退款当天就到账了，满意",
    "包装很仔细，{courier}送货上门，服务很好 😊",
]
NEUTRAL = [
    "请问{product}支持七天无理由退货吗？",
    "想咨询一下{product}的保修期是多久",
    "会员年卡怎么开通？需要绑定手机号吗",
    "请问{region}的门店几点关门",
]
INCIDENT = [
    "{courier}快递{days}天都没到，物流信息一直不更新，到底怎么回事？",
    "买的{product}显示已发货{days}天了还在路上，快递太慢了！！",
    "{region}的快递全部延迟，催了客服也没用，包裹不知道去哪了",
    "快递丢件了，{courier}说找不到我的包裹，谁来负责？😡",
    "又是物流问题，{product}配送延误，已经第{days}天了，差评",
]
# A new problem, in the words of different customers: what the emerging-topic detection
# finds (the rules see only a few more product-quality complaints).
EMERGING = [
    "扫地机器人S7昨晚自动更新固件以后，一直在原地转圈，根本不扫地",
    "S7升级固件后找不到充电座了，电量耗光就停在客厅中间",
    "固件更新之后扫地机器人老是撞墙，撞完还一直原地打转",
    "扫地机器人更新完固件就在原地转圈圈，重启好几次都没用",
    "新固件有问题吧？扫地机器人S7每次出门就迷路，回不了充电座",
    "升级固件后扫地机器人的地图全丢了，转圈撞家具",
    "扫地机器人S7固件升级以后不停转圈，还一直语音报错",
    "自动更新了固件，扫地机器人现在只会原地打转，APP里也连不上",
    "更新固件后S7回充失败，找不到充电座，三天没法用了",
    "扫地机器人固件升级后导航坏了，一直撞墙转圈",
    "昨晚固件更新，今早扫地机器人就一直原地转，客服说等新版本",
    "S7扫地机器人升级之后地图清空，转圈找充电座找不到",
]
SURVEY_PRAISE = [
    "送货很快，客服也很耐心",
    "{product}质量不错，会推荐给朋友",
    "问题一次就解决了，很满意",
    "整体体验很好",
]
SURVEY_COMPLAINTS = [
    "{product}用了{days}天就坏了，售后还推来推去",
    "物流太慢了，等了{days}天",
    "客服电话一直打不通，体验很差",
    "价格比别家贵，活动也不给力",
]
TOUCHPOINTS = ["order", "delivery", "call", "after_sales", "app"]
# Customers who drift into churn risk or answer as detractors (elapsed seconds, source,
# customer, the event's own fields): a scripted few among the random background.
JOURNEYS: list[tuple[float, str, str, dict[str, Any]]] = [
    (20, "complaint", "a", {"text": "宽带又断网了，三天了都没人来修，太耽误事了"}),
    (25, "survey", "c", {"kind": "nps", "score": 1, "comment": "物流太慢，客服也不管，不会推荐"}),
    (28, "complaint", "a", {"text": "还是没修好，客服只会说在处理，一直敷衍"}),
    (
        30,
        "call",
        "b",
        {
            "text": "客户来电：手机信号太差，多次反映一直没有改善，客户说要携号转网",
            "resolved_first_contact": False,
            "wait_seconds": 240.0,
        },
    ),
    (36, "complaint", "a", {"text": "第三次投诉了，到底什么时候能修好？"}),
    (
        44,
        "call",
        "a",
        {
            "text": "客户来电：宽带多次报修仍未修复，排队等了十分钟，情绪激动，表示再不解决就销户",
            "resolved_first_contact": False,
            "wait_seconds": 620.0,
        },
    ),
    (
        50,
        "survey",
        "b",
        {"kind": "nps", "score": 2, "comment": "信号差，打了几次客服都解决不了，准备携号转网了"},
    ),
]
PII_TAILS = ["，联系电话{phone}", "，我的邮箱{email}", "，手机{phone}请尽快回电"]
BROKEN: list[bytes] = [
    b"{not json",
    b'{"id": "x1", "text": "\xe5\xbf\xab\xe9"',  # truncated UTF-8
    json.dumps({"id": "c-bad", "channel": "fax", "text": "测试"}).encode(),
    json.dumps(
        {
            "id": "c-bad2",
            "customer_id": "u1",
            "channel": "app",
            "text": "慢",
            "created_at": "yesterday",
        }
    ).encode(),
    b"[1, 2, 3]",
]


@dataclass
class DemoPlan:
    """When the incident happens and how busy the stream is (events per second)."""

    rate: float = 2.0
    incident_start: float = 15.0
    incident_seconds: float = 45.0
    incident_rate: float = 5.0
    incident_channel: str = "app"
    emerging_start: float = 150.0  # the new problem: after the service has seen normal traffic
    emerging_seconds: float = 90.0
    emerging_rate: float = 0.4
    broken_share: float = 1 / 60
    pii_share: float = 0.1
    escalation_share: float = 0.004
    customers: bool = True  # the scripted customer journeys (JOURNEYS)


class DemoTraffic:
    """Generates (source, key, value) messages for a span of demo time."""

    def __init__(self, plan: DemoPlan | None = None, seed: int = 7, run: str | None = None) -> None:
        self.plan = plan or DemoPlan()
        self.rng = random.Random(seed)
        self.sequence = 0
        # Ids carry a token of this run: two runs (or two generators with the same seed)
        # make distinct events, as real sources do, rather than replays of each other.
        self.run = run if run is not None else secrets.token_hex(3)

    def between(
        self, elapsed_from: float, elapsed_to: float, now: float
    ) -> Iterator[tuple[str, bytes, bytes]]:
        """Messages due between two moments of demo time (seconds since start)."""
        span = elapsed_to - elapsed_from
        for _ in range(self._poisson(self.plan.rate * span)):
            yield self._message(self._background(now))
        plan = self.plan
        if (
            plan.incident_start <= elapsed_to
            and elapsed_from < plan.incident_start + plan.incident_seconds
        ):
            for _ in range(self._poisson(plan.incident_rate * span)):
                yield self._message(
                    (
                        "complaint",
                        self._complaint(
                            self._fill(self.rng.choice(INCIDENT)), now, plan.incident_channel
                        ),
                    )
                )
        if (
            plan.emerging_start <= elapsed_to
            and elapsed_from < plan.emerging_start + plan.emerging_seconds
        ):
            for _ in range(self._poisson(plan.emerging_rate * span)):
                yield self._message(self._emerging(now))
        if plan.customers:
            for at, source, customer, fields in JOURNEYS:
                if elapsed_from < at <= elapsed_to:
                    yield self._message(self._journey(source, customer, fields, now))
        if self.rng.random() < plan.broken_share * plan.rate * span:
            yield (
                self.rng.choice(["complaint", "call", "social"]),
                b"broken",
                self.rng.choice(BROKEN),
            )

    def background(self, now: float) -> tuple[str, bytes, bytes]:
        """One message of normal traffic; about ``broken_share`` of them are broken."""
        if self.rng.random() < self.plan.broken_share:
            return (
                self.rng.choice(["complaint", "call", "social"]),
                b"broken",
                self.rng.choice(BROKEN),
            )
        return self._message(self._background(now))

    def incident(self, now: float, channel: str, **fields: Any) -> tuple[str, bytes, bytes]:
        """One complaint of an incident (a delivery complaint) with extra fields."""
        event = self._complaint(self._fill(self.rng.choice(INCIDENT)), now, channel)
        return self._message(("complaint", {**event, **fields}))

    def _emerging(self, now: float) -> tuple[str, dict[str, Any]]:
        """One text of the new problem, as a complaint (most) or a social post."""
        text = self.rng.choice(EMERGING)
        if self.rng.random() < 0.3:
            return "social", self._post(text, now)
        channel = self.rng.choice(["app", "hotline", "wechat"])
        return "complaint", {**self._complaint(text, now, channel), "product": "扫地机器人S7"}

    def _message(self, item: tuple[str, dict[str, Any]]) -> tuple[str, bytes, bytes]:
        source, event = item
        return source, str(event["id"]).encode(), json.dumps(event, ensure_ascii=False).encode()

    def _background(self, now: float) -> tuple[str, dict[str, Any]]:
        source = self.rng.choices(["complaint", "call", "social", "survey"], weights=[5, 3, 2, 1])[
            0
        ]
        if source == "survey":
            return source, self._survey(now)
        text = self._text(source)
        if source == "complaint":
            channel = self.rng.choices(
                ["hotline", "app", "web", "wechat", "email", "store"], weights=[3, 3, 2, 2, 1, 1]
            )[0]
            return source, self._complaint(text, now, channel)
        if source == "call":
            return source, self._call(text, now)
        return source, self._post(text, now)

    def _text(self, source: str) -> str:
        roll = self.rng.random()
        if roll < self.plan.escalation_share:
            return self._fill(self.rng.choice(ESCALATION))
        mood = self.rng.choices(
            ["negative", "positive", "neutral"],
            weights=[6, 3, 1] if source != "social" else [4, 5, 1],
        )[0]
        if mood == "positive":
            template = self.rng.choice(POSITIVE)
        elif mood == "neutral":
            template = self.rng.choice(NEUTRAL)
        else:
            template = self.rng.choice(NEGATIVE[self.rng.choice(list(NEGATIVE))])
        text = self._fill(template)
        if self.rng.random() < self.plan.pii_share:
            text += self._fill(self.rng.choice(PII_TAILS))
        return text

    def _fill(self, template: str) -> str:
        r = self.rng
        return template.format(
            product=r.choice(PRODUCTS),
            region=r.choice(REGIONS),
            courier=r.choice(COURIERS),
            days=r.randint(2, 12),
            minutes=r.randint(20, 90),
            amount=r.choice([30, 59, 99, 200]),
            phone=f"1{r.choice('3589')}{r.randint(0, 999_999_999):09d}",
            email=f"user{r.randint(10, 9999)}@example.com",
        )

    def _journey(
        self, source: str, customer: str, fields: dict[str, Any], now: float
    ) -> tuple[str, dict[str, Any]]:
        """One scripted contact of a journey customer (their ids carry the run's token, so
        each run has customers of its own)."""
        if source == "complaint":
            base = self._complaint(fields["text"], now, "app")
        elif source == "call":
            base = self._call(fields["text"], now)
        else:
            base = self._survey(now)
        return source, {**base, **fields, "customer_id": f"vip-{self.run}-{customer}"}

    def _survey(self, now: float) -> dict[str, Any]:
        """A survey response: NPS, CSAT or CES, mostly satisfied, a comment now and then."""
        r = self.rng
        kind = r.choices(["nps", "csat", "ces"], weights=[3, 2, 1])[0]
        low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
        score = high - min(high - low, int(r.expovariate(1 / 1.6)))
        response: dict[str, Any] = {
            "id": self._next_id("s"),
            "customer_id": f"u{r.randint(1, 200_000)}",
            "kind": kind,
            "score": score,
            "touchpoint": r.choice(TOUCHPOINTS),
            "product": r.choice(PRODUCTS),
            "region": r.choice(REGIONS),
            "created_at": datetime.fromtimestamp(now, CST).isoformat(),
        }
        if r.random() < 0.6:
            satisfied = score >= (high + low) / 2
            response["comment"] = self._fill(
                r.choice(SURVEY_PRAISE if satisfied else SURVEY_COMPLAINTS)
            )
        return response

    def _next_id(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}-{self.run}-{self.sequence:07d}"

    def _complaint(self, text: str, now: float, channel: str) -> dict[str, Any]:
        return {
            "id": self._next_id("c"),
            "customer_id": f"u{self.rng.randint(1, 200_000)}",
            "channel": channel,
            "product": self.rng.choice(PRODUCTS),
            "region": self.rng.choice(REGIONS),
            "text": text,
            "created_at": datetime.fromtimestamp(now, CST).isoformat(),
        }

    def _call(self, text: str, now: float) -> dict[str, Any]:
        r = self.rng
        return {
            "id": self._next_id("call"),
            "customer_id": f"u{r.randint(1, 200_000)}",
            "agent_id": f"a{r.randint(1, 40):03d}",
            "started_at": int(now * 1000),
            "wait_seconds": round(r.expovariate(1 / 60), 1),
            "talk_seconds": round(r.uniform(30, 900), 1),
            "resolved_first_contact": r.random() < 0.7,
            "transfers": r.choices([0, 1, 2, 3], weights=[6, 3, 1, 0.5])[0],
            "satisfaction": r.choice([None, 1, 2, 3, 4, 5, 5]),
            "text": f"客户来电：{text}",
        }

    def _post(self, text: str, now: float) -> dict[str, Any]:
        r = self.rng
        return {
            "id": self._next_id("post"),
            "platform": r.choices(
                ["weibo", "douyin", "xiaohongshu", "wechat", "other"], weights=[4, 3, 3, 1, 1]
            )[0],
            "author": f"用户{r.randint(1000, 99999)}",
            "followers": int(r.paretovariate(1.2) * 200),
            "likes": r.randint(0, 500),
            "reposts": r.randint(0, 50),
            "comments": r.randint(0, 80),
            "text": text,
            "url": f"https://weibo.example/p/{r.randint(10**6, 10**7)}",
            "posted_at": datetime.fromtimestamp(now, UTC).isoformat(),
        }

    def _poisson(self, mean: float) -> int:
        # Knuth's method is enough for the small means of a demo tick.
        limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1


def run(
    settings: Settings, *, stop: threading.Event, plan: DemoPlan | None = None, tick: float = 0.2
) -> int:
    """Produce demo traffic until ``stop`` is set; return how many messages were sent."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=20, acks="all")
    traffic = DemoTraffic(plan)
    plan = traffic.plan
    topics = settings.input_topics
    sent = 0
    announced = emerging = False
    started = last = time.monotonic()
    try:
        while not stop.wait(tick):
            now = time.monotonic()
            if not announced and now - started >= plan.incident_start:
                announced = True
                log.warning(
                    "demo: incident starts now — a burst of delivery complaints on the "
                    "%s channel for %.0f s",
                    plan.incident_channel,
                    plan.incident_seconds,
                )
            if not emerging and now - started >= plan.emerging_start:
                emerging = True
                log.warning(
                    "demo: a new problem starts now — robot vacuums lost after a firmware "
                    "update, for %.0f s: see the 新问题 (emerging) tab of the console",
                    plan.emerging_seconds,
                )
            for source, key, value in traffic.between(last - started, now - started, time.time()):
                producer.send(topics[source], key=key, value=value)
                sent += 1
            last = now
    finally:  # also on a stop request: what was sent is delivered before the producer closes
        producer.close(timeout=10)
        log.info("demo produced %d messages", sent)
    return sent
