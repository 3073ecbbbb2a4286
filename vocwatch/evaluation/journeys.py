"""Customer journeys with known outcomes (客户旅程评测集), for evaluating ``customer_risk``.

A journey is one customer's contacts — complaints, calls, survey responses, now and then a
social post — over hours to days, and whether the customer is **at risk** of leaving: the
answer a retention team would give reading the whole journey. :class:`JourneyGenerator` is
pure and seeded: the same seed gives the same journeys. Its kinds, at risk:

* ``repeat_unresolved`` — one problem, three to five contacts over a few days, calls that
  do not fix it, frustration rising (sometimes a threat at the end);
* ``churn_threat`` — one or two contacts that say the customer is leaving (销户, 携号转网,
  不续费, 换别家 …, phrased many ways), the problem not solved;
* ``falling_satisfaction`` — a satisfied survey, then complaints and a detractor survey;
* ``escalation`` — repeated complaints that threaten 12315, the media or a lawyer;

and not at risk:

* ``ordinary`` — one or two contacts, the problem solved;
* ``inquiries`` — two to four neutral questions in a week;
* ``happy`` — praise, promoter surveys;
* ``one_complaint`` — a single complaint, nothing after;
* ``detractor_only`` — one detractor survey with a mild comment (a ``detractor`` follow-up,
  not a customer about to leave);
* ``resolved_after_trouble`` — two angry complaints, then a call that fixed it and a
  satisfied survey;
* ``negated_threat`` — the customer says they will *not* leave (我不会销户 …);
* ``joke`` — leaving mentioned in jest, in a happy text.

The hand-written hard cases (data/customers/hard_cases.jsonl) are journeys of the same
form, read by :func:`load_cases`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOUR = 3600.0
DAY = 86400.0
CASES_FILE = Path(__file__).resolve().parents[2] / "data" / "customers" / "hard_cases.jsonl"


@dataclass(frozen=True)
class Contact:
    """One event of a journey: its source, when (hours after the journey starts) and its
    source-specific fields (text or comment, resolved, wait_seconds, kind and score …)."""

    source: str
    after_hours: float
    fields: dict[str, Any]


@dataclass(frozen=True)
class Journey:
    name: str
    kind: str
    at_risk: bool
    contacts: tuple[Contact, ...]
    why: str = ""
    late_hours: float = 0.0  # every contact arrives this long after it happened

    def events(self, customer: str, start: float) -> Iterator[tuple[float, str, dict[str, Any]]]:
        """(arrival time, source, event) of each contact, as producers would send them."""
        for n, contact in enumerate(self.contacts):
            at = start + contact.after_hours * HOUR
            event = _event(contact, f"{self.name}-{n}", customer, at)
            yield at + self.late_hours * HOUR, contact.source, event


def _event(contact: Contact, event_id: str, customer: str, at: float) -> dict[str, Any]:
    f = dict(contact.fields)
    base: dict[str, Any] = {"id": event_id, "customer_id": customer}
    if contact.source == "complaint":
        return base | {"channel": f.pop("channel", "app"), "created_at": at} | f
    if contact.source == "call":
        return (
            base
            | {
                "agent_id": "a001",
                "started_at": at,
                "wait_seconds": f.pop("wait_seconds", 40),
                "talk_seconds": f.pop("talk_seconds", 240),
                "resolved_first_contact": f.pop("resolved", True),
            }
            | f
        )
    if contact.source == "survey":
        return base | {"created_at": at} | f
    return base | {"platform": "weibo", "author": "用户", "posted_at": at} | f  # social


# --- the words of the journeys --------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One kind of problem, in the customers' words and the agents'."""

    complaints: tuple[str, ...]  # the problem, told once
    again: tuple[str, ...]  # the problem, not solved, told again
    unresolved_calls: tuple[str, ...]
    resolved_calls: tuple[str, ...]
    questions: tuple[str, ...]


