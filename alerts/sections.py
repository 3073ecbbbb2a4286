"""Reading one section of the alert configuration file (``customers:``, ``kpis:``), with
errors that name the file, the line and the field, as the rules' errors do."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alerts.rules import Lines, location, parse_span
from vocwatch.errors import ConfigError


class Section:
    """A mapping at ``path`` of the file (``["customers", "risk"]``): its fields, checked."""

    def __init__(
        self, data: Any, path: list[str | int], *, source: str, lines: Lines | None
    ) -> None:
        self.path, self.source, self.lines = path, source, lines
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self.error(f"expected a mapping (got {data!r})")
        self.data: Mapping[str, Any] = data

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)

    def error(self, message: str, name: str = "") -> ConfigError:
        path = [*self.path, name] if name else self.path
        where = location(self.source, self.lines, path)
        return ConfigError(message, source=f"{where}: {self.name}", field=name)

    def known(self, names: Any) -> None:
        """Refuse fields not in ``names``: a typo is an error, not a silent default."""
        unknown = sorted(set(self.data) - set(names))
        if unknown:
            raise self.error(
                f"unknown field(s) {', '.join(map(str, unknown))}; "
                f"known: {', '.join(sorted(names))}"
            )

    def value(self, name: str, check: Callable[[Any], bool], message: str, default: Any) -> Any:
        value = self.data.get(name, default)
        try:
            ok = check(value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise self.error(f"{message} (got {value!r})", name)
        return value

    def number(
        self, name: str, default: float, *, low: float = 0, high: float = float("inf")
    ) -> float:
        """A number in (low, high]: every number here is a weight, a limit or a share."""
        shown = "" if high == float("inf") else f", at most {high:g}"
        return float(
            self.value(
                name,
                lambda v: _number(v) and low < v <= high,
                f"a number above {low:g}{shown}",
                default,
            )
        )

    def within(self, name: str, default: float | None, low: float, high: float) -> float:
        """A number from ``low`` to ``high``, both included (required if no default)."""
        return float(
            self.value(
                name,
                lambda v: _number(v) and low <= v <= high,
                f"a number from {low:g} to {high:g}",
                default,
            )
        )

    def count(self, name: str, default: int, *, low: int = 1) -> int:
        return int(
            self.value(
                name,
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low,
                f"an integer of at least {low}",
                default,
            )
        )

    def span(self, name: str, default: str) -> int:
        """Seconds, from a span like 48h or 30m (0: none)."""
        value = self.value(
            name,
            lambda v: v == 0 or (not isinstance(v, bool) and parse_span(v) > 0),
            "a span like 30m, 48h or 7d",
            default,
        )
        return 0 if value == 0 else parse_span(value)

    def flag(self, name: str, default: bool) -> bool:
        return bool(self.value(name, lambda v: isinstance(v, bool), "true or false", default))

    def section(self, name: str) -> Section:
        return Section(
            self.data.get(name), [*self.path, name], source=self.source, lines=self.lines
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
