#!/usr/bin/env python3
"""Writes kotel's Grafana dashboards (dashboards/*.json) from the definitions below.

Standard library only. Run from anywhere:

    python3 dashboards/generate.py            # rewrites dashboards/kotel-*.json
    python3 dashboards/generate.py --out DIR  # writes them to DIR instead

The JSON is the classic dashboard model at schemaVersion 41 (Grafana 11.6 to 12.1;
later versions migrate it on load). tests/tests/dashboards.rs regenerates the files and
fails when the committed ones differ, checks every metric name against what kotel
emits, and type-checks the JSON against Grafana's published schema types.

Metric names are the Prometheus forms of kotel's OpenTelemetry names, as kotel's own
`prometheus` exporter serves them (README "Export"): `.` -> `_`, unit suffix (`s` ->
`_seconds`, `By` -> `_bytes`, `{...}` dropped), `_total` on counters, histograms as
`_bucket`/`_sum`/`_count` with `le`. Exponential histograms (RTT, connect latency) are
queried in both of Prometheus's storage forms: classic `le` buckets and native histograms.
"""

import argparse
import json
import os
import sys

SCHEMA_VERSION = 41

PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}
LOKI = {"type": "loki", "uid": "${loki_datasource}"}

# Labels of the workload attributes (`aggregate.attributes` by default).
NS = "k8s_namespace_name"
POD = "k8s_pod_name"

# Loki: kotel's logs arrive over OTLP (through an OpenTelemetry Collector or straight to
# Loki's OTLP endpoint). The resource's service.name=kotel is the stream label
# `service_name`; the record's event_name and attributes (k8s.namespace.name,
# k8s.pod.name, file.path, process.executable.path, ...) are structured metadata.
LOKI_STREAM = '{service_name="kotel"}'


# --- PromQL helpers -------------------------------------------------------------------


def workload_selector(metric, extra=""):
    """`metric{namespace and pod matchers[, extra]}`."""
    matchers = NS + '=~"$namespace", ' + POD + '=~"$pod"'
    if extra:
        matchers += ", " + extra
    return metric + "{" + matchers + "}"


def agent_selector(metric, extra=""):
    """`metric{instance matcher[, extra]}` for kotel's own metrics."""
    matchers = 'instance=~"$instance"'
    if extra:
        matchers += ", " + extra
    return metric + "{" + matchers + "}"


def rate(selector, window="$__rate_interval"):
    return "rate(" + selector + "[" + window + "])"


def increase(selector, window):
    return "increase(" + selector + "[" + window + "])"


def sum_by(labels, expr):
    if not labels:
        return "sum(" + expr + ")"
    return "sum by (" + ", ".join(labels) + ") (" + expr + ")"


def node_pod(expr):
    """Names the series of node processes (no pod) `(node)` instead of an empty label."""
    return 'label_replace(' + expr + ', "' + POD + '", "(node)", "' + POD + '", "")'


def quantile(q, metric, by, native):
    """The q-quantile by `by` of histogram `metric` over the selected pods. An
    exponential histogram (`native`) is stored as classic `le` buckets by a Prometheus
    that scrapes the text format, and as a native histogram (no `_bucket` series) by one
    that scrapes protobuf or receives OTLP: the query reads both forms, and `or` keeps
    whichever exists."""
    classic = (
        "histogram_quantile(" + q + ", "
        + sum_by(["le"] + by, rate(workload_selector(metric + "_bucket"))) + ")"
    )
    if not native:
        return classic
    return (
        classic + " or histogram_quantile(" + q + ", "
        + sum_by(by, rate(workload_selector(metric))) + ")"
    )


def distribution(metric, native):
    """Samples per second by bucket of histogram `metric` over the selected pods, in
    both storage forms for an exponential one (see `quantile`)."""
    classic = sum_by(["le"], rate(workload_selector(metric + "_bucket")))
    if not native:
        return classic
    return classic + " or " + sum_by([], rate(workload_selector(metric)))


POD_LEGEND = "{{" + NS + "}}/{{" + POD + "}}"


def per_pod(metric, extra=(), counter=True):
    """`metric` of the selected pods summed by namespace, pod and `extra` labels (as a
    rate for counters), node processes named `(node)`."""
    selector = workload_selector(metric)
    return node_pod(sum_by([NS, POD] + list(extra), rate(selector) if counter else selector))


# --- panel builders -------------------------------------------------------------------


