"""streams.app.redis_client: one server or a cluster, as the settings say, with the same
timeouts and without redis-py's own retries. Nothing connects here."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from streams.app import create_service, redis_client, redis_client_for
from streams.redis_cluster import ClusterClient
from vocwatch.settings import Settings


async def test_one_server_by_default() -> None:
    client = redis_client("redis://127.0.0.1:1/0")
    assert isinstance(client, aioredis.Redis) and not isinstance(client, ClusterClient)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (5, 5)
    retry = client.get_retry()
    assert retry is not None and retry.get_retries() == 0
    await client.aclose()


async def test_a_cluster_client_with_the_same_intent() -> None:
    client = redis_client("redis://127.0.0.1:1/0", cluster=True)
    assert isinstance(client, ClusterClient)
    kwargs = client.get_connection_kwargs()
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (5, 5)
    assert client.retry.get_retries() == 0  # no silent retries: the pipeline's own
    await client.aclose()


async def test_tools_and_the_service_build_the_client_the_settings_name(tmp_path: Path) -> None:
    settings = Settings(
        broker_url="kafka://127.0.0.1:1",
        redis_url="redis://127.0.0.1:1/0",
        redis_cluster=True,
        data_dir=tmp_path / "data",
        analysis_processes=0,
    )
    tool_client = redis_client_for(settings)
    assert isinstance(tool_client, ClusterClient)
    await tool_client.aclose()
    service = create_service(settings, registry=CollectorRegistry())
    redis = service.redis
    assert isinstance(redis, ClusterClient)
    assert service.engine.store.redis is service.redis
    assert service.pipeline.windows.redis is service.redis
    await redis.aclose()
    plain = create_service(
        Settings(
            broker_url="kafka://127.0.0.1:1",
            data_dir=tmp_path / "d",
            redis_url="redis://127.0.0.1:1/0",
            analysis_processes=0,
        ),
        registry=CollectorRegistry(),
    )
    assert not isinstance(plain.redis, ClusterClient)
    await plain.redis.aclose()
