"""The whole alert configuration file, validated in one place: rules
(:mod:`alerts.rules`), sinks (:mod:`alerts.sinkconfig`), the teams and routes that
join them (:mod:`alerts.routing`), customer history, risk and follow-ups
(:mod:`alerts.customer_alerts`) and KPI targets (:mod:`alerts.kpis`). The worker and
``vocwatch rules check`` both load it here, so a file the check accepts is a file the
worker starts with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alerts.customer_alerts import CustomerPolicy, parse_customers
from alerts.kpis import KpiTarget, parse_kpis
from alerts.routing import Router, parse_routing
from alerts.rules import AlertConfig, Rule, load_config
from alerts.sinkconfig import SinkSpec, parse_sinks
from vocwatch.vocabulary import Kpi

CHAT_TYPES = frozenset({"wecom", "dingtalk", "feishu"})  # told news, not every update


@dataclass(frozen=True)
class Alerting:
    config: AlertConfig
    router: Router
    sinks: Mapping[str, SinkSpec]
    customers: CustomerPolicy | None = None  # None: no customers: section
    kpis: Mapping[Kpi, KpiTarget] = field(default_factory=dict)

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
    return Alerting(
        config,
        parse_routing(config, sinks),
        sinks,
        parse_customers(config),
        parse_kpis(config),
    )


def load_alerting(path: Path) -> Alerting:
    return alerting_from(load_config(path))
