"""The official openai Python SDK against Sluice's Responses API, and every answer checked against the
SDK's own pydantic models (generated from OpenAI's API specification): the whole response, each raw
stream event, the stream helper's accumulated final response, retrieve, input_items and delete.
usage: python_sdk_check.py BASE_URL MODEL [MODEL...]; prints one JSON line per model; exits 1 on a
mismatch (the message names the model, the call and the field)."""
import json
import sys
import urllib.request

from openai import OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

EVENT = TypeAdapter(ResponseStreamEvent)
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}


def check_model(base: str, model: str) -> dict:
    client = OpenAI(base_url=base, api_key="unused", max_retries=0)
    report = {"model": model}

    raw = client.responses.with_raw_response.create(model=model, input="Say hello", instructions="Be brief.")
    whole = Response.model_validate_json(raw.text)
    assert whole.status == "completed", f"{model}: status {whole.status}"
    assert whole.output_text, f"{model}: empty output_text"
    report["text"] = whole.output_text

    # raw SSE: every event must be one of the SDK's event models, in sequence order
    seqs, types = [], []
    req = urllib.request.Request(
        f"{base}/responses",
        data=json.dumps({"model": model, "input": "Say hello", "stream": True}).encode(),
        headers={"authorization": "Bearer unused", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, f"{model}: stream status {r.status}"
        for raw_line in r:
            line = raw_line.decode().rstrip("\r\n")
            if line.startswith("data: "):
                ev = EVENT.validate_json(line[6:])
                seqs.append(ev.sequence_number)
                types.append(ev.type)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"{model}: sequence numbers {seqs}"
    assert types[0] == "response.created" and types[-1] == "response.completed", f"{model}: {types}"

    # the SDK's stream helper rebuilds the response from the events and must agree with them
    with client.responses.stream(model=model, input="Say hello") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert final.output_text == deltas, f"{model}: helper text {final.output_text!r} != deltas {deltas!r}"

    first = client.responses.create(model=model, input="Weather in Paris?", tools=[TOOL])
    Response.model_validate(first.model_dump())
    call = next(o for o in first.output if o.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Paris"}, f"{model}: arguments {call.arguments}"
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        tools=[TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "21C"}],
    )
    assert "21C" in second.output_text, f"{model}: {second.output_text!r}"

    got = client.responses.with_raw_response.retrieve(second.id)
    Response.model_validate_json(got.text)
    items = client.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["function_call_output"], f"{model}: input items {items.data}"
    deleted = client.responses.delete(second.id)
    report["deleted"] = deleted is None or getattr(deleted, "deleted", True)
    return report


def main() -> int:
    base, models = sys.argv[1], sys.argv[2:]
    for model in models:
        print(json.dumps(check_model(base, model)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
