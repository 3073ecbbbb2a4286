"""Small corpora written by the tests, in the layouts the training tools read: a tiny
``online_shopping_10_cats.zip`` and a labelled folder of four domains, with social posts and
held-out inquiries. Never the shared corpora: the training tests run in seconds."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from classifiers.train.corpora import CORPORA

SUBJECTS = {
    "ecommerce": ("买的衣服", "这个耳机", "网购的鞋子"),
    "food": ("点的外卖", "这家店的饭", "送来的奶茶"),
    "express": ("寄的包裹", "我的快件", "这个快递"),
    "telecom": ("家里的宽带", "这张流量卡", "手机套餐"),
}
DOMAINS = tuple(SUBJECTS)
# category → (complaints, neutral questions, praise)
PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "product_quality": (
        ("质量太差，用两天就坏了", "做工粗糙，到手就有破损", "味道不对，像是变质了"),
        ("是什么材质的",),
        ("质量很好，非常满意",),
    ),
    "logistics": (
        ("三天了还没送到", "物流太慢，一直不更新", "送错地址了，到现在没收到"),
        ("现在到哪里了",),
        ("送得很快，好评",),
    ),
    "service": (
        ("客服态度太差，问什么都不回", "打了十几个电话都没人接", "工作人员很不耐烦，爱搭不理"),
        ("人工客服几点上班",),
        ("客服很耐心，问题很快解决了",),
    ),
    "price": (
        ("价格太贵了，比别家贵一百", "莫名多收了我二十块钱", "优惠券用不了，多扣了钱"),
        ("运费是多少",),
        ("价格实惠，很划算",),
    ),
    "after_sales": (
        ("申请退款一直没人处理", "退货寄回去半个月了钱还没退", "报修一周了还没人上门"),
        ("怎么申请退换货",),
        ("退款很快就到账了，谢谢",),
    ),
    "technical": (
        ("APP一打开就闪退", "页面一直加载失败", "登录不了，验证码收不到"),
        ("APP在哪里下载",),
        ("新版APP很流畅，好用",),
    ),
}
OTHER = ("你好，想咨询一下", "祝你们生意兴隆", "请问你们公司在哪个城市")
HEADER = ("id", "channel", "corpus", "ref", "text", "categories", "polarity")
# (cat, label, review) rows of the tiny shopping zip: 酒店 is travel, the rest ecommerce.
SHOPPING = [
    *[
        ("书籍", "1", f"这本书{p}")
        for p in ("印刷清晰，很喜欢", "内容精彩，推荐", "包装完好，好评")
    ],
    *[("书籍", "0", f"这本书{p}") for p in ("印刷模糊，很失望", "缺页了，差评", "纸张太差")],
    *[("酒店", "1", f"酒店{p}") for p in ("房间干净，服务好", "位置方便，早餐丰富", "前台热情")],
    *[
        ("酒店", "0", f"酒店{p}")
        for p in ("房间有霉味，很差", "隔音太差，一夜没睡", "前台态度恶劣")
    ],
    *[("水果", "1", f"苹果{p}") for p in ("很甜很新鲜", "个头大，好吃", "新鲜，会回购")],
    *[("水果", "0", f"苹果{p}") for p in ("烂了好几个", "不新鲜，很失望", "又酸又小")],
    ("水果", "2", "不算数的标签"),  # a label other than 0 / 1: left out
    ("水果", "1", ""),  # no text: left out
    ("水果", "1", "苹果很甜很新鲜！"),  # the same text as row 12 but for the mark: kept once
]
#: Rows of the labelled folder that name a shopping row instead of holding a text.
REFERENCES = {"ecommerce": [(0, "product_quality", "positive"), (4, "product_quality", "negative")]}
SOCIAL = [
    ("好开心，快递第二天就到了[哈哈]", "positive"),
    ("客服小姐姐太耐心了[爱你]", "positive"),
    ("这家外卖又送错了[怒]", "negative"),
    ("宽带又断了，气死[怒]", "negative"),
    ("有人知道怎么退货吗", "neutral"),
    ("今天下雨了，出门记得带伞", "neutral"),
    ("APP又崩了[微笑]", "negative"),
    ("新手机到了，拍照超清晰[哈哈]", "positive"),
]
INQUIRIES = [
    ("food", "wechat", "请问几点开始营业", "other", "neutral"),
    ("express", "app", "帮我查一下快件到哪了", "logistics", "neutral"),
    ("telecom", "hotline", "套餐可以改成月付吗", "price", "neutral"),
    ("ecommerce", "app", "东西坏了，太气人了", "product_quality", "negative"),
    ("food", "app", "太好吃了，下次还来", "product_quality", "positive"),
]


@dataclass(frozen=True)
class Corpora:
    labelled: Path  # data/labelled's layout
    corpora: Path  # ../shared/data's layout (the shopping zip only)

    @property
    def shopping_zip(self) -> Path:
        return self.corpora / CORPORA["shopping"][0]


def domain_rows(domain: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []

    def add(text: str, categories: str, polarity: str, channel: str = "app", **ref: str) -> None:
        rows.append(
            {
                "id": f"{domain}-{len(rows) + 1}",
                "channel": channel,
                "corpus": ref.get("corpus", ""),
                "ref": ref.get("ref", ""),
                "text": text,
                "categories": categories,
                "polarity": polarity,
            }
        )

    subjects = SUBJECTS[domain]
    for code, (complaints, questions, praise) in PHRASES.items():
        for i, complaint in enumerate(complaints):
            add(f"{subjects[i % 3]}{complaint}", code, "negative", "hotline")
            add(f"{subjects[(i + 1) % 3]}{complaint}！", code, "negative", "social")
        for question in questions:
            add(f"{subjects[0]}{question}？", code, "neutral", "wechat")
        for line in praise:
            add(f"{subjects[2]}{line}", code, "positive", "app")
    for i, line in enumerate(OTHER):
        add(f"{line}，{subjects[i]}", "other", "neutral", "wechat")
    add(f"{subjects[0]}质量差，客服也不理人", "product_quality;service", "negative", "email")
    for row, categories, polarity in REFERENCES.get(domain, []):
        add("", categories, polarity, corpus="shopping", ref=str(row))
    return rows


def write_csv(path: Path, header: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def write_shopping(path: Path) -> None:
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["cat", "label", "review"])
    writer.writerows(SHOPPING)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("online_shopping_10_cats.csv", "\ufeff" + body.getvalue())


def write_labelled(folder: Path, domains: tuple[str, ...] = DOMAINS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for domain in domains:
        write_csv(folder / f"{domain}.csv", HEADER, domain_rows(domain))
    write_csv(
        folder / "social.csv",
        ("id", "platform", "topic", "text", "polarity"),
        [
            {"id": f"social-{i}", "platform": "weibo", "topic": "", "text": t, "polarity": p}
            for i, (t, p) in enumerate(SOCIAL, 1)
        ],
    )
    write_csv(
        folder / "test_inquiries.csv",
        ("id", "domain", "channel", "text", "categories", "polarity"),
        [
            {"id": f"q-{i}", "domain": d, "channel": c, "text": t, "categories": k, "polarity": p}
            for i, (d, c, t, k, p) in enumerate(INQUIRIES, 1)
        ],
    )


def write_corpora(root: Path) -> Corpora:
    made = Corpora(root / "labelled", root / "corpora")
    write_labelled(made.labelled)
    write_shopping(made.shopping_zip)
    return made
