#!/usr/bin/env python3
"""Write the OTLP/JSON test fixtures for `llmops ingest` with the official OpenTelemetry SDK.

Spans are made by the SDK's tracer (with deterministic ids and times), encoded to the OTLP
protobuf `ExportTraceServiceRequest` by `opentelemetry-exporter-otlp-proto-common` (the encoder
the OTLP exporters use), and written as OTLP/JSON the way the Collector's file exporter writes
it: one request per line, lowerCamelCase field names, trace and span ids as hex, 64-bit
integers as strings, enums as numbers.

    python3 -m venv /tmp/otel && /tmp/otel/bin/pip install opentelemetry-sdk \
        opentelemetry-exporter-otlp-proto-common
    /tmp/otel/bin/python scripts/gen_otlp_fixtures.py tests/data/otlp

Tested with opentelemetry-sdk 1.45.2. Output is the same on every run (seeded).
"""

import base64
import json
import random
import sys
from pathlib import Path

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind

START_NS = 1_772_323_200 * 10**9  # 2026-03-01T00:00:00Z


class SeededIds(IdGenerator):
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def generate_span_id(self):
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self):
        return self.rng.getrandbits(128) or 1


def to_otlp_json(request):
    """Protobuf JSON -> OTLP/JSON: ids are hex, not base64 (OTLP spec, JSON encoding)."""
    d = MessageToDict(request, preserving_proto_field_name=False, use_integers_for_enums=True)

    def fix(node):
        if isinstance(node, dict):
            for k, v in list(node.items()):
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    node[k] = base64.b64decode(v).hex()
                else:
                    fix(v)
        elif isinstance(node, list):
            for x in node:
                fix(x)

    fix(d)
    return d


def spans(seed, n):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "support-app", "service.version": "1.4.0",
                                  "service.instance.id": "fixture-0"}),
        id_generator=SeededIds(seed),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("support-app.llm", "1.4.0")
    rng = random.Random(seed)
    names = ["Ada", "Grace", "Alan", "Barbara"]
    for i in range(n):
        start = START_NS + i * 600 * 10**9
        name = names[i % len(names)]
        reply = f"Hi {name},\n\nYour parcel is on its way and should arrive by Friday.\n\nBest regards,\nSupport"
        in_tok = 280 + rng.randrange(40)
        out_tok = len(reply) // 4
        # An HTTP parent span that is not an llmops call: ingest must skip it, not fail on it.
        with tracer.start_as_current_span(
            "POST /tickets/reply", kind=SpanKind.SERVER, start_time=start,
            attributes={"http.request.method": "POST"}, end_on_exit=False,
        ) as parent:
            child = tracer.start_span(
                "chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=start + 1_000_000,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.usage.input_tokens": in_tok,
                    "gen_ai.usage.output_tokens": out_tok,
                    "gen_ai.response.finish_reasons": ["stop"],
                    "llmops.prompt": "support-reply",
                    "llmops.version": 1,
                    "llmops.vars": json.dumps({"customer_name": name, "ticket": "Where is my order?"}),
                },
            )
            if i % 2 == 0:
                # Current GenAI conventions: the output messages as a JSON attribute.
                child.set_attribute("gen_ai.output.messages", json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": reply}], "finish_reason": "stop"}]))
            else:
                # Older conventions: the completion in a span event.
                child.add_event("gen_ai.content.completion", {"gen_ai.completion": reply},
                                timestamp=start + 700_000_000)
            latency_ns = (600 + rng.randrange(400)) * 1_000_000
            child.end(end_time=start + 1_000_000 + latency_ns)
            parent.end(end_time=start + 2_000_000 + latency_ns)
    provider.shutdown()
    return exporter.get_finished_spans()


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/otlp")
    out.mkdir(parents=True, exist_ok=True)
    all_spans = spans(seed=14, n=8)
    # Two requests (two lines), as a file exporter appends batch after batch.
    half = len(all_spans) // 2
    lines = [json.dumps(to_otlp_json(encode_spans(batch)), separators=(",", ":"))
             for batch in (all_spans[:half], all_spans[half:])]
    (out / "genai-spans.json").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'genai-spans.json'}: {len(all_spans)} spans in {len(lines)} requests")


if __name__ == "__main__":
    main()