class Layout:
    """Places panels left to right, top to bottom, on Grafana's 24-column grid, and
    numbers them."""

    def __init__(self):
        self.panels = []
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def _id(self):
        value = self.next_id
        self.next_id += 1
        return value

    def row(self, title):
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def add(self, panel, w, h):
        if self.x + w > 24:
            self._newline()
        ordered = {"type": panel.pop("type"), "id": self._id(), "title": panel.pop("title")}
        ordered["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        ordered.update(panel)
        self.panels.append(ordered)
        self.x += w
        self.row_height = max(self.row_height, h)

    def _newline(self):
        if self.x > 0:
            self.y += self.row_height
        self.x = 0
        self.row_height = 0


def prom_target(ref, expr, legend="", fmt="time_series", instant=False, exemplar=False):
    """A Prometheus query; `exemplar` also fetches the exemplars of the series it reads
    (the trace ids kotel attaches to request buckets), which Grafana draws as points that
    open the trace."""
    target = {
        "refId": ref,
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "format": fmt,
    }
    if exemplar:
        target["exemplar"] = True
    return target


def loki_target(ref, expr, legend="", instant=False, max_lines=None):
    target = {
        "refId": ref,
        "datasource": LOKI,
        "editorMode": "code",
        "expr": expr,
        "queryType": "instant" if instant else "range",
    }
    if legend:
        target["legendFormat"] = legend
    if max_lines is not None:
        target["maxLines"] = max_lines
    return target


def refs(exprs_and_legends, datasource="prometheus"):
    targets = []
    for i, (expr, legend) in enumerate(exprs_and_legends):
        ref = chr(ord("A") + i)
        if datasource == "prometheus":
            targets.append(prom_target(ref, expr, legend))
        else:
            targets.append(loki_target(ref, expr, legend))
    return targets


def thresholds(*steps):
    """steps: (color, value) pairs after the base color green."""
    out = [{"color": "green", "value": None}]
    out += [{"color": color, "value": value} for color, value in steps]
    return {"mode": "absolute", "steps": out}


def timeseries(title, description, targets, unit, datasource=PROMETHEUS, stack=False,
               min_zero=True, legend_table=False):
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineInterpolation": "linear",
            "lineWidth": 1,
            "fillOpacity": 20 if stack else 10,
            "gradientMode": "none",
            "showPoints": "never",
            "spanNulls": False,
            "axisPlacement": "auto",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
        "thresholds": thresholds(),
    }
    if min_zero:
        defaults["min"] = 0
    legend = {
        "showLegend": True,
        "displayMode": "table" if legend_table else "list",
        "placement": "bottom",
        "calcs": ["mean", "max"] if legend_table else [],
    }
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": legend,
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def heatmap(title, description, metric, unit, native, exemplar=False):
    expr = distribution(metric, native)
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": [prom_target("A", expr, "{{le}}", fmt="heatmap", exemplar=exemplar)],
        "fieldConfig": {
            "defaults": {
                "custom": {
                    "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                    "scaleDistribution": {"type": "linear"},
                }
            },
            "overrides": [],
        },
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {
                "mode": "scheme",
                "scheme": "Oranges",
                "scale": "exponential",
                "exponent": 0.5,
                "fill": "dark-orange",
                "reverse": False,
                "steps": 64,
            },
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
            "filterValues": {"le": 1e-9},
            "legend": {"show": True},
            "rowsFrame": {"layout": "auto"},
            "showValue": "never",
            "tooltip": {"mode": "single", "showColorScale": False, "yHistogram": True},
            "yAxis": {"axisPlacement": "left", "unit": unit, "reverse": False},
            "cellValues": {"unit": "short"},
        },
    }


def stat(title, description, expr, unit, steps=(), datasource=PROMETHEUS):
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": [prom_target("A", expr)],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "thresholds"},
                "thresholds": thresholds(*steps),
            },
            "overrides": [],
        },
        "options": {
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "percentChangeColorMode": "standard",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": "auto",
            "wideLayout": True,
        },
    }


def table(title, description, target, unit, rename, datasource=PROMETHEUS):
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": [target],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "thresholds"},
                "thresholds": thresholds(),
                "custom": {
                    "align": "auto",
                    "cellOptions": {"type": "auto"},
                    "inspect": False,
                },
            },
            "overrides": [],
        },
        "options": {
            "showHeader": True,
            "cellHeight": "sm",
            "frameIndex": 0,
            "footer": {"show": False, "reducer": ["sum"], "countRows": False},
            "sortBy": [{"displayName": rename.get("Value", "Value"), "desc": True}],
        },
        "transformations": [
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {},
                    "renameByName": rename,
                },
            }
        ],
    }


def logs(title, description, expr):
    return {
        "type": "logs",
        "title": title,
        "description": description,
        "datasource": LOKI,
        "targets": [loki_target("A", expr, max_lines=1000)],
        "options": {
            "dedupStrategy": "none",
            "enableLogDetails": True,
            "prettifyLogMessage": False,
            "showCommonLabels": False,
            "showLabels": False,
            "showLogContextToggle": False,
            "showTime": True,
            "sortOrder": "Descending",
            "wrapLogMessage": True,
        },
    }


# --- variables ------------------------------------------------------------------------


def datasource_variable(name, label, plugin):
    return {
        "name": name,
        "label": label,
        "type": "datasource",
        "query": plugin,
        "regex": "",
        "refresh": 1,
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "skipUrlSync": False,
    }


