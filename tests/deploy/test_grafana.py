"""The shipped Grafana dashboard works wherever it is loaded (imported or provisioned) and with any number of
replicas: its data source is a variable, its panels filter by network and account, what every replica reads from
the database is taken once (`max by`), what each counts itself is summed, and every metric it names is one
replywatch exports. The provisioning files and deploy/compose.monitoring.yml put it and Prometheus in place."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import Metric

from bot.clock import FakeClock
from bot.metrics.collector import StoreCollector, Watch
from bot.metrics.instruments import Metrics
from bot.model import AccountKey, Network, Read
from bot.store.repository import Store
from tests.conftest import policy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "replywatch-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _targets() -> list[dict]:
    return [t for p in _dashboard()["panels"] for t in p["targets"]]


def _names(family: Metric) -> set[str]:
    return {family.name + s for s in SUFFIXES.get(family.type, ("",))}


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, set[str]]]:
    """Every metric replywatch exports, as a real scrape sees them: name → (where it comes from: `store` or
    `process`, its labels). The process's from bot.metrics.instruments' registry, the store's from the collector that /metrics
    registers, over a real SQLite file holding an account with a read."""
    from bot.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db')}/replywatch.db")
    upgrade(engine)
    store = Store(engine)
    where = AccountKey(Network.X, "acme")
    with store.unit() as repo:
        repo.add_reads(where, [Read("mentions", requests=1, posts=2)], NOW.date())
    metrics = Metrics()
    metrics.api_errors.labels("x", "acme", "AuthFailed")  # a child each, so that a scrape shows their labels
    metrics.rate_remaining.labels("x", "acme", "mentions")
    metrics.poll_seconds.labels("x", "acme")
    found: dict[str, tuple[str, set[str]]] = {}
    for family in metrics.registry.collect():
        for name in _names(family):
            found[name] = ("process", {k for s in family.samples for k in s.labels} - {"le"})
    watch = Watch(store, FakeClock(NOW), {where: timedelta(minutes=30)}, timedelta(minutes=1), timedelta(seconds=5), NOW, policy())
    for family in StoreCollector(watch).collect():
        for name in _names(family):
            found[name] = ("store", {k for s in family.samples for k in s.labels})
    store.dispose()
    return found


def test_no_import_only_placeholder_is_left() -> None:
    text = DASHBOARD.read_text()
    assert "${DS_PROMETHEUS}" not in text
    assert "__inputs" not in _dashboard(), "provisioning reads the file as it is: nothing may wait to be filled in"


def test_the_data_source_is_a_variable_every_panel_and_query_uses() -> None:
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    everything = [*_dashboard()["panels"], *_targets(), variables["network"], variables["account"]]
    assert {json.dumps(x["datasource"], sort_keys=True) for x in everything} == {'{"type": "prometheus", "uid": "${datasource}"}'}


def test_network_and_account_are_chosen_from_what_prometheus_has() -> None:
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    network, account = variables["network"], variables["account"]
    assert (network["type"], account["type"]) == ("query", "query")
    assert re.fullmatch(r"label_values\(replywatch_\w+, network\)", network["query"]["query"])
    assert re.fullmatch(r'label_values\(replywatch_\w+\{network=~"\$network"\}, account\)', account["query"]["query"])
    for variable in (network, account):
        assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"


def test_every_metric_the_dashboard_names_is_one_replywatch_exports(families: dict) -> None:
    named = {name for t in _targets() for name in re.findall(r"\breplywatch_[a-z_]+", t["expr"])}
    assert named - families.keys() == set()
    assert {"replywatch_overdue_mentions", "replywatch_token_refused"} <= named


def test_every_query_filters_by_the_chosen_network_and_account(families: dict) -> None:
    for target in _targets():
        for name, selector in re.findall(r"\b(replywatch_[a-z_]+)(\{[^}]*\})?", target["expr"]):
            if {"network", "account"} <= families[name][1]:
                assert selector == '{network=~"$network", account=~"$account"}', target["expr"]


def test_what_the_database_says_is_taken_once_and_what_each_replica_counts_is_summed(families: dict) -> None:
    """Two replicas report the same store figures: summed they would double. Each counts its own requests to the
    networks, polls and acknowledgements: those add up."""
    store_named = process_named = 0
    for target in _targets():
        expr = target["expr"]
        for match in re.finditer(r"\b(replywatch_[a-z_]+)", expr):
            source, labels = families[match[1]]
            before = expr[: match.start()]
            if source == "store":
                store_named += 1
                by = re.search(r"max(?: by \(([^)]*)\) )?\((?:(?:increase|delta)\()?$", before)  # delta: of a gauge
                assert by is not None, f"{match[1]} not directly under max: {expr}"
                assert {"network", "account"} & labels <= set(re.split(r",\s*", by[1] or "")), expr
            elif match[1].endswith(("_total", "_bucket", "_sum", "_count")):
                process_named += 1
                assert re.search(r"sum(?: by \([^)]*\) )?\((?:rate|increase)\($", before), f"{match[1]} not summed: {expr}"
    assert store_named >= 10 and process_named >= 5


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.monitoring.yml").read_text())


def _mounts(service: str) -> dict[str, Path]:
    """Where each file or folder the service mounts from the repository lands in its container."""
    found = {}
    for volume in _compose()["services"][service]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), volume
            found[target] = (DEPLOY / source).resolve()
    return found


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus() -> None:
    mounts = _mounts("grafana")
    dashboards = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/replywatch.yml").read_text())
    [provider] = dashboards["providers"]
    assert provider["type"] == "file"
    shown = [target for target, source in mounts.items() if source == DASHBOARD]
    assert [str(Path(t).parent) for t in shown] == [provider["options"]["path"]], "the provider reads the folder the JSON is in"
    for kind in ("dashboards", "datasources"):
        assert mounts[f"/etc/grafana/provisioning/{kind}"] == DEPLOY / "grafana" / "provisioning" / kind
    [source] = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    host = re.fullmatch(r"http://([\w-]+):9090", source["url"])
    assert host and host[1] in _compose()["services"], "the data source is the Prometheus service beside it"


def test_prometheus_runs_the_shipped_rules_and_scrapes_every_replica() -> None:
    mounts = _mounts("prometheus")
    assert mounts["/etc/prometheus/prometheus.yml"] == DEPLOY / "prometheus" / "prometheus.yml"
    assert mounts["/etc/prometheus/replywatch-rules.yml"] == DEPLOY / "prometheus" / "replywatch-rules.yml"
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["replywatch-rules.yml"]  # beside prometheus.yml, in the container as here
    [job] = config["scrape_configs"]
    [sd] = job["dns_sd_configs"]
    assert sd["names"] == ["replywatch"], "every container of the service replywatch (deploy/compose.replicas.yml)"
    assert str(sd["port"]) == _compose()["services"]["replywatch"]["environment"]["METRICS_PORT"]
    replicas = yaml.safe_load((DEPLOY / "compose.replicas.yml").read_text())
    assert "replywatch" in replicas["services"]
