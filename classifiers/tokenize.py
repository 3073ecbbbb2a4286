"""Tokenization (分词) with jieba and the domain dictionary kept in ``data/userdict.txt``.

The dictionary holds customer-service, e-commerce, delivery, telecom and app vocabulary
(客服, 退款, 12315, 快递员, 闪退, 扣费, 差评 …) so these words are never split. The jieba
tokenizer is built once per process; building it takes about a second.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import jieba

USER_DICT = Path(__file__).resolve().parent / "data" / "userdict.txt"

# Tokens that carry no meaning for sentiment or category: whitespace, most punctuation,
# and the pieces of masking tokens such as "[PHONE]". Exclamation and question marks stay.
_NOISE = frozenset(" \t，,。.、；;：:\"'“”‘’（）()[]【】《》<>-—_/\\|~·…@#$%^&*=+")


@functools.cache
def _tokenizer() -> jieba.Tokenizer:
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    with USER_DICT.open("rb") as words:
        tokenizer.load_userdict(words)
    return tokenizer


def warm_up() -> None:
    """Build the tokenizer now (at start-up) rather than on the first event."""
    _tokenizer()


def tokenize(text: str) -> list[str]:
    """Segment ``text`` into words, dropping whitespace and neutral punctuation.

    >>> tokenize("快递员态度差,申请退款!")
    ['快递员', '态度差', '申请', '退款', '!']
    """
    return [t for t in _tokenizer().lcut(text, HMM=True) if t.strip() and t not in _NOISE]