ISSUES = {
    "broadband": Issue(
        complaints=(
            "家里宽带又断网了，一整天都上不了网",
            "网速慢得没法用，晚上连视频都打不开",
            "宽带老是掉线，在家办公受影响很大",
        ),
        again=(
            "宽带还是没修好，已经{days}天了，客服只会说在处理",
            "报修{times}次了，师傅一直没上门，到底什么时候修？",
            "又断网了，同样的问题反映多少次了，一点用都没有",
        ),
        unresolved_calls=(
            "客户来电反映宽带故障仍未修复，已再次派单，客户情绪不满",
            "客户来电催促维修进度，工程师尚未上门，问题未解决",
        ),
        resolved_calls=(
            "客户来电反映宽带断网，已远程重启光猫，客户确认恢复上网",
            "客户来电反映网速慢，已调整端口，测速正常，客户表示满意",
        ),
        questions=("请问宽带套餐怎么升级？", "想咨询一下宽带续费的优惠", "请问装机需要多久？"),
    ),
    "delivery": Issue(
        complaints=(
            "买的{product}显示已发货{days}天了还在路上，物流一直不更新",
            "快递显示已签收，但我根本没收到包裹",
            "收到的箱子被压坏了，{product}外壳都裂了",
        ),
        again=(
            "包裹还是没找到，客服说在核实，已经{days}天了",
            "第{times}次问了，丢件的事到底谁负责？一直推来推去",
            "说好的补发到现在还没发，太失望了",
        ),
        unresolved_calls=(
            "客户来电查询丢件进展，快递公司仍在核实，暂无结果",
            "客户来电催促补发，仓库尚未处理，客户不满",
        ),
        resolved_calls=(
            "客户来电反映包裹未收到，已联系快递员当天送达，客户满意",
            "客户来电反映商品破损，已安排换新，客户认可",
        ),
        questions=(
            "请问{product}支持七天无理由退货吗？",
            "想查一下订单什么时候发货",
            "可以改收货地址吗？",
        ),
    ),
    "refund": Issue(
        complaints=(
            "申请退款{days}天了还没到账，售后一直说在审核",
            "退货寄回去一周了，商家不处理退款",
            "{product}坏了申请保修，售后让我自己承担运费",
        ),
        again=(
            "退款还是没到账，已经第{times}次催了",
            "售后电话打不通，在线客服也不回，退款到底还退不退？",
            "审核了这么久还在审核，太不负责了",
        ),
        unresolved_calls=(
            "客户来电催退款，财务仍在审核，未给出到账时间",
            "客户来电投诉售后不处理，已升级工单，暂未解决",
        ),
        resolved_calls=(
            "客户来电催退款，已加急处理，当天到账，客户表示感谢",
            "客户来电反映退货未处理，已确认收货并退款，客户满意",
        ),
        questions=("请问退款一般多久到账？", "退货需要自己寄回吗？", "保修期是多久？"),
    ),
    "billing": Issue(
        complaints=(
            "这个月话费多扣了{amount}元，也没提前告知",
            "套餐被莫名其妙改了，多收了{amount}元",
            "取消的增值业务还在扣费，{amount}元一个月",
        ),
        again=(
            "多扣的钱还没退，说好的三个工作日，现在都{days}天了",
            "又扣了一次费，上次说处理好了根本没处理",
            "第{times}次反映乱扣费了，你们到底管不管？",
        ),
        unresolved_calls=(
            "客户来电反映重复扣费，已提交核查，退费未完成，客户不满",
            "客户来电投诉乱收费，坐席无法当场处理，已转后台",
        ),
        resolved_calls=(
            "客户来电反映扣费异常，已核实退还{amount}元，客户接受",
            "客户来电咨询账单，已解释费用构成，客户认可",
        ),
        questions=("请问怎么查本月账单？", "想咨询一下流量包怎么办理", "套餐可以降档吗？"),
    ),
}
PRODUCTS = ("扫地机器人", "蓝牙耳机", "空气炸锅", "智能手表", "电动牙刷", "电视")
THREATS = (
    "再不解决我就销户",
    "实在不行就携号转网了",
    "到期就不续费了",
    "准备换别家了",
    "以后再也不买你们家的东西了",
    "我要注销账户",
    "这个会员我要退订",
    "已经在考虑转网了",
    "下个月就解约",
)
ESCALATIONS = (
    "再不处理我就打12315投诉",
    "我要找媒体曝光你们",
    "已经咨询律师了，准备起诉",
    "我会去消协投诉",
    "再拖我就去黑猫投诉",
)
PRAISE = (
    "客服小姐姐很耐心，问题很快就解决了，点赞",
    "{product}很好用，物流也快，好评",
    "第二次买了，质量不错，售后也很及时",
    "服务越来越好了，继续支持",
)
SURVEY_PRAISE = ("很满意，处理得很快", "客服态度很好", "整体体验不错")
SURVEY_ANGRY = ("问题一直没解决，很失望", "客服只会敷衍，体验太差", "等了太久，不想再用了")
SURVEY_MILD = ("物流有点慢", "包装可以再好一点", "价格有点贵")
NEGATED = (
    "我不会销户的，只是希望{issue_short}尽快处理好",
    "暂时不打算换别家，但这个问题请尽快解决",
    "没想过退订，就是想反映一下{issue_short}",
    "放心我不会转网，麻烦尽快安排师傅上门",
)
JOKES = (
    "哈哈你们服务这么好，我都舍不得换别家了",
    "再这么贴心我都要被宠坏了，开个玩笑，客服很棒",
    "送货这么快，我都不好意思再投诉了哈哈",
)
SHORT = {"broadband": "宽带的问题", "delivery": "物流", "refund": "退款", "billing": "扣费的事"}


