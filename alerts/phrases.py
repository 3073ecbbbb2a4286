"""Churn threats (流失威胁) and escalation language (升级投诉) in a customer's text. Pure.

The phrase lists are data (``classifiers/data/customer_phrases.yaml``, or the file
``VOCWATCH_CUSTOMER_PHRASES_FILE`` names); the escalation terms of the priority policy
(12315, 消协, 曝光 …) count as escalation too, so that list is kept in one place. Texts are
matched as the analysis leaves them — normalized and PII-masked — and the phrases are
normalized the same way when loaded, so 銷戶 and ＂销户＂ are 销户.

A phrase does not count when

* its clause negates it: a negation cue (不会, 不想, 没打算 …) stands before it in the same
  clause — 我不会销户 and 暂时不打算换别家 make no threat, 再不解决我就销户 does;
* the text says it is joking (开个玩笑 …, but not 不是开玩笑的).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from classifiers.normalize import normalize
from vocwatch.errors import ConfigError

# Clause boundaries of a normalized text (full-width punctuation is folded to ASCII by
# then; 。 and 、 have no ASCII form).
_CLAUSE_END = re.compile(r"[,.!?;:~。、…\s]")
_LISTS = ("churn", "escalation", "negations", "jokes")
_NOT_A_JOKE = ("不是", "没", "没有", "不")  # before a joke marker: 不是开玩笑的


class PhraseMatcher:
    """Finds the phrases of two lists in a text, with negations and jokes taken into
    account. Each list is one regular expression, longest phrase first: one pass over a
    text, which is all most texts (those with none of the phrases) cost."""

    def __init__(
        self,
        *,
        churn: Iterable[str],
        escalation: Iterable[str],
        negations: Iterable[str],
        jokes: Iterable[str],
    ) -> None:
        self.churn = _normalized(churn)
        self.escalation = _normalized(escalation)
        self.negations = _normalized(negations)
        self.jokes = _normalized(jokes)
        self._churn = _pattern(self.churn)
        self._escalation = _pattern(self.escalation)

    @classmethod
    def load(cls, path: Path, *, escalation: Iterable[str] = ()) -> PhraseMatcher:
        """The lists of ``path``; ``escalation``: more escalation terms (the priority
        policy's). Errors name the file and the list."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read customer phrases: {exc}", source=str(path)) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping with {', '.join(_LISTS)}", source=str(path))
        lists: dict[str, list[str]] = {}
        for name in _LISTS:
            values = data.get(name)
            if not isinstance(values, list) or not all(
                isinstance(v, str | int) and str(v).strip() for v in values
            ):
                raise ConfigError(
                    "expected a list of non-empty phrases", source=str(path), field=name
                )
            lists[name] = [str(v) for v in values]
        return cls(
            churn=lists["churn"],
            escalation=[*lists["escalation"], *escalation],
            negations=lists["negations"],
            jokes=lists["jokes"],
        )

    def churn_threats(self, text: str) -> tuple[str, ...]:
        """The churn phrases ``text`` threatens with, in the order they appear."""
        return self._found(self._churn, text)

    def escalations(self, text: str) -> tuple[str, ...]:
        """The escalation phrases ``text`` uses, in the order they appear."""
        return self._found(self._escalation, text)

    def _found(self, pattern: re.Pattern[str] | None, text: str) -> tuple[str, ...]:
        hits = list(pattern.finditer(text)) if pattern is not None else []
        if not hits or self._joking(text):
            return ()
        found: list[str] = []
        for hit in hits:
            phrase = hit.group()
            if (
                phrase not in found
                and not (phrase.isdigit() and _inside_number(text, hit.start(), hit.end()))
                and not self._negated(text, hit.start())
            ):
                found.append(phrase)
        return tuple(found)

    def _joking(self, text: str) -> bool:
        """A joke marker, unless denied (不是开玩笑的 says it is no joke)."""
        return any(
            not text[max(0, m.start() - 2) : m.start()].endswith(_NOT_A_JOKE)
            for joke in self.jokes
            for m in re.finditer(re.escape(joke), text)
        )

    def _negated(self, text: str, start: int) -> bool:
        """Whether the clause that ``start`` is in negates what follows, before ``start``."""
        clause_start = 0
        for boundary in _CLAUSE_END.finditer(text, 0, start):
            clause_start = boundary.end()
        before = text[clause_start:start]
        return any(cue in before for cue in self.negations)


def _normalized(phrases: Iterable[str]) -> tuple[str, ...]:
    """Normalized as texts are, longest first (so that 携号转网 is found, not 转网 in it)."""
    cleaned = {normalize(str(p)) for p in phrases}
    return tuple(sorted((p for p in cleaned if p), key=lambda p: (-len(p), p)))


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One expression of plain alternatives for a list (fast to search)."""
    return re.compile("|".join(re.escape(p) for p in phrases)) if phrases else None


def _inside_number(text: str, start: int, end: int) -> bool:
    """A number phrase counts only where it stands alone: 12315, not inside 123156."""
    return (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit())
