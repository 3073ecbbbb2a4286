"""vocwatch.settings: VOCWATCH_* variables, validation, derived names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vocwatch.errors import ConfigError, VocwatchError
from vocwatch.settings import DEFAULT_RULES_FILE, ENVIRONMENT, Settings, broker_hosts


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.broker_url == "kafka://127.0.0.1:9092"
    assert settings.rules_file == DEFAULT_RULES_FILE
    assert settings.alerts_out is None


def test_other_variables_are_ignored() -> None:
    settings = Settings.from_env(
        {"PATH": "/usr/bin", "HOME": "/root", "VOCWATCHX": "1", "KAFKA_PARTITIONS": "x"}
    )
    assert settings == Settings()


def test_every_field_has_a_variable() -> None:
    # sink_env gathers the VOCWATCH_SINK_* variables the rules file names.
    assert set(ENVIRONMENT) == {f.name for f in dataclasses.fields(Settings)} - {"sink_env"}


def test_sink_variables_are_gathered_and_secrets_stay_out_of_repr() -> None:
    env = {
        "VOCWATCH_SINK_WECOM_SUPPORT_URL": "https://qyapi.example/send?key=SECRETKEY",
        "VOCWATCH_SINK_DINGTALK_TECH_SECRET": "SECsecret",
        "VOCWATCH_API_TOKEN": "tok123",
        "VOCWATCH_API_MAX_BODY_BYTES": "1000",
        "VOCWATCH_BASELINE_STEP_SECONDS": "30",
    }
    settings = Settings.from_env(env)
    assert settings.sink_env == {k: v for k, v in env.items() if "_SINK_" in k}
    assert (settings.api_token, settings.api_max_body_bytes) == ("tok123", 1000)
    assert settings.baseline_step_seconds == 30.0
    for secret in ("SECRETKEY", "SECsecret", "tok123"):
        assert secret not in repr(settings)


def test_from_env_parses_types(tmp_path: Path) -> None:
    env = {
        "VOCWATCH_BROKER_URL": "kafka://k1:9092;k2:9093",
        "VOCWATCH_REDIS_URL": "rediss://cache:6380/2",
        "VOCWATCH_APP_ID": "vocwatch-test",
        "VOCWATCH_TOPIC_PREFIX": "acme.",
        "VOCWATCH_PARTITIONS": "8",
        "VOCWATCH_WEB_HOST": "0.0.0.0",  # noqa: S104 — a value under test, nothing binds it
        "VOCWATCH_WEB_PORT": "8080",
        "VOCWATCH_RULES_FILE": str(tmp_path / "rules.yaml"),
        "VOCWATCH_ALERTS_OUT": str(tmp_path / "alerts.jsonl"),
        "VOCWATCH_BATCH_SIZE": "50",
        "VOCWATCH_BATCH_SECONDS": "0.5",
        "VOCWATCH_FETCH_WAIT_SECONDS": "0.25",
        "VOCWATCH_BUCKET_SECONDS": "5",
        "VOCWATCH_MAX_MESSAGE_BYTES": "1024",
        "VOCWATCH_ALERT_UPDATE_SECONDS": "10",
        "VOCWATCH_EVALUATION_SECONDS": "2.5",
        "VOCWATCH_RETRY_MAX_SECONDS": "60",
        "VOCWATCH_DATA_DIR": str(tmp_path / "data"),
        "VOCWATCH_LOG_LEVEL": "debug",
    }
    settings = Settings.from_env(env)
    assert settings == Settings(
        broker_url="kafka://k1:9092;k2:9093",
        redis_url="rediss://cache:6380/2",
        app_id="vocwatch-test",
        topic_prefix="acme.",
        partitions=8,
        web_host="0.0.0.0",  # noqa: S104
        web_port=8080,
        rules_file=tmp_path / "rules.yaml",
        alerts_out=tmp_path / "alerts.jsonl",
        batch_size=50,
        batch_seconds=0.5,
        fetch_wait_seconds=0.25,
        bucket_seconds=5,
        max_message_bytes=1024,
        alert_update_seconds=10.0,
        evaluation_seconds=2.5,
        retry_max_seconds=60.0,
        data_dir=tmp_path / "data",
        log_level="debug",
    )
    assert isinstance(settings.partitions, int)
    assert isinstance(settings.batch_seconds, float)
    assert isinstance(settings.alert_update_seconds, float)
    assert isinstance(settings.rules_file, Path)
    assert isinstance(settings.data_dir, Path)


def test_empty_alerts_out_means_none() -> None:
    assert Settings.from_env({"VOCWATCH_ALERTS_OUT": ""}).alerts_out is None


def test_lower_case_suffix_is_accepted() -> None:
    assert Settings.from_env({"VOCWATCH_partitions": "2"}).partitions == 2


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"VOCWATCH_PARTITIONS": "8"}, partitions=3, app_id="x")
    assert (settings.partitions, settings.app_id) == (3, "x")


def test_overrides_are_validated() -> None:
    with pytest.raises(ConfigError, match="VOCWATCH_PARTITIONS"):
        Settings.from_env({}, partitions=0)


@pytest.mark.parametrize("name", ["VOCWATCH_PARTITION", "VOCWATCH_KAFKA_URL", "VOCWATCH_"])
def test_unknown_variable_is_an_error_naming_it(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: "1"})
    assert str(info.value).startswith(f"{name}: unknown variable")
    assert info.value.source == name
    assert "VOCWATCH_PARTITIONS" in str(info.value)  # the known names are listed
    assert isinstance(info.value, VocwatchError)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("VOCWATCH_PARTITIONS", "four"),
        ("VOCWATCH_PARTITIONS", "4.0"),
        ("VOCWATCH_WEB_PORT", ""),
        ("VOCWATCH_BATCH_SIZE", "1e3"),
        ("VOCWATCH_BATCH_SECONDS", "fast"),
        ("VOCWATCH_BUCKET_SECONDS", "10s"),
    ],
)
def test_unparsable_value_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: raw})
    assert str(info.value).startswith(f"{name}: cannot parse {raw!r}")
    assert info.value.source == name


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("VOCWATCH_PARTITIONS", "0"),
        ("VOCWATCH_BATCH_SIZE", "-1"),
        ("VOCWATCH_BATCH_SECONDS", "0"),
        ("VOCWATCH_FETCH_WAIT_SECONDS", "0"),
        ("VOCWATCH_FETCH_MIN_BYTES", "0"),
        ("VOCWATCH_BUCKET_SECONDS", "0"),
        ("VOCWATCH_MAX_MESSAGE_BYTES", "0"),
        ("VOCWATCH_ALERT_UPDATE_SECONDS", "-0.1"),
        ("VOCWATCH_EVALUATION_SECONDS", "0"),
        ("VOCWATCH_RETRY_MAX_SECONDS", "0"),
    ],
)
def test_values_that_must_be_positive(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match="must be greater than 0") as info:
        Settings.from_env({name: raw})
    assert info.value.source == name


def test_a_fetch_minimum_over_one_mebibyte_is_refused() -> None:
    assert Settings().fetch_min_bytes == 65536
    assert Settings.from_env({"VOCWATCH_FETCH_MIN_BYTES": "1"}).fetch_min_bytes == 1
    with pytest.raises(ConfigError, match="at most 1048576") as info:
        Settings.from_env({"VOCWATCH_FETCH_MIN_BYTES": str(2 << 20)})
    assert info.value.source == "VOCWATCH_FETCH_MIN_BYTES"


def test_a_fetch_wait_over_five_seconds_is_refused() -> None:
    assert Settings.from_env({"VOCWATCH_FETCH_WAIT_SECONDS": "5"}).fetch_wait_seconds == 5.0
    with pytest.raises(ConfigError, match="at most 5") as info:
        Settings.from_env({"VOCWATCH_FETCH_WAIT_SECONDS": "5.5"})
    assert info.value.source == "VOCWATCH_FETCH_WAIT_SECONDS"


@pytest.mark.parametrize("port", ["0", "65536", "-80"])
def test_web_port_must_be_a_tcp_port(port: str) -> None:
    with pytest.raises(ConfigError, match="TCP port") as info:
        Settings.from_env({"VOCWATCH_WEB_PORT": port})
    assert info.value.source == "VOCWATCH_WEB_PORT"


@pytest.mark.parametrize("port", ["1", "65535"])
def test_web_port_limits(port: str) -> None:
    assert Settings.from_env({"VOCWATCH_WEB_PORT": port}).web_port == int(port)


@pytest.mark.parametrize("url", ["http://cache:6379", "cache:6379", ""])
def test_redis_url_scheme(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VOCWATCH_REDIS_URL": url})
    assert info.value.source == "VOCWATCH_REDIS_URL"


@pytest.mark.parametrize("url", ["redis://h:1/0", "rediss://h:1", "unix:///tmp/redis.sock"])
def test_redis_url_accepted(url: str) -> None:
    assert Settings.from_env({"VOCWATCH_REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize("url", ["kafka://", "", "kafka://localhost", "a:1,b", " , "])
def test_invalid_broker_url(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VOCWATCH_BROKER_URL": url})
    assert info.value.source == "VOCWATCH_BROKER_URL"


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("kafka://127.0.0.1:9092", ["127.0.0.1:9092"]),
        ("kafka://a:9092;b:9093", ["a:9092", "b:9093"]),
        ("a:9092,b:9093", ["a:9092", "b:9093"]),
        ("kafka://a:9092,b:9093;c:9094", ["a:9092", "b:9093", "c:9094"]),
        (" a:9092 ; b:9093 ;", ["a:9092", "b:9093"]),
        ("broker.internal:29092", ["broker.internal:29092"]),
    ],
)
def test_broker_hosts_forms(url: str, hosts: list[str]) -> None:
    assert broker_hosts(url) == hosts
    assert Settings(broker_url=url).bootstrap_servers == hosts


def test_derived_topic_names() -> None:
    settings = Settings.from_env({"VOCWATCH_TOPIC_PREFIX": "acme.voc."})
    assert settings.complaints_topic == "acme.voc.complaints"
    assert settings.calls_topic == "acme.voc.calls"
    assert settings.social_topic == "acme.voc.social"
    assert settings.surveys_topic == "acme.voc.surveys"
    assert settings.scored_topic == "acme.voc.scored"
    assert settings.deadletter_topic == "acme.voc.deadletter"
    assert settings.alerts_topic == "acme.voc.alerts"
    assert settings.input_topics == {
        "complaint": "acme.voc.complaints",
        "call": "acme.voc.calls",
        "social": "acme.voc.social",
        "survey": "acme.voc.surveys",
    }
    assert settings.all_topics == [
        "acme.voc.complaints",
        "acme.voc.calls",
        "acme.voc.social",
        "acme.voc.surveys",
        "acme.voc.scored",
        "acme.voc.deadletter",
        "acme.voc.alerts",
    ]


def test_default_topic_names_are_distinct() -> None:
    topics = Settings().all_topics
    assert topics[0] == "vocwatch.complaints"
    assert len(set(topics)) == len(topics) == 7


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().partitions = 9  # type: ignore[misc]


def test_config_error_message_forms() -> None:
    assert str(ConfigError("bad", source="f.yaml", field="x")) == "f.yaml: x: bad"
    assert str(ConfigError("bad", source="f.yaml")) == "f.yaml: bad"
    assert str(ConfigError("bad")) == "bad"


def test_text_analysis_policy_files(tmp_path: Path) -> None:
    from classifiers import polarity, priority

    settings = Settings.from_env({})
    # The defaults are the packaged files the classifiers load without settings.
    assert settings.priority_file == priority.DEFAULT_POLICY_FILE
    assert settings.polarity_file == polarity.DEFAULT_POLARITY_FILE
    assert settings.priority_file.is_file() and settings.polarity_file.is_file()
    settings = Settings.from_env(
        {
            "VOCWATCH_PRIORITY_FILE": str(tmp_path / "p.yaml"),
            "VOCWATCH_POLARITY_FILE": str(tmp_path / "q.yaml"),
        }
    )
    assert settings.priority_file == tmp_path / "p.yaml"
    assert settings.polarity_file == tmp_path / "q.yaml"


def test_text_models(tmp_path: Path) -> None:
    from classifiers import analyze
    from vocwatch import settings as settings_module

    settings = Settings.from_env({})
    assert (settings.sentiment_model, settings.model_dir) == ("vocwatch", None)
    assert Settings.from_env({"VOCWATCH_MODEL_DIR": ""}).model_dir is None
    chosen = Settings.from_env(
        {"VOCWATCH_MODEL_DIR": str(tmp_path), "VOCWATCH_SENTIMENT_MODEL": "snownlp"}
    )
    assert (chosen.sentiment_model, chosen.model_dir) == ("snownlp", tmp_path)
    # the settings allow what the analyzer takes
    assert settings_module.SENTIMENT_MODELS == analyze.SENTIMENT_MODELS
    with pytest.raises(ConfigError, match="VOCWATCH_SENTIMENT_MODEL: must be one of vocwatch"):
        Settings.from_env({"VOCWATCH_SENTIMENT_MODEL": "vocwatch-linear"})  # the old name


def test_metric_label_lists_are_comma_separated_and_deduplicated() -> None:
    settings = Settings.from_env(
        {"VOCWATCH_METRIC_PRODUCTS": " 手表 ,耳机,,手表", "VOCWATCH_METRIC_REGIONS": ""}
    )
    assert settings.metric_products == ("手表", "耳机")
    assert settings.metric_regions == ()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 — classified, never bound
        ("::", False),
        ("192.168.1.20", False),
        ("worker.internal", False),  # a name may resolve to anything
    ],
)
def test_web_loopback_is_true_only_for_loopback_addresses(host: str, loopback: bool) -> None:
    assert Settings(web_host=host).web_loopback is loopback
