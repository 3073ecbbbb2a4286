"""The Redis Cluster (集群) client of the service (``VOCWATCH_REDIS_CLUSTER=true``).

redis-py's own cluster client, with one difference: the failures it raises as
``RedisClusterException`` — no node reachable, slots not covered, a command it cannot
route — are raised as :class:`ClusterClientError`, a ``RedisError``. ``RedisClusterException``
is not one, so without this a cluster that is down at start-up or during a failover would
escape every ``except RedisError`` of the service: a batch would be dead-lettered instead of
retried, ``/health`` would fail with a 500, the re-evaluation timer would stop. With it, a
cluster behaves like a single server that is away: retried with back-off, counted in
``vocwatch_redis_errors_total``, ``/health`` degraded.

Imported only with the setting on: redis-py's asyncio cluster pub/sub (the live alert feed)
is new in redis-py 8.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, ClusterPubSub, RedisCluster
from redis.exceptions import RedisClusterException, RedisError


class ClusterClientError(RedisError):
    """redis-py's cluster client could not reach the cluster or route a command."""


@contextlib.contextmanager
def _as_redis_errors() -> Iterator[None]:
    try:
        yield
    except RedisClusterException as exc:
        raise ClusterClientError(str(exc)) from exc


class ClusterClient(RedisCluster):
    """``redis.asyncio.cluster.RedisCluster`` whose routing and reachability failures are
    ``RedisError``s (see the module docstring)."""

    async def initialize(self, *args: Any, **kwargs: Any) -> ClusterClient:
        with _as_redis_errors():
            await super().initialize(*args, **kwargs)
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _as_redis_errors():
            return await super().execute_command(*args, **kwargs)

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if transaction or shard_hint:
            raise ValueError("vocwatch uses non-transactional pipelines only on a cluster")
        # mypy sees an abstract attribute of a base class that redis-py's own pipeline()
        # leaves unset in the same way: the cluster pipeline never uses it.
        return _Pipeline(self)  # type: ignore[abstract]

    def pubsub(
        self,
        node: ClusterNode | None = None,
        host: str | None = None,
        port: int | None = None,
        **kwargs: Any,
    ) -> ClusterPubSub:
        return _PubSub(self, node=node, host=host, port=port, **kwargs)


class _Pipeline(ClusterPipeline):
    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        with _as_redis_errors():
            return await super().execute(raise_on_error, allow_redirections)


class _PubSub(ClusterPubSub):
    """Pub/sub on the node that serves the channel's slot. A cluster passes every plain
    PUBLISH on to all its nodes, so a subscriber on any node hears what any client
    publishes anywhere."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _as_redis_errors():
            # The node is looked up in the client's slot table, which is empty (a KeyError)
            # until the client has talked to the cluster.
            await self.cluster.initialize()
            return await super().execute_command(*args, **kwargs)
