"""Issue categories (问题分类): a weighted lexicon, multi-label with scores.

The taxonomy is the one in DESIGN.md. A category's raw score is the sum of the weights of
its terms found in the token list; scores are normalized so the best is 1.0, and every
category at least ``keep_ratio`` of the best is kept. Text that matches nothing is ``other``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

CATEGORIES = ("product_quality", "logistics", "service", "price", "after_sales", "technical",
              "other")

CATEGORY_NAMES_ZH = {
    "product_quality": "产品质量",
    "logistics": "物流配送",
    "service": "服务体验",
    "price": "价格费用",
    "after_sales": "售后退换",
    "technical": "技术故障",
    "other": "其他",
}

# term → weight; 2.0 for terms that name the category on their own, 1.0 for hints.
LEXICON: Mapping[str, Mapping[str, float]] = {
    "product_quality": {
        "质量": 2, "质量问题": 2, "质量差": 2, "做工差": 2, "做工": 1, "破损": 1, "坏": 1,
        "坏了": 2, "损坏": 1, "故障": 1, "假货": 2, "以次充好": 2, "变质": 2, "过期": 2,
        "发霉": 2, "异物": 2, "难吃": 2, "味道": 1, "不新鲜": 2, "新鲜": 1, "漏水": 2,
        "漏电": 2, "起火": 2, "爆炸": 2, "自燃": 2, "食物中毒": 2, "拉肚子": 2, "过敏": 2,
        "瑕疵": 2, "褪色": 2, "开线": 2, "异味": 2, "卫生": 1, "不能用": 1, "用不了": 1,
        "尺码": 1, "材质": 1, "次品": 2, "劣质": 2,
    },
    "logistics": {
        "快递": 2, "物流": 2, "配送": 2, "派送": 2, "快递员": 1, "快递小哥": 1, "发货": 1,
        "到货": 2, "没到货": 2, "没收到": 2, "丢件": 2, "丢包": 2, "漏发": 2, "错发": 2,
        "少发": 2, "发错货": 2, "签收": 1, "虚假签收": 2, "驿站": 1, "延迟发货": 2,
        "送货": 2, "包裹": 2, "运输": 2, "压坏": 2, "摔坏": 1, "顺丰": 1, "中通": 1, "圆通": 1,
        "韵达": 1, "申通": 1, "催单": 1, "揽收": 2, "单号": 1, "慢": 1,
    },
    "service": {
        "客服": 2, "人工客服": 2, "在线客服": 2, "客服电话": 2, "态度": 2, "态度差": 2,
        "态度恶劣": 2, "不耐烦": 2, "不理人": 2, "没人管": 2, "踢皮球": 2, "推诿": 2, "打不通": 2,
        "无人接听": 2, "排队": 1, "转接": 1, "挂电话": 2, "已读不回": 2, "敷衍": 2,
        "服务": 1, "服务差": 2, "店员": 2, "工作人员": 2, "回复": 1, "不回复": 2, "等了": 1,
        "骂": 1, "承诺": 1,
    },
    "price": {
        "价格": 2, "贵": 2, "太贵": 2, "便宜": 1, "性价比": 2, "价格欺诈": 2, "乱收费": 2,
        "收费": 1, "多收": 2, "优惠券": 2, "满减": 2, "优惠": 1, "降价": 2, "价保": 2,
        "保价": 2, "差价": 2, "大数据杀熟": 2, "虚假宣传": 1, "活动": 1, "加价": 2, "涨价": 2,
        "不值": 2, "运费": 1,
    },
    "after_sales": {
        "退款": 2, "退货": 2, "换货": 2, "退换货": 2, "退钱": 2, "售后": 2, "保修": 2,
        "维修": 2, "返修": 2, "赔偿": 2, "三包": 2, "七天无理由": 2, "退运费": 1, "运费险": 1,
        "补偿": 2, "退": 1, "换": 1, "修": 1, "拒绝": 1, "审核": 1,
    },
    "technical": {
        "APP": 1, "App": 1, "app": 1, "闪退": 2, "卡顿": 2, "白屏": 2, "黑屏": 2, "登录": 1,
        "登录不上": 2, "登不上": 2, "验证码": 2, "无法支付": 2, "支付失败": 2, "支付": 1,
        "重复扣费": 2, "扣费": 2, "乱扣费": 2, "扣款": 2, "自动续费": 2, "盗刷": 2,
        "账号": 1, "账号被封": 2, "系统": 2, "系统故障": 2, "服务器": 2, "网站": 2, "页面": 1,
        "宽带": 2, "断网": 2, "信号差": 2, "信号": 1, "网络": 1, "bug": 2, "BUG": 2, "报错": 2,
        "崩溃": 2, "打不开": 2, "更新": 1, "升级": 1,
    },
}


@dataclass(frozen=True)
class CategoryScore:
    code: str
    score: float


@dataclass(frozen=True)
class CategoryClassifier:
    lexicon: Mapping[str, Mapping[str, float]]
    keep_ratio: float = 0.6
    max_labels: int = 3

    @classmethod
    def default(cls) -> CategoryClassifier:
        return cls(LEXICON)

    def classify(self, tokens: Sequence[str]) -> tuple[CategoryScore, ...]:
        """Categories that fit the tokens, best first, scores in (0, 1]."""
        raw = {code: _weight(terms, tokens) for code, terms in self.lexicon.items()}
        best = max(raw.values(), default=0.0)
        if best <= 0:
            return (CategoryScore("other", 1.0),)
        ranked = sorted(((s / best, c) for c, s in raw.items() if s >= best * self.keep_ratio),
                        key=lambda pair: (-pair[0], CATEGORIES.index(pair[1])))
        return tuple(CategoryScore(code, round(score, 3))
                     for score, code in ranked[: self.max_labels])


def _weight(terms: Mapping[str, float], tokens: Iterable[str]) -> float:
    return sum(terms.get(token, 0.0) for token in tokens)
