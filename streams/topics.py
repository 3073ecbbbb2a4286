"""Topic administration with kafka-python (a sync tool: used before the worker starts)."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from vocwatch.errors import StackError
from vocwatch.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings, *, timeout_seconds: float = 30.0) -> list[str]:
    """Create vocwatch's topics that do not exist yet; return the names created."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=int(timeout_seconds * 1000),
        )
    except KafkaError as exc:
        raise StackError(
            f"cannot reach the Kafka broker at {settings.broker_url}: {exc}. "
            "Check VOCWATCH_BROKER_URL."
        ) from exc
    try:
        existing = set(admin.list_topics())
        missing = [name for name in settings.all_topics if name not in existing]
        if missing:
            # Another worker may create them at the same moment: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, settings.partitions, 1) for name in missing])
            log.info(
                "created topics %s with %d partitions", ", ".join(missing), settings.partitions
            )
        return missing
    finally:
        admin.close()
