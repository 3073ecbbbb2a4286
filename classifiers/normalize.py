"""Text normalization (文本清洗): width folding, control characters, whitespace, URLs."""

from __future__ import annotations

import re
import unicodedata

URL_TOKEN = "[URL]"  # noqa: S105 — a placeholder token, not a password

_URL = re.compile(r"(?:https?://|www\.)[^\s\u3000，。！？、]+", re.IGNORECASE)
# C0/C1 control characters and zero-width marks; \n and \t become spaces below.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Fold full-width forms to half-width (NFKC), drop control characters, replace URLs
    with a token and collapse whitespace. Emoji and punctuation stay: they carry sentiment.

    >>> normalize("ＡＰＰ　闪退！！ 详见 https://x.cn/a?b=1\\n")
    'APP 闪退!! 详见 [URL]'
    """
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = _URL.sub(f" {URL_TOKEN} ", text)
    return _SPACE.sub(" ", text).strip()
