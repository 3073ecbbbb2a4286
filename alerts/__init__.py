"""Alerting (告警): sliding windows in Redis, threshold rules, alert lifecycle, sinks."""
