"""Sends the telemetry whose rotel debug output is captured in this directory.

Usage: python generate.py grpc|http ENDPOINT delta|cumulative
(ENDPOINT: http://127.0.0.1:PORT of rotel's OTLP gRPC or HTTP receiver). Run with the
venv of scripts/setup-receivers.sh, against
`rotel-agent start ... --exporter blackhole --debug-log metrics --debug-log logs
--debug-log-verbosity detailed`, and keep rotel's stdout: that is the sample.
"""
import logging
import sys
import time

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

protocol, endpoint, temporality = sys.argv[1:4]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    metric_args = {"endpoint": endpoint, "insecure": True}
    log_args = {"endpoint": endpoint, "insecure": True}
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    metric_args = {"endpoint": endpoint + "/v1/metrics"}
    log_args = {"endpoint": endpoint + "/v1/logs"}

chosen = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
resource = Resource.create(
    {"service.name": "sample-" + protocol, "host.name": "node-1", "num.attr": 7, "list.attr": ["a", "b"]}
)
tracer = TracerProvider().get_tracer("sample")

exporter = OTLPMetricExporter(
    preferred_temporality={Counter: chosen, UpDownCounter: chosen, Histogram: chosen}, **metric_args
)
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)
views = [
    View(instrument_name="sample.rtt", aggregation=ExplicitBucketHistogramAggregation(boundaries=[0.5, 1, 2.5, 10])),
    View(instrument_name="sample.exp", aggregation=ExponentialBucketHistogramAggregation(max_size=20)),
    View(instrument_name="sample.exp.wide", aggregation=ExponentialBucketHistogramAggregation(max_size=4)),
]
meters = MeterProvider(resource=resource, metric_readers=[reader], views=views)
meter = meters.get_meter("kotel.sample", "1.2.3", attributes={"scope.attr": "s"})

conns = meter.create_counter("sample.conns", unit="{connection}", description="Connections, with: punctuation")
conns.add(3, {"direction": "out", "k8s.namespace.name": "default"})
conns.add(5, {"direction": "in", "odd": "a b=c, d) e(", "empty": ""})
meter.create_counter("sample.bytes", unit="By").add(1.5, {"x": "1"})
meter.create_counter("sample.whole", unit="s").add(2.0)
active = meter.create_up_down_counter("sample.active", unit="1", description="Active things")
active.add(4)
active.add(-1)
rtt = meter.create_histogram("sample.rtt", unit="ms", description="Round trip")
for v in [0.3, 0.7, 1.2, 3, 20]:
    rtt.record(v, {"peer": "10.0.0.1"})
with tracer.start_as_current_span("with-exemplar"):
    meter.create_histogram("sample.default.bounds", unit="ms").record(7)
exp = meter.create_histogram("sample.exp", unit="s", description="Exponential")
for v in [0.001, 0.01, 0.1, 1, 10, 0]:
    exp.record(v)
wide = meter.create_histogram("sample.exp.wide", unit="By")
for v in [1000, 1e6, 1e9]:
    wide.record(v)
meter.create_observable_gauge(
    "sample.temp",
    callbacks=[lambda _: [Observation(21.5, {"room": "a"}), Observation(-3, {"room": "b"})]],
    unit="Cel",
    description="Temperature",
)
meter.create_gauge("sample.depth", unit="1").set(12, {"q": "x"})
meters.force_flush()
meters.shutdown()

logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(**log_args)))
py_logger = logging.getLogger("kotel.sample.logs")
py_logger.setLevel(logging.DEBUG)
py_logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=logs))
py_logger.propagate = False
py_logger.warning("connection reset by peer: %s", "10.0.0.1:443", extra={"k8s.pod.name": "web-1", "count": 3, "ratio": 0.5, "flag": True})
py_logger.info("multi\nline body")
otel_logger = logs.get_logger("direct", "0.1")
with tracer.start_as_current_span("with-trace"):
    otel_logger.emit(LogRecord(timestamp=time.time_ns(), severity_number=SeverityNumber.INFO2, body={"k": "v", "n": 1}, attributes={"a": "b"}))
otel_logger.emit(LogRecord(body=b"\x00\x01by", severity_text="custom"))
otel_logger.emit(LogRecord(body="ends in paren)", attributes={"multi": "l1\nl2)"}))
otel_logger.emit(LogRecord())
logs.shutdown()
