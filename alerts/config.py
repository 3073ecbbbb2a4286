"""The whole alert configuration file, validated in one place: rules
(:mod:`alerts.rules`), sinks (:mod:`alerts.sinkconfig`) and the teams and routes that
join them (:mod:`alerts.routing`). The worker and ``vocwatch rules check`` both load it
here, so a file the check accepts is a file the worker starts with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alerts.routing import Router, parse_routing
from alerts.rules import AlertConfig, Rule, load_config
from alerts.sinkconfig import SinkSpec, parse_sinks

CHAT_TYPES = frozenset({"wecom", "dingtalk", "feishu"})  # told news, not every update


@dataclass(frozen=True)
class Alerting:
    config: AlertConfig
    router: Router
    sinks: Mapping[str, SinkSpec]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.config.rules

    @property
    def refresh_sinks(self) -> frozenset[str]:
        """Sinks that let an alert expire unless it is re-sent (Alertmanager)."""
        return frozenset(name for name, spec in self.sinks.items() if spec.type == "alertmanager")

    @property
    def chat_sinks(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.sinks.items() if spec.type in CHAT_TYPES)


def alerting_from(config: AlertConfig) -> Alerting:
    sinks = parse_sinks(config.sinks, config.source, lines=config.lines)
    return Alerting(config, parse_routing(config, sinks), sinks)


def load_alerting(path: Path) -> Alerting:
    return alerting_from(load_config(path))
