"""The one settings object, read once at start-up from ``VOCWATCH_*`` environment variables.

Every variable is listed in :data:`ENVIRONMENT` (the table in docs/deploy.md is generated
from the same data); nothing else in the code reads the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Polarity, Priority, Source

PREFIX = "VOCWATCH_"
SINK_PREFIX = "VOCWATCH_SINK_"  # sink URLs and secrets, named by the rules file's sinks
SENTIMENT_MODELS = ("vocwatch", "snownlp")
LOG_LEVELS = ("debug", "info", "warning", "error")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
MAX_FETCH_MIN_BYTES = 1 << 20
DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "alerts" / "rules.yaml"
# The packaged text-analysis policies (the same paths as classifiers.priority and
# classifiers.polarity name; kept as paths here so settings import no classifier code).
_CLASSIFIER_DATA = Path(__file__).resolve().parent.parent / "classifiers" / "data"
DEFAULT_PRIORITY_FILE = _CLASSIFIER_DATA / "priority.yaml"
DEFAULT_POLARITY_FILE = _CLASSIFIER_DATA / "polarity.yaml"
DEFAULT_CUSTOMER_PHRASES_FILE = _CLASSIFIER_DATA / "customer_phrases.yaml"


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to know, frozen after start-up."""

    broker_url: str = "kafka://127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False
    app_id: str = "vocwatch"
    topic_prefix: str = "vocwatch."
    partitions: int = 4
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    rules_file: Path = DEFAULT_RULES_FILE
    priority_file: Path = DEFAULT_PRIORITY_FILE
    polarity_file: Path = DEFAULT_POLARITY_FILE
    customer_phrases_file: Path = DEFAULT_CUSTOMER_PHRASES_FILE
    sentiment_model: str = "vocwatch"
    model_dir: Path | None = None
    metric_products: tuple[str, ...] = ()
    metric_regions: tuple[str, ...] = ()
    alerts_out: Path | None = None
    batch_size: int = 1000
    batch_seconds: float = 0.25
    fetch_wait_seconds: float = 0.25
    fetch_min_bytes: int = 65536
    bucket_seconds: int = 10
    max_message_bytes: int = 256 * 1024
    alert_update_seconds: float = 30.0
    evaluation_seconds: float = 5.0
    stall_seconds: float = 60.0
    retry_max_seconds: float = 30.0
    data_dir: Path = Path(tempfile.gettempdir()) / "vocwatch-data"
    log_level: str = "info"
    baseline_step_seconds: float = 60.0
    analysis_processes: int = 1
    event_loop: str = "auto"
    overload_seconds: float = 10.0
    api_token: str = field(default="", repr=False)
    api_max_body_bytes: int = 64 * 1024
    emerging: bool = True
    emerging_polarities: tuple[str, ...] = ("negative", "neutral")
    emerging_window_seconds: int = 300
    emerging_baseline_seconds: int = 3600
    emerging_min_count: int = 10
    emerging_min_growth: float = 4.0
    emerging_p_value: float = 1e-6
    emerging_similarity: float = 0.25
    emerging_max_clusters: int = 3000
    emerging_priority: str = "P2"
    # VOCWATCH_SINK_* variables: robot URLs (which hold their keys) and signing secrets.
    sink_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    # --- derived names -------------------------------------------------------------
    @property
    def complaints_topic(self) -> str:
        return f"{self.topic_prefix}complaints"

    @property
    def calls_topic(self) -> str:
        return f"{self.topic_prefix}calls"

    @property
    def social_topic(self) -> str:
        return f"{self.topic_prefix}social"

    @property
    def surveys_topic(self) -> str:
        return f"{self.topic_prefix}surveys"

    @property
    def scored_topic(self) -> str:
        return f"{self.topic_prefix}scored"

    @property
    def deadletter_topic(self) -> str:
        return f"{self.topic_prefix}deadletter"

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic_prefix}alerts"

    @property
    def input_topics(self) -> dict[str, str]:
        """Input topic per event source (complaint / call / social / survey)."""
        return {
            Source.COMPLAINT: self.complaints_topic,
            Source.CALL: self.calls_topic,
            Source.SOCIAL: self.social_topic,
            Source.SURVEY: self.surveys_topic,
        }

    @property
    def all_topics(self) -> list[str]:
        return [
            *self.input_topics.values(),
            self.scored_topic,
            self.deadletter_topic,
            self.alerts_topic,
        ]

    @property
    def web_loopback(self) -> bool:
        """Whether the HTTP server listens on a loopback address only (127.0.0.0/8, ::1,
        localhost): only then is the writing API served without a token."""
        if self.web_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.web_host).is_loopback
        except ValueError:  # a host name: it may resolve to anything
            return False

    @property
    def bootstrap_servers(self) -> list[str]:
        """``host:port`` list for kafka-python, from the Faust-style broker URL."""
        return broker_hosts(self.broker_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read the ``VOCWATCH_*`` variables; unknown ones are an error, not a silent typo."""
        values: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "sink_env"}
        sink_env = {}
        for name, raw in environ.items():
            if name.startswith(SINK_PREFIX):
                sink_env[name] = raw
                continue
            if not name.startswith(PREFIX):
                continue
            field_name = name[len(PREFIX) :].lower()
            if field_name not in fields:
                known = ", ".join(PREFIX + f.upper() for f in sorted(fields))
                raise ConfigError(f"unknown variable; known ones are {known}", source=name)
            values[field_name] = _parse(name, raw, ENVIRONMENT[field_name][0])
        values["sink_env"] = sink_env
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        positive = (
            "partitions",
            "batch_size",
            "batch_seconds",
            "fetch_wait_seconds",
            "fetch_min_bytes",
            "bucket_seconds",
            "max_message_bytes",
            "alert_update_seconds",
            "evaluation_seconds",
            "retry_max_seconds",
            "stall_seconds",
            "baseline_step_seconds",
            "api_max_body_bytes",
            "overload_seconds",
            "emerging_window_seconds",
            "emerging_max_clusters",
        )
        for name in positive:
            if not getattr(self, name) > 0:  # also rejects NaN
                raise ConfigError("must be greater than 0", source=PREFIX + name.upper())
        self._validate_emerging()
        self._validate_ranges()
        if self.sentiment_model not in SENTIMENT_MODELS:
            raise ConfigError(
                f"must be one of {', '.join(SENTIMENT_MODELS)}", source=f"{PREFIX}SENTIMENT_MODEL"
            )
        if self.event_loop not in EVENT_LOOPS:
            raise ConfigError(
                f"must be one of {', '.join(EVENT_LOOPS)}", source=f"{PREFIX}EVENT_LOOP"
            )
        if self.log_level.lower() not in LOG_LEVELS:
            raise ConfigError(
                f"must be one of {', '.join(LOG_LEVELS)}", source=f"{PREFIX}LOG_LEVEL"
            )
        broker_hosts(self.broker_url)
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                "must start with redis://, rediss:// or unix://", source=f"{PREFIX}REDIS_URL"
            )
        if self.redis_cluster:
            self._validate_cluster()

    def _validate_ranges(self) -> None:
        checks: tuple[tuple[str, bool, str], ...] = (
            # aiokafka's requests time out after 40 s; a fetch held for longer than a few
            # seconds only delays the worker's view of new records
            ("fetch_wait_seconds", self.fetch_wait_seconds <= 5, "must be at most 5"),
            (
                "fetch_min_bytes",
                self.fetch_min_bytes <= MAX_FETCH_MIN_BYTES,
                "must be at most 1048576",
            ),
            (
                "analysis_processes",
                0 <= self.analysis_processes <= 8,
                "must be 0 (analyse in the worker) to 8 (processes)",
            ),
            ("web_port", 0 < self.web_port < 65536, "must be a TCP port (1-65535)"),
        )
        for name, ok, message in checks:
            if not ok:
                raise ConfigError(message, source=PREFIX + name.upper())

    def _validate_emerging(self) -> None:
        checks: tuple[tuple[str, bool, str], ...] = (
            (
                "emerging_polarities",
                bool(self.emerging_polarities) and set(self.emerging_polarities) <= set(Polarity),
                f"a comma-separated list of {', '.join(Polarity)}",
            ),
            (
                "emerging_baseline_seconds",
                self.emerging_baseline_seconds >= self.emerging_window_seconds,
                "must be at least VOCWATCH_EMERGING_WINDOW_SECONDS",
            ),
            ("emerging_min_count", self.emerging_min_count >= 2, "must be 2 or more"),
            ("emerging_min_growth", self.emerging_min_growth >= 1, "must be 1 or more"),
            ("emerging_p_value", 0 < self.emerging_p_value < 1, "must be in (0, 1)"),
            ("emerging_similarity", 0 < self.emerging_similarity <= 1, "must be in (0, 1]"),
            (
                "emerging_priority",
                self.emerging_priority in set(Priority),
                f"must be one of {', '.join(Priority)}",
            ),
        )
        for name, ok, message in checks:
            if not ok:
                raise ConfigError(message, source=PREFIX + name.upper())

    def _validate_cluster(self) -> None:
        """What Redis Cluster needs: a TCP node to start from, database 0 (a cluster has no
        other), and key prefixes without braces, which would change the hash tags that keep
        each Lua script's keys in one slot."""
        url = f"{PREFIX}REDIS_URL"
        if self.redis_url.startswith("unix://"):
            raise ConfigError(
                "Redis Cluster needs a redis:// or rediss:// URL of one of its "
                f"nodes, not unix:// ({PREFIX}REDIS_CLUSTER is on)",
                source=url,
            )
        if urllib.parse.urlsplit(self.redis_url).path.strip("/") not in ("", "0"):
            raise ConfigError(
                f"Redis Cluster has database 0 only: end the URL with /0 or "
                f"nothing ({PREFIX}REDIS_CLUSTER is on)",
                source=url,
            )
        if "{" in self.app_id or "}" in self.app_id:
            raise ConfigError(
                "must not contain { or } with Redis Cluster: the id prefixes "
                "the Redis keys, whose {hash tags} decide their slots",
                source=f"{PREFIX}APP_ID",
            )


def broker_hosts(url: str) -> list[str]:
    """``kafka://a:9092;b:9092`` (Faust style) or ``a:9092,b:9092`` → ``["a:9092", "b:9092"]``."""
    body = url.removeprefix("kafka://")
    hosts = [h.strip() for h in body.replace(";", ",").split(",") if h.strip()]
    if not hosts or any(":" not in h for h in hosts):
        raise ConfigError(f"{url!r} is not host:port[,host:port…]", source=f"{PREFIX}BROKER_URL")
    return hosts


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw else None


def _flag(raw: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off, any case); empty means false."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _names(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def _parse(name: str, raw: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"cannot parse {raw!r}: {exc}", source=name) from exc


#: field → (parser, description). docs/deploy.md documents the same table.
ENVIRONMENT: dict[str, tuple[Callable[[str], Any], str]] = {
    "broker_url": (
        str,
        "Kafka bootstrap servers, `kafka://host:port[;host:port]`; "
        "`vocwatch dev` starts an embedded broker when unset",
    ),
    "redis_url": (str, "Redis URL; `vocwatch dev` starts an embedded server when unset"),
    "redis_cluster": (
        _flag,
        "`true`: Redis is a Redis Cluster and `VOCWATCH_REDIS_URL` "
        "names one of its nodes; `vocwatch dev` then starts an "
        "embedded three-node cluster when the URL is unset",
    ),
    "app_id": (str, "Faust application id, also the Kafka consumer group"),
    "topic_prefix": (str, "prefix of every topic name"),
    "partitions": (int, "partitions of the topics vocwatch creates"),
    "web_host": (str, "address of the HTTP server (/metrics, /health, the API and console)"),
    "web_port": (int, "port of the HTTP server"),
    "rules_file": (Path, "alert rules (YAML); the packaged alerts/rules.yaml by default"),
    "priority_file": (
        Path,
        "priority policy (YAML): category severities, escalation and "
        "safety terms, points; the packaged classifiers/data/priority.yaml "
        "by default",
    ),
    "sentiment_model": (
        str,
        "`vocwatch` (the shipped three-way model, or the one of `VOCWATCH_MODEL_DIR`) or "
        "`snownlp` (stock snownlp, for comparison; about 40× slower)",
    ),
    "model_dir": (
        _optional_path,
        "a folder of text models (sentiment.npz and categories.npz, as `vocwatch "
        "train-sentiment --out` and `train-categories --out` write them, trained with the same "
        "features) to use instead of the shipped ones; the worker refuses one it cannot read",
    ),
    "metric_products": (
        _names,
        "comma-separated products that get their own metric label; "
        "others are counted as `other` (bounded label sets)",
    ),
    "metric_regions": (
        _names,
        "comma-separated regions that get their own metric label; others are counted as `other`",
    ),
    "polarity_file": (
        Path,
        "polarity cut-offs per channel (YAML); the packaged "
        "classifiers/data/polarity.yaml by default",
    ),
    "customer_phrases_file": (
        Path,
        "churn-threat and escalation phrases and the negations that cancel them (YAML), "
        "for customer risk; the packaged classifiers/data/customer_phrases.yaml by default",
    ),
    "alerts_out": (_optional_path, "append every alert and alert update to this JSON-lines file"),
    "batch_size": (int, "events taken from a topic per batch"),
    "batch_seconds": (float, "longest wait to fill a batch"),
    "fetch_wait_seconds": (
        float,
        "longest time the broker may hold a fetch of the worker's consumer while it has "
        "no new records (at most 5 s)",
    ),
    "fetch_min_bytes": (
        int,
        "bytes of new records the broker gathers for a fetch of the worker's consumer before "
        "it answers, or the fetch wait passes (1: at once; at most 1 MiB)",
    ),
    "bucket_seconds": (int, "granularity of the sliding windows in Redis"),
    "max_message_bytes": (int, "larger input messages are dead-lettered as too_large"),
    "alert_update_seconds": (float, "least time between two updates of one firing alert"),
    "evaluation_seconds": (
        float,
        "how often active alerts are re-evaluated (to fire after "
        "for:, remind and resolve) and silences reloaded",
    ),
    "stall_seconds": (
        float,
        "input waiting and no offset moved for this long: /health turns "
        "red and the worker exits (code 3) to be restarted",
    ),
    "retry_max_seconds": (float, "longest back-off between retries (Redis commands, Kafka sends)"),
    "baseline_step_seconds": (
        float,
        "how often spike rules' baselines learn from their windows (one worker takes each step)",
    ),
    "analysis_processes": (
        int,
        "text analysis in this many processes beside the worker, "
        "overlapping its event loop; 0: in the worker itself",
    ),
    "event_loop": (
        str,
        "auto (uvloop when installed, else asyncio's own), uvloop (refuse to start without "
        "it) or asyncio",
    ),
    "overload_seconds": (
        float,
        "the worker reports itself overloaded (vocwatch_overloaded, a warning) when its "
        "backlog would take longer than this to process",
    ),
    "api_token": (
        str,
        "bearer token the HTTP API (/api/…) and the console require. Unset: no token "
        "needed on a loopback `VOCWATCH_WEB_HOST`; on any other address the API is "
        "read-only (acknowledging, silencing and corrections refused). Never logged",
    ),
    "api_max_body_bytes": (int, "larger HTTP API request bodies are refused (413)"),
    "emerging": (
        _flag,
        "`false`: no emerging-topic detection (the clustering of similar new complaints "
        "that no rule names)",
    ),
    "emerging_polarities": (
        _names,
        "comma-separated polarities of the texts clustered for emerging topics",
    ),
    "emerging_window_seconds": (int, "an emerging topic's window: how recent its texts are"),
    "emerging_baseline_seconds": (
        int,
        "the span before the window that an emerging topic must be new against",
    ),
    "emerging_min_count": (int, "authors an emerging topic needs in its window (the guard)"),
    "emerging_min_growth": (
        float,
        "how many times its expected count (from its share of the baseline) an emerging "
        "topic's window count must be",
    ),
    "emerging_p_value": (
        float,
        "how unlikely the window count must be under the baseline share (Poisson tail)",
    ),
    "emerging_similarity": (
        float,
        "cosine a text needs with a cluster's centroid to join it (lower: broader topics)",
    ),
    "emerging_max_clusters": (int, "clusters a worker keeps (the least recently joined go)"),
    "emerging_priority": (str, "priority of emerging-topic alerts: P1, P2 or P3"),
    "data_dir": (Path, "Faust's local data directory"),
    "log_level": (str, "debug, info, warning or error"),
}
