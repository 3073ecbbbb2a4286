"""Text normalization (文本清洗): width folding, control characters, whitespace, URLs."""

from __future__ import annotations

import re
import unicodedata

URL_TOKEN = "[URL]"  # noqa: S105 — a placeholder token, not a password

# Replaced *before* width folding: a URL is printable ASCII, so the full-width ，！？ that
# often follow it end it, rather than being folded into ASCII and swallowed.
_URL = re.compile(r"(?:https?://|www\.)[\x21-\x7e]+", re.IGNORECASE)
# C0/C1 control characters and zero-width marks; \n and \t become spaces below.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Fold full-width forms to half-width (NFKC), drop control characters, replace URLs
    with a token and collapse whitespace. Emoji and punctuation stay: they carry sentiment.

    >>> normalize("ＡＰＰ　闪退！！ 详见 https://x.cn/a?b=1\\n")
    'APP 闪退!! 详见 [URL]'
    """
    text = _URL.sub(f" {URL_TOKEN} ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text).strip()
