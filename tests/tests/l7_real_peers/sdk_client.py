"""A client instrumented with the OpenTelemetry Python SDK: a CLIENT span around one
request whose W3C traceparent the SDK's propagator injects. Prints the span's trace and
span ids (hex) once the response is read."""
import http.client
import sys

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("kotel-test")
port = int(sys.argv[1])
with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT) as span:
    headers = {}
    propagate.inject(headers)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/traced", headers=headers)
    conn.getresponse().read()
    ctx = span.get_span_context()
    print(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), flush=True)
