"""Shared fixtures: a real Kafka-protocol broker (Tansu) and a real Redis-compatible server
(valkey), each started once per test session on a free loopback port and stopped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from vocwatch.dev import embedded


@pytest.fixture(scope="session")
def broker_server() -> Iterator[embedded.ChildServer]:
    with embedded.broker() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[embedded.ChildServer]:
    with embedded.redis_server() as server:
        yield server


@pytest.fixture
def broker_url(broker_server: embedded.ChildServer) -> str:
    return f"kafka://{broker_server.host}:{broker_server.port}"


@pytest.fixture
def redis_url(redis_server: embedded.ChildServer) -> str:
    return f"redis://{redis_server.host}:{redis_server.port}/0"


@pytest.fixture
def redis_sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A fresh prefix per test, so tests sharing a server never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}"