@dataclass
class JourneyGenerator:
    """Seeded journeys: ``generate(n)`` gives n journeys, about 40 % at risk."""

    seed: int = 17
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def generate(self, count: int) -> list[Journey]:
        kinds: list[tuple[str, bool, Callable[[], list[Contact]], float]] = [
            ("repeat_unresolved", True, self._repeat_unresolved, 0.12),
            ("churn_threat", True, self._churn_threat, 0.12),
            ("falling_satisfaction", True, self._falling_satisfaction, 0.08),
            ("escalation", True, self._escalation, 0.08),
            ("ordinary", False, self._ordinary, 0.16),
            ("inquiries", False, self._inquiries, 0.08),
            ("happy", False, self._happy, 0.08),
            ("one_complaint", False, self._one_complaint, 0.08),
            ("detractor_only", False, self._detractor_only, 0.06),
            ("resolved_after_trouble", False, self._resolved_after_trouble, 0.06),
            ("negated_threat", False, self._negated_threat, 0.04),
            ("joke", False, self._joke, 0.04),
        ]
        journeys = []
        for n in range(count):
            kind, at_risk, make, _ = self.rng.choices(kinds, weights=[k[3] for k in kinds])[0]
            journeys.append(Journey(f"g{self.seed}-{n:04d}", kind, at_risk, tuple(make())))
        return journeys

    # --- helpers -----------------------------------------------------------------------
    def _issue(self) -> tuple[str, Issue]:
        name = self.rng.choice(list(ISSUES))
        return name, ISSUES[name]

    def _fill(self, template: str, issue: str = "") -> str:
        r = self.rng
        return template.format(
            days=r.randint(3, 14),
            times=r.randint(2, 5),
            amount=r.choice([30, 59, 99, 200]),
            product=r.choice(PRODUCTS),
            issue_short=SHORT.get(issue, "这个问题"),
        )

    def _say(self, source: str, at: float, text: str, **fields: Any) -> Contact:
        key = "comment" if source == "survey" else "text"
        return Contact(source, round(at, 2), {key: text, **fields})

    def _gaps(self, count: int, low: float, high: float) -> list[float]:
        """``count`` times (hours), increasing, the gaps between ``low`` and ``high``."""
        at, times = 0.0, []
        for _ in range(count):
            times.append(at)
            at += self.rng.uniform(low, high)
        return times

    # --- at risk -----------------------------------------------------------------------
    def _repeat_unresolved(self) -> list[Contact]:
        name, issue = self._issue()
        count = self.rng.randint(3, 5)
        contacts = []
        for i, at in enumerate(self._gaps(count, 4, 30)):
            if i == 0:
                contacts.append(
                    self._say("complaint", at, self._fill(self.rng.choice(issue.complaints), name))
                )
            elif self.rng.random() < 0.5:
                text = self.rng.choice(issue.unresolved_calls)
                wait = self.rng.choice([60, 240, 420, 700])
                contacts.append(self._say("call", at, text, resolved=False, wait_seconds=wait))
            else:
                text = self._fill(self.rng.choice(issue.again), name)
                if i == count - 1 and self.rng.random() < 0.4:
                    text += "，" + self.rng.choice(THREATS)
                contacts.append(self._say("complaint", at, text))
        return contacts

    def _churn_threat(self) -> list[Contact]:
        name, issue = self._issue()
        threat = self.rng.choice(THREATS)
        first = self._fill(self.rng.choice(issue.complaints), name)
        if self.rng.random() < 0.5:
            return [
                self._say("complaint", 0, first),
                self._say(
                    "call",
                    self.rng.uniform(2, 48),
                    f"客户来电：{self._fill(self.rng.choice(issue.again), name)}，表示{threat}",
                    resolved=False,
                ),
            ]
        return [
            self._say(
                "call",
                0,
                f"客户来电：{first}，问题未解决，客户说{threat}",
                resolved=False,
                wait_seconds=self.rng.choice([30, 200, 500]),
            ),
            self._say(
                "survey",
                self.rng.uniform(1, 24),
                f"{self.rng.choice(SURVEY_ANGRY)}，{threat}",
                kind="nps",
                score=self.rng.randint(0, 3),
            ),
        ]

    def _falling_satisfaction(self) -> list[Contact]:
        name, issue = self._issue()
        times = self._gaps(4, 12, 48)
        return [
            self._say(
                "survey",
                times[0],
                self.rng.choice(SURVEY_PRAISE),
                kind="csat",
                score=self.rng.choice([4, 5]),
            ),
            self._say("complaint", times[1], self._fill(self.rng.choice(issue.complaints), name)),
            self._say("complaint", times[2], self._fill(self.rng.choice(issue.again), name)),
            self._say(
                "survey",
                times[3],
                self.rng.choice(SURVEY_ANGRY),
                kind=self.rng.choice(["nps", "csat"]),
                score=1,
            ),
        ]

    def _escalation(self) -> list[Contact]:
        name, issue = self._issue()
        times = self._gaps(3, 6, 36)
        return [
            self._say("complaint", times[0], self._fill(self.rng.choice(issue.complaints), name)),
            self._say("call", times[1], self.rng.choice(issue.unresolved_calls), resolved=False),
            self._say(
                "complaint",
                times[2],
                f"{self._fill(self.rng.choice(issue.again), name)}，{self.rng.choice(ESCALATIONS)}",
            ),
        ]

    # --- not at risk -------------------------------------------------------------------
    def _ordinary(self) -> list[Contact]:
        name, issue = self._issue()
        first = self._say("complaint", 0, self._fill(self.rng.choice(issue.complaints), name))
        if self.rng.random() < 0.3:
            return [first]
        fixed = self._say(
            "call",
            self.rng.uniform(1, 24),
            self._fill(self.rng.choice(issue.resolved_calls), name),
            resolved=True,
            rating=self.rng.choice([None, 4, 5]),
        )
        return [first, fixed]

    def _inquiries(self) -> list[Contact]:
        name, issue = self._issue()
        return [
            self._say("complaint", at, self._fill(self.rng.choice(issue.questions), name))
            for at in self._gaps(self.rng.randint(2, 4), 12, 60)
        ]

    def _happy(self) -> list[Contact]:
        contacts = [self._say("complaint", 0, self._fill(self.rng.choice(PRAISE)))]
        if self.rng.random() < 0.7:
            contacts.append(
                self._say(
                    "survey",
                    self.rng.uniform(1, 48),
                    self.rng.choice(SURVEY_PRAISE),
                    kind="nps",
                    score=self.rng.choice([9, 10]),
                )
            )
        return contacts

    def _one_complaint(self) -> list[Contact]:
        name, issue = self._issue()
        return [
            self._say(
                "complaint", 0, self._fill(self.rng.choice(issue.complaints + issue.again), name)
            )
        ]

    def _detractor_only(self) -> list[Contact]:
        return [
            self._say(
                "survey", 0, self.rng.choice(SURVEY_MILD), kind="nps", score=self.rng.randint(2, 6)
            )
        ]

    def _resolved_after_trouble(self) -> list[Contact]:
        name, issue = self._issue()
        times = self._gaps(4, 3, 20)
        return [
            self._say("complaint", times[0], self._fill(self.rng.choice(issue.complaints), name)),
            self._say("complaint", times[1], self._fill(self.rng.choice(issue.again), name)),
            self._say(
                "call",
                times[2],
                self._fill(self.rng.choice(issue.resolved_calls), name),
                resolved=True,
                rating=5,
            ),
            self._say("survey", times[3], self.rng.choice(SURVEY_PRAISE), kind="csat", score=5),
        ]

    def _negated_threat(self) -> list[Contact]:
        name, issue = self._issue()
        contacts = [self._say("complaint", 0, self._fill(self.rng.choice(NEGATED), name))]
        if self.rng.random() < 0.5:
            contacts.append(
                self._say(
                    "call",
                    self.rng.uniform(2, 24),
                    self._fill(self.rng.choice(issue.resolved_calls), name),
                    resolved=True,
                )
            )
        return contacts

    def _joke(self) -> list[Contact]:
        return [self._say("complaint", 0, self.rng.choice(JOKES))]


def load_cases(path: Path = CASES_FILE) -> list[Journey]:
    """The hand-written hard cases: one journey a line, ``{"name", "at_risk", "why",
    "contacts": [{"source", "after_hours", …fields}]}``."""
    journeys = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("//"):
            continue
        data = json.loads(line)
        contacts = tuple(
            Contact(c.pop("source"), float(c.pop("after_hours")), c)
            for c in (dict(c) for c in data["contacts"])
        )
        if not contacts:
            raise ValueError(f"{path}:{number}: a journey needs contacts")
        journeys.append(
            Journey(
                data["name"],
                "hard_case",
                bool(data["at_risk"]),
                contacts,
                data.get("why", ""),
                float(data.get("late_hours", 0)),
            )
        )
    return journeys