def query_variable(name, label, query, description):
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": PROMETHEUS,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "regex": "",
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "skipUrlSync": False,
    }


# The metric whose label values list the namespaces and pods: every workload that opened
# or accepted a TCP connection in the time range.
VARIABLE_METRIC = "tcp_connection_opened_total"

NAMESPACE_VARIABLE = query_variable(
    "namespace",
    "Namespace",
    "label_values(" + VARIABLE_METRIC + ", " + NS + ")",
    "Namespaces of pods that opened or accepted TCP connections in the time range "
    "(All also includes node processes, which have no namespace).",
)
POD_VARIABLE = query_variable(
    "pod",
    "Pod",
    "label_values(" + VARIABLE_METRIC + "{" + NS + '=~"$namespace"}, ' + POD + ")",
    "Pods of the selected namespaces that opened or accepted TCP connections in the "
    "time range.",
)
INSTANCE_VARIABLE = query_variable(
    "instance",
    "Agent",
    "label_values(kotel_component_events_received_total, instance)",
    "kotel agents (the Prometheus scrape target, one per node).",
)


def dashboard(uid, title, description, variables, panels):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["kotel"],
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "weekStart": "",
        "annotations": {"list": []},
        "links": [
            {
                "title": "kotel dashboards",
                "type": "dashboards",
                "tags": ["kotel"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": variables},
        "panels": panels,
    }


# --- the dashboards -------------------------------------------------------------------


def latency_row(layout, what, metric, help_text):
    """A heatmap and per-pod quantiles of exponential histogram `metric`."""
    layout.row(what)
    layout.add(
        heatmap(
            what + ": distribution",
            help_text + " Samples per second in each bucket, all selected pods together.",
            metric,
            "s",
            native=True,
        ),
        10,
        9,
    )
    layout.add(
        timeseries(
            what + " by pod: p50, p90, p99",
            help_text + " Quantiles per pod from the histogram buckets "
            "(histogram_quantile over the rate of buckets by le and pod).",
            [
                prom_target(
                    ref, node_pod(quantile(q, metric, [NS, POD], native=True)), POD_LEGEND + " " + name
                )
                for ref, q, name in (("A", "0.5", "p50"), ("B", "0.9", "p90"), ("C", "0.99", "p99"))
            ],
            "s",
            legend_table=True,
        ),
        14,
        9,
    )


def network_dashboard():
    by_pod = [NS, POD]
    layout = Layout()
    layout.row("Overview")
    layout.add(
        stat(
            "Connections opened",
            "TCP connections established per second (connects and accepts).",
            sum_by([], rate(workload_selector("tcp_connection_opened_total"))),
            "cps",
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Failed connects",
            "TCP connects per second that never reached ESTABLISHED.",
            sum_by([], rate(workload_selector("tcp_connection_failed_total"))),
            "cps",
            steps=(("orange", 1),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Open connections",
            "Connections opened minus closed since each agent started (connections older "
            "than the agent are not counted).",
            sum_by([], workload_selector("tcp_connection_open")),
            "short",
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "RTT p99",
            "99th percentile of smoothed RTT samples of the selected pods.",
            quantile("0.99", "tcp_rtt_seconds", [], native=True),
            "s",
            steps=(("orange", 0.05), ("red", 0.2)),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Retransmits",
            "Retransmitted TCP segments per second.",
            sum_by([], rate(workload_selector("tcp_retransmits_total"))),
            "pps",
            steps=(("orange", 1),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Resets",
            "TCP resets sent and received per second.",
            sum_by([], rate(workload_selector("tcp_resets_total"))),
            "pps",
            steps=(("orange", 1),),
        ),
        4,
        4,
    )

    latency_row(
        layout,
        "Round-trip time",
        "tcp_rtt_seconds",
        "Smoothed RTT of the pods' established connections, sampled by the kernel at each "
        "RTT update (tcp.rtt).",
    )
    latency_row(
        layout,
        "Connect latency",
        "tcp_connect_duration_seconds",
        "Time from SYN sent to ESTABLISHED of the pods' outbound connects, measured in "
        "the kernel (tcp.connect.duration).",
    )

    layout.row("Connections")
    layout.add(
        timeseries(
            "Opened by pod and direction",
            "Connections established per second: outbound = connect, inbound = accept.",
            refs([(per_pod("tcp_connection_opened_total", ["direction"]), POD_LEGEND + " {{direction}}")]),
            "cps",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Closed by pod and direction",
            "Connections closed per second.",
            refs([(per_pod("tcp_connection_closed_total", ["direction"]), POD_LEGEND + " {{direction}}")]),
            "cps",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Failed connects by pod",
            "Connects per second that died in SYN_SENT or SYN_RECV (refused, unreachable, "
            "timed out).",
            refs([(per_pod("tcp_connection_failed_total"), POD_LEGEND)]),
            "cps",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Open connections by pod and direction",
            "Opened minus closed since the agent started (tcp.connection.open).",
            refs([(per_pod("tcp_connection_open", ["direction"], counter=False),
                   POD_LEGEND + " {{direction}}")]),
            "short",
        ),
        8,
        8,
    )
    duration = "tcp_connection_duration_seconds"
    layout.add(
        timeseries(
            "Connection lifetime by pod: p50, p99",
            "How long closed connections lived, from ESTABLISHED to CLOSE "
            "(tcp.connection.duration).",
            [
                prom_target("A", node_pod(quantile("0.5", duration, by_pod, native=False)), POD_LEGEND + " p50"),
                prom_target("B", node_pod(quantile("0.99", duration, by_pod, native=False)), POD_LEGEND + " p99"),
            ],
            "s",
        ),
        8,
        8,
    )

    layout.row("Retransmits and resets")
    layout.add(
        timeseries(
            "Retransmitted segments by pod",
            "TCP segments retransmitted per second (tcp.retransmits).",
            refs([(per_pod("tcp_retransmits_total"), POD_LEGEND)]),
            "pps",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Resets by pod and direction",
            "TCP resets per second, sent and received (tcp.resets).",
            refs([(per_pod("tcp_resets_total", ["direction"]), POD_LEGEND + " {{direction}}")]),
            "pps",
        ),
        12,
        8,
    )

    layout.row("Traffic: top talkers")
    io_labels = by_pod + ["network_io_direction"]
    io_bytes = workload_selector("tcp_connection_io_bytes_total")
    layout.add(
        timeseries(
            "Top 10 talkers: bytes per second by pod and direction",
            "Bytes sent (transmit) and received (receive), top 10 series at each step. "
            "kotel counts a connection's bytes when it closes, so long-lived connections "
            "show up at their end.",
            refs([(node_pod("topk(10, " + sum_by(io_labels, rate(io_bytes)) + ")"),
                   POD_LEGEND + " {{network_io_direction}}")]),
            "Bps",
            legend_table=True,
        ),
        14,
        10,
    )
    layout.add(
        table(
            "Top 10 talkers over the time range",
            "Bytes per pod and direction over the dashboard's time range (connections "
            "closed within it).",
            prom_target(
                "A",
                node_pod("topk(10, " + sum_by(io_labels, increase(io_bytes, "$__range")) + ")"),
                fmt="table",
                instant=True,
            ),
            "decbytes",
            {NS: "namespace", POD: "pod", "network_io_direction": "direction", "Value": "bytes"},
        ),
        10,
        10,
    )
    return dashboard(
        "kotel-network",
        "kotel / TCP by pod",
        "TCP connections of every pod as kotel sees them in the kernel: RTT and connect "
        "latency, connection rates and failures, retransmits and resets, top talkers.",
        [
            datasource_variable("datasource", "Prometheus", "prometheus"),
            NAMESPACE_VARIABLE,
            POD_VARIABLE,
        ],
        layout.panels,
    )


def loki_events(event_name):
    return (
        LOKI_STREAM + ' | event_name="' + event_name + '" | ' + NS + '=~"$namespace" | '
        + POD + '=~"$pod"'
    )


def security_dashboard():
    execs = loki_events("process.exec")
    opens = loki_events("file.open")
    layout = Layout()
    layout.row("Activity")
    layout.add(
        timeseries(
            "Execs by pod",
            "Successful execs per second, from kotel's process.exec log records in Loki.",
            refs([("sum by (" + NS + ", " + POD + ") (rate(" + execs + " [$__auto]))", POD_LEGEND)], "loki"),
            "ops",
            datasource=LOKI,
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Watched-file opens by pod and watched path",
            "Opens of watched files and of what lies below watched directories (the "
            "file_open source's `paths`) per second, by the configured path that matched, "
            "from kotel's file.open log records in Loki.",
            refs([("sum by (" + NS + ", " + POD + ", file_open_watched_path) (rate(" + opens
                   + " [$__auto]))", POD_LEGEND + " {{file_open_watched_path}}")], "loki"),
            "ops",
            datasource=LOKI,
        ),
        12,
        8,
    )
    layout.add(
        table(
            "Fileless and deleted executables",
            "Execs whose executable is not a linked file under the process's root: `memfd` "
            "(memfd_create + exec, a common in-memory malware technique), `deleted` (unlinked "
            "or O_TMPFILE), `detached` (a file of a mount outside the process's root). Any row "
            "deserves a look.",
            loki_target(
                "A",
                "sum by (" + NS + ", " + POD + ", process_executable_path, process_executable_kind) "
                "(count_over_time(" + execs + ' | process_executable_kind=~"memfd|deleted|detached"'
                " [$__range]))",
                instant=True,
            ),
            "short",
            {"process_executable_path": "executable", "process_executable_kind": "kind",
             "Value": "execs"},
            datasource=LOKI,
        ),
        12,
        8,
    )
    layout.add(
        table(
            "Watched files reached by another name",
            "Opens of watched files whose requested path differs from the file's resolved "
            "path (relative paths, symlinks, hard links, `..`, directory descriptors), by "
            "what the process asked for and what it got: worth a look when it is not a "
            "program's usual way in.",
            loki_target(
                "A",
                "topk(20, sum by (file_requested_path, file_path, file_open_match) "
                "(count_over_time(" + opens + ' | file_open_match=~"inode|directory|name"'
                " [$__range])))",
                instant=True,
            ),
            "short",
            {"file_requested_path": "requested", "file_path": "opened",
             "file_open_match": "match", "Value": "opens"},
            datasource=LOKI,
        ),
        12,
        8,
    )
    layout.add(
        table(
            "Most executed programs",
            "Executable paths by number of execs over the time range.",
            loki_target(
                "A",
                "topk(20, sum by (process_executable_path) (count_over_time(" + execs + " [$__range])))",
                instant=True,
            ),
            "short",
            {"process_executable_path": "program", "Value": "execs"},
            datasource=LOKI,
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Kernel side: execs and watched-file opens reported",
            "What the exec and file_open kernel programs emitted per second on the selected "
            "nodes' agents (all pods: namespace and pod filters do not apply).",
            refs([
                (sum_by(["stat"], rate('kotel_source_exec_kernel_events_total{stat=~"emitted|filtered"}')),
                 "exec {{stat}}"),
                (sum_by(["stat"], rate('kotel_source_file_open_kernel_events_total{stat=~"emitted|filtered"}')),
                 "file_open {{stat}}"),
            ]),
            "ops",
        ),
        12,
        8,
    )
    layout.row("Events")
    layout.add(
        logs(
            "Process executions (process.exec)",
            "Every successful exec of the selected pods: the line is kotel's debug line "
            "(pid, ppid, uid, requested path, the executable the kernel ran and its kind, a "
            "script's interpreter, the working directory, argv); open a line for its fields "
            "(process.executable.path, process.executable.kind, process.working_directory, "
            "process.script.*).",
            execs,
        ),
        24,
        12,
    )
    layout.add(
        logs(
            "Opens of watched files (file.open)",
            "Every open of a watched file (or of something below a watched directory) by "
            "the selected pods: the resolved path, the requested path when it differs, the "
            "access mode, the result (errno 0 = success), how it matched and which watched "
            "path; open a line for file.inode and file.device.",
            opens,
        ),
        24,
        10,
    )
    return dashboard(
        "kotel-security",
        "kotel / Process and file events",
        "Execs and opens of watched files, per pod, from kotel's OTLP logs in Loki.",
        [
            datasource_variable("datasource", "Prometheus", "prometheus"),
            datasource_variable("loki_datasource", "Loki", "loki"),
            NAMESPACE_VARIABLE,
            POD_VARIABLE,
        ],
        layout.panels,
    )


# Dropped with these reasons is not a loss: the aggregate processor folds events into
# metrics, the filter processor drops what it was asked to.
NOT_LOST = 'reason!~"aggregated|filtered"'


KERNEL_SOURCES = ("tcp", "exec", "file_open")


def kernel_events(source, matcher, by=()):
    """Rate of the `source` kernel program's `kernel_events` counters matching `matcher`."""
    selector = agent_selector("kotel_source_" + source + "_kernel_events_total", matcher)
    return sum_by(list(by), rate(selector))


def health_dashboard():
    layout = Layout()
    a = agent_selector
    abnormal = 'stat!~"emitted|filtered|wakeup|ringbuf_full|inode_lookups"'
    layout.row("Overview")
    layout.add(
        stat(
            "Agents",
            "kotel agents reporting self-telemetry.",
            "count(" + sum_by(["instance"], a("kotel_component_events_received_total")) + ")",
            "short",
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Events lost",
            "Events dropped per second by any component for a reason other than "
            "aggregation or filtering (queue full, export failed, panic).",
            sum_by([], rate(a("kotel_component_events_dropped_total", NOT_LOST))),
            "ops",
            steps=(("red", 0.001),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Kernel records lost",
            "Records the kernel programs could not reserve in their ring buffers, per second.",
            sum_by([], rate(a("kotel_ebpf_ringbuf_lost_total"))),
            "ops",
            steps=(("red", 0.001),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Decode errors",
            "Kernel records user space could not decode, per second.",
            sum_by([], rate(a("kotel_source_decode_errors_total"))),
            "ops",
            steps=(("red", 0.001),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Kernel programs rejected",
            "Kernel programs the verifier refused at start-up (kotel.source.kernel.rejections). "
            "The source stays stopped until the agent restarts or its pipeline file changes "
            "(except exec, whose classic tracepoint takes over from a refused tp_btf "
            "program); kotel doctor on the node prints the verifier's reason.",
            sum_by([], a("kotel_source_kernel_rejections_total")) + " or vector(0)",
            "short",
            steps=(("red", 1),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "Agents without a runtime",
            "Agents whose k8s_cri processor is not connected to a container runtime "
            "(their events carry node attributes only).",
            "count(" + a("kotel_k8s_cri_connected") + " == 0) or vector(0)",
            "short",
            steps=(("red", 1),),
        ),
        4,
        4,
    )
    layout.add(
        stat(
            "OTLP points and records lost",
            "Data points and log records the otlp exporters dropped per second.",
            sum_by([], rate(a("kotel_exporter_otlp_dropped_total"))),
            "ops",
            steps=(("red", 0.001),),
        ),
        4,
        4,
    )

    layout.row("Pipeline")
    layout.add(
        timeseries(
            "Events lost by component and reason",
            "kotel.component.events.dropped without the aggregated and filtered reasons: "
            "queue_full (a full channel), export_failed, panic.",
            refs([(sum_by(["instance", "component_id", "reason"], rate(a("kotel_component_events_dropped_total", NOT_LOST))),
                   "{{instance}} {{component_id}} {{reason}}")]),
            "ops",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Events received by component",
            "Events each component took in per second (sources: produced).",
            refs([(sum_by(["component_id"], rate(a("kotel_component_events_received_total"))),
                   "{{component_id}}")]),
            "ops",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Channel fill",
            "Batches waiting in each channel between stages, as a fraction of its capacity "
            "(the fullest agent).",
            refs([("max by (channel) (" + a("kotel_channel_depth") + " / " + a("kotel_channel_capacity") + ")",
                   "{{channel}}")]),
            "percentunit",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Component errors and restarts",
            "Runtime failures of components and restarts of failed sources, per second.",
            refs([
                (sum_by(["component_id"], rate(a("kotel_component_errors_total"))), "errors {{component_id}}"),
                (sum_by(["component_id"], rate(a("kotel_component_restarts_total"))), "restarts {{component_id}}"),
            ]),
            "ops",
        ),
        12,
        8,
    )

    layout.row("Kernel programs")
    layout.add(
        timeseries(
            "Records lost in the kernel",
            "Ring buffer reservations that failed (kotel.ebpf.ringbuf.lost) and the kernel "
            "programs' own ringbuf_full counters, per second.",
            refs([
                (sum_by(["source"], rate(a("kotel_ebpf_ringbuf_lost_total"))), "ringbuf lost {{source}}"),
            ] + [
                (kernel_events(source, 'stat="ringbuf_full"'), source + " ringbuf_full")
                for source in KERNEL_SOURCES
            ]),
            "ops",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Kernel-side anomalies",
            "The kernel programs' counters other than emitted, filtered, wakeup, "
            "ringbuf_full and inode_lookups: full maps (owner_map_full, agg_map_full), reads "
            "that failed, events without a known owner, truncated arguments, file opens "
            "whose arguments were lost (args_lost) or whose directories ran deeper than the "
            "walk (walk_deep).",
            refs([
                (kernel_events(source, abnormal, ["stat"]), source + " {{stat}}")
                for source in KERNEL_SOURCES
            ]),
            "ops",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Decode errors by source and reason",
            "Records user space could not decode (truncated, oversized, unknown kind or "
            "family), per second.",
            refs([(sum_by(["source", "reason"], rate(a("kotel_source_decode_errors_total"))), "{{source}} {{reason}}")]),
            "ops",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Kernel events emitted",
            "Records the kernel programs emitted per second, by source.",
            refs([(kernel_events(source, 'stat="emitted"'), source) for source in KERNEL_SOURCES]),
            "ops",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Watched files: inodes and mount namespaces",
            "What the file_open source matches in the kernel: watched inodes by kind (file, "
            "directory, parent = a directory holding a watched file) over every mount "
            "namespace, and the namespaces the watched paths were resolved in.",
            refs([
                (sum_by(["kind"], a("kotel_source_file_open_watched_inodes")), "inodes {{kind}}"),
                ("sum(" + a("kotel_source_file_open_mount_namespaces") + ")", "mount namespaces"),
            ]),
            "short",
        ),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Watched paths that could not be resolved",
            "Parts of watched paths the file_open source could not resolve, per second, by "
            "reason: no_access (in a pod: capabilities.watchContainers is off), map_full, "
            "error. The first of each reason is also logged as a warning.",
            refs([(sum_by(["reason"], rate(a("kotel_source_file_open_resolve_errors_total"))),
                   "{{reason}}")]),
            "ops",
        ),
        12,
        8,
    )

    layout.row("Pod attribution (k8s_cri)")
    layout.add(
        timeseries(
            "Runtime connected",
            "1 while an agent is connected to its node's container runtime, 0 otherwise.",
            refs([("min by (instance) (" + a("kotel_k8s_cri_connected") + ")", "{{instance}}")]),
            "short",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "CRI call failures",
            "CRI calls per second that failed or timed out, by rpc and outcome.",
            refs([(sum_by(["rpc", "outcome"], rate(a("kotel_k8s_cri_calls_total", 'outcome=~"error|timeout"'))),
                   "{{rpc}} {{outcome}}")]),
            "ops",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "CRI mean call latency",
            "Microseconds per CRI call, by rpc (kotel.k8s_cri.call.duration_us / "
            "kotel.k8s_cri.calls).",
            refs([(sum_by(["rpc"], rate(a("kotel_k8s_cri_call_duration_us_total"))) + " / "
                   + sum_by(["rpc"], rate(a("kotel_k8s_cri_calls_total"))), "{{rpc}}")]),
            "µs",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Rejected runtime answers",
            "Answers of the runtime kotel refused to use, per second, by reason.",
            refs([(sum_by(["reason"], rate(a("kotel_k8s_cri_rejected_total"))), "{{reason}}")]),
            "ops",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Lookups by result",
            "Events the k8s_cri processor attributed per second: hit (a container), host, "
            "pending (held while the runtime describes a new container), miss and "
            "no_cgroup (node attributes only).",
            refs([(sum_by(["result"], rate(a("kotel_k8s_cri_lookups_total"))), "{{result}}")]),
            "ops",
            stack=True,
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Held events, connects and dropped requests",
            "Held events as they leave the hold, by outcome; connection attempts to the "
            "runtime, by outcome; lookups the CRI task's queue had no room for; cache "
            "evictions.",
            refs([
                (sum_by(["outcome"], rate(a("kotel_k8s_cri_hold_total"))), "hold {{outcome}}"),
                (sum_by(["outcome"], rate(a("kotel_k8s_cri_connects_total"))), "connect {{outcome}}"),
                (sum_by([], rate(a("kotel_k8s_cri_requests_dropped_total"))), "requests dropped"),
                (sum_by([], rate(a("kotel_k8s_cri_cache_evictions_total"))), "cache evictions"),
            ]),
            "ops",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Containers cached",
            "Containers in each agent's cache (running, and exited within exited_grace).",
            refs([(sum_by(["instance"], a("kotel_k8s_cri_cache_containers")), "{{instance}}")]),
            "short",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Aggregate overflow",
            "Updates per second that went to a metric's overflow series because it reached "
            "the aggregate processor's cardinality_limit.",
            refs([(sum_by(["metric"], rate(a("kotel_aggregate_overflow_total"))), "{{metric}}")]),
            "ops",
        ),
        16,
        8,
    )

    layout.row("OTLP export")
    layout.add(
        timeseries(
            "Accepted by the backend",
            "Data points and log records the backend accepted per second, by signal.",
            refs([(sum_by(["signal"], rate(a("kotel_exporter_otlp_sent_total"))), "{{signal}}")]),
            "ops",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Lost, by signal and reason",
            "Data points and log records dropped per second: queue_full, rejected, "
            "retries_exhausted, partial_rejected, shutdown.",
            refs([(sum_by(["signal", "reason"], rate(a("kotel_exporter_otlp_dropped_total"))),
                   "{{signal}} {{reason}}")]),
            "ops",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Retries",
            "Retried sends per second, by signal.",
            refs([(sum_by(["signal"], rate(a("kotel_exporter_otlp_retries_total"))), "{{signal}}")]),
            "ops",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Encoded bytes accepted",
            "Encoded request bytes (before compression) the backend accepted per second.",
            refs([(sum_by(["signal"], rate(a("kotel_exporter_otlp_sent_bytes_total"))), "{{signal}}")]),
            "Bps",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Queue",
            "Requests waiting in the exporters' queues (the oldest is dropped when full).",
            refs([(sum_by(["instance", "component_id"], a("kotel_exporter_otlp_queue_requests")),
                   "{{instance}} {{component_id}}")]),
            "short",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Sender busy",
            "Fraction of time the senders spent sending (all attempts), by signal.",
            refs([(sum_by(["signal"], rate(a("kotel_exporter_otlp_send_duration_us_total"))) + " / 1e6",
                   "{{signal}}")]),
            "percentunit",
        ),
        8,
        8,
    )
    layout.add(
        timeseries(
            "Queued bytes",
            "Encoded bytes waiting in the exporters' queues.",
            refs([(sum_by(["instance", "component_id"], a("kotel_exporter_otlp_queue_bytes")),
                   "{{instance}} {{component_id}}")]),
            "bytes",
        ),
        8,
        8,
    )
    return dashboard(
        "kotel-health",
        "kotel / Agent health",
        "kotel's own telemetry: lost events, kernel-side losses, decode errors, pod "
        "attribution through the CRI, aggregation overflow and OTLP export.",
        [datasource_variable("datasource", "Prometheus", "prometheus"), INSTANCE_VARIABLE],
        layout.panels,
    )


SERVER = "http_server_request_duration_seconds"
ROUTE = "http_route"
REQUESTS_VARIABLES = [
    datasource_variable("datasource", "Prometheus", "prometheus"),
    query_variable(
        "namespace",
        "Namespace",
        "label_values(" + SERVER + "_count, " + NS + ")",
        "Namespaces of pods that answered HTTP requests in the time range (All also "
        "includes node processes, which have no namespace).",
    ),
    query_variable(
        "pod",
        "Pod",
        "label_values(" + SERVER + "_count{" + NS + '=~"$namespace"}, ' + POD + ")",
        "Pods of the selected namespaces that answered HTTP requests in the time range.",
    ),
]


def requests_dashboard():
    """Rate, errors and duration of the HTTP requests each workload answers (and makes),
    per route, from the `l7` source through `aggregate`."""
    count = workload_selector(SERVER + "_count")
    errors = workload_selector(SERVER + "_count", 'error_type!=""')
    by_route = [NS, POD, ROUTE]
    route_legend = POD_LEGEND + " {{" + ROUTE + "}}"
    layout = Layout()
    layout.row("Overview")
    layout.add(
        stat(
            "Requests",
            "HTTP requests per second answered by the selected pods.",
            sum_by([], rate(count)),
            "reqps",
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Errors",
            "Share of the answered requests that are errors (5xx, no response, a dropped "
            "connection).",
            sum_by([], rate(errors)) + " / " + sum_by([], rate(count)),
            "percentunit",
            steps=(("orange", 0.01), ("red", 0.05)),
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Duration p99",
            "99th percentile of the server-side duration of the selected pods' requests, "
            "from the kernel's syscall times.",
            quantile("0.99", SERVER, [], native=False),
            "s",
            steps=(("orange", 0.5), ("red", 1)),
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Outgoing requests",
            "HTTP requests per second the selected pods made.",
            sum_by([], rate(workload_selector("http_client_request_duration_seconds_count"))),
            "reqps",
        ),
        6,
        4,
    )
    layout.row("Rate, errors and duration by route")
    layout.add(
        timeseries(
            "Requests by route",
            "Requests per second each pod answered, by http.route (identifiers folded "
            "into {id}, or the configured route patterns).",
            refs([(node_pod(sum_by(by_route, rate(count))), route_legend)]),
            "reqps",
            legend_table=True,
        ),
        12,
        9,
    )
    layout.add(
        timeseries(
            "Errors by route",
            "Error responses per second, by route and error.type (the status code, "
            "timeout or connection_closed).",
            refs([(node_pod(sum_by(by_route + ["error_type"], rate(errors))),
                   route_legend + " {{error_type}}")]),
            "reqps",
            legend_table=True,
        ),
        12,
        9,
    )
    layout.add(
        timeseries(
            "Duration by route: p50, p99",
            "Server-side request duration quantiles per pod and route; the points are "
            "exemplars: a request and its trace.",
            [
                prom_target(ref, node_pod(quantile(q, SERVER, by_route, native=False)),
                            route_legend + " " + name, exemplar=True)
                for ref, q, name in (("A", "0.5", "p50"), ("B", "0.99", "p99"))
            ],
            "s",
            legend_table=True,
        ),
        12,
        9,
    )
    layout.add(
        heatmap(
            "Duration distribution",
            "Requests per second in each duration bucket, all selected pods together; "
            "the points are exemplars, a request of that bucket: click one to open its "
            "trace (the Prometheus data source's exemplar link to Tempo, on trace_id).",
            SERVER,
            "s",
            native=False,
            exemplar=True,
        ),
        12,
        9,
    )
    layout.row("Outgoing requests")
    client = workload_selector("http_client_request_duration_seconds_count")
    layout.add(
        timeseries(
            "Outgoing requests by server",
            "Requests per second the selected pods made, by server.address and status.",
            refs([(node_pod(sum_by([NS, POD, "server_address", "http_response_status_code"], rate(client))),
                   POD_LEGEND + " -> {{server_address}} {{http_response_status_code}}")]),
            "reqps",
            legend_table=True,
        ),
        24,
        9,
    )
    return dashboard(
        "kotel-requests",
        "kotel / HTTP requests",
        "HTTP/1.x requests every pod answers and makes, read by kotel from the socket "
        "syscalls (no instrumentation): rate, errors and duration per route.",
        REQUESTS_VARIABLES,
        layout.panels,
    )


DASHBOARDS = {
    "kotel-network.json": network_dashboard,
    "kotel-requests.json": requests_dashboard,
    "kotel-security.json": security_dashboard,
    "kotel-health.json": health_dashboard,
}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        default=os.path.dirname(os.path.abspath(__file__)),
        help="directory to write the dashboards to (default: this script's directory)",
    )
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name, build in DASHBOARDS.items():
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(render(build))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
