"""The monitoring files, checked without Prometheus, Grafana or Docker: the metrics configuration
that every launcher ships, the scrape targets against the compose services, and every metric name
the dashboard queries against what the job's source and Spark export."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from stream_processor.operations import metrics
from stream_processor.records import Reason
from tests.static.test_deploy_files import COMPOSE, ROOT, command_of, env_of, load_yaml, properties, submit

pytestmark = pytest.mark.unit

MONITORING = ROOT / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "stream-processor.json"
METRICS_CONF = ROOT / "conf" / "metrics.properties"
# Spark's own metrics the dashboard may use (the driver's /metrics/executors/prometheus);
# tests/cluster/test_job_on_cluster.py finds each of them in a real scrape.
SPARK_METRICS = {"metrics_executor_activeTasks"}


def job_metric_names() -> set[str]:
    names = {metrics.prometheus_name(c, "counter") for c in metrics.COUNTERS}
    names |= {metrics.prometheus_name(g, "gauge") for g in metrics.GAUGES}
    names |= {metrics.prometheus_name(metrics.PARTITION_LAG.format(p), "gauge") for p in range(3)}
    return names


def dashboard_selectors() -> list[tuple[str, str]]:
    """(panel title, metric name or `~regex`) for every metric every query of the dashboard names."""
    found = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            regexes = re.findall(r'__name__=~"([^"]+)"', expr)
            found += [(panel["title"], "~" + r) for r in regexes]
            bare = re.sub(r'"[^"]*"', '""', expr)  # names inside label_replace strings are not queried
            found += [(panel["title"], name) for name in re.findall(r"\bmetrics_[A-Za-z0-9_]+", bare)]
    return found


# ---- the metrics configuration ---------------------------------------------------------------


def test_metrics_properties_turn_on_prometheus_for_every_instance():
    conf = properties(METRICS_CONF, "=")
    assert conf["*.sink.prometheusServlet.class"] == "org.apache.spark.metrics.sink.PrometheusServlet"
    assert conf["*.sink.prometheusServlet.path"] == "/metrics/prometheus"
    assert conf["master.sink.prometheusServlet.path"] == "/metrics/master/prometheus"
    assert conf["applications.sink.prometheusServlet.path"] == "/metrics/applications/prometheus"


def test_spark_defaults_fix_the_namespace_the_names_are_built_with():
    conf = properties(ROOT / "conf" / "spark-defaults.conf", " ")
    assert conf["spark.metrics.namespace"] == metrics.NAMESPACE
    assert conf["spark.ui.prometheus.enabled"] == "true"


def test_every_launcher_ships_the_metrics_configuration(tmp_path):
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "bridge.jar").write_bytes(b"")
    cmd = shlex.split(submit("--dry-run", env={"STREAM_PROCESSOR_JARS": str(jars)}).stdout)
    confs = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--conf"]
    assert f"spark.metrics.conf={METRICS_CONF}" in confs
    script = (ROOT / "scripts" / "local-cluster.sh").read_text()
    assert '-Dspark.metrics.conf=$ROOT/conf/metrics.properties' in script
    assert re.search(r"SPARK_MASTER_OPTS=.*\$METRICS_CONF", script) and re.search(r"SPARK_WORKER_OPTS=.*\$METRICS_CONF", script)
    services = load_yaml(COMPOSE)["services"]
    master = services["spark-master"]
    assert "-Dspark.metrics.conf=/opt/spark/conf/metrics.properties" in env_of(master)["SPARK_MASTER_OPTS"]
    assert "./conf/metrics.properties:/opt/spark/conf/metrics.properties:ro" in master["volumes"]
    for worker in ("spark-worker-1", "spark-worker-2"):
        # the image copies conf/ to /app/conf (Dockerfile)
        assert "-Dspark.metrics.conf=/app/conf/metrics.properties" in env_of(services[worker])["SPARK_WORKER_OPTS"]


# ---- Prometheus and Grafana in compose ---------------------------------------------------------


def test_monitoring_profile_runs_the_official_images_with_our_files():
    services = load_yaml(COMPOSE)["services"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", services["prometheus"]["image"])
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", services["grafana"]["image"])
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert mounts["/var/lib/grafana/dashboards"] == "./monitoring/grafana/dashboards"
    provider = load_yaml(MONITORING / "grafana" / "provisioning" / "dashboards" / "stream-processor.yml")
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert env_of(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == \
        "/var/lib/grafana/dashboards/" + DASHBOARD.name
    assert "--config.file=/etc/prometheus/prometheus.yml" in command_of(services["prometheus"])


def test_prometheus_scrapes_each_spark_ui_on_its_servlet_path():
    services = load_yaml(COMPOSE)["services"]
    ui_port = {name: int(str(p).split(":")[-1]) for name, svc in services.items() for p in svc.get("ports") or []}
    conf = properties(METRICS_CONF, "=")
    paths = {"stream-processor": {conf["*.sink.prometheusServlet.path"], "/metrics/executors/prometheus"},
             "spark-master": {conf["master.sink.prometheusServlet.path"], conf["applications.sink.prometheusServlet.path"]},
             "spark-worker-1": {conf["*.sink.prometheusServlet.path"]},
             "spark-worker-2": {conf["*.sink.prometheusServlet.path"]}}
    scraped: dict[str, set] = {}
    for job in load_yaml(MONITORING / "prometheus.yml")["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.split(":")
                assert host in services, f"{job['job_name']} scrapes {host}, not a compose service"
                assert int(port) == ui_port[host], f"{target}: {host}'s web UI is on {ui_port[host]}"
                assert job["metrics_path"] in paths[host], f"{target} has no {job['metrics_path']}"
                scraped.setdefault(host, set()).add(job["metrics_path"])
    assert scraped == paths


def test_grafana_datasource_is_the_one_the_dashboard_uses():
    source = load_yaml(MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]


# ---- the dashboard -----------------------------------------------------------------------------


def test_dashboard_panels_are_laid_out_and_complete():
    board = json.loads(DASHBOARD.read_text())
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for p in panels:
        assert p["targets"] and p["description"], p["title"]
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{p['title']} overlaps another panel"
        cells |= area
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ("lag", "processing time", "scheduling delay", "kept vs rejected", "by reason", "crops",
                  "dead letters", "enrollment"):
        assert topic in titles, f"no panel shows {topic}"


def test_every_metric_the_dashboard_queries_is_exported():
    known = job_metric_names() | SPARK_METRICS
    selectors = dashboard_selectors()
    assert selectors
    for title, selector in selectors:
        if selector.startswith("~"):
            assert any(re.fullmatch(selector[1:], name) for name in known), f"{title}: {selector} matches nothing"
        else:
            assert selector in known, f"{title}: {selector} is exported neither by the job nor by Spark"


def test_rejected_by_reason_covers_every_reason_and_nothing_else():
    [(_, selector)] = [s for s in dashboard_selectors() if "by reason" in s[0]]
    matched = {name for name in job_metric_names() if re.fullmatch(selector[1:], name)}
    assert matched == {metrics.prometheus_name(f"rejected.{r.value}", "counter") for r in Reason}


def test_metric_names_the_operating_page_lists_are_the_job_s():
    page = (ROOT / "docs" / "operating.md").read_text()
    for name in metrics.COUNTERS + metrics.GAUGES:
        if not name.startswith("rejected."):
            assert f"`{name}`" in page, f"docs/operating.md does not list {name}"
