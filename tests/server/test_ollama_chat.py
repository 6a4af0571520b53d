"""The official `ollama` client against a live danlu server: /api/chat and /api/generate."""

from __future__ import annotations

import json

import httpx
import jsonschema

from danlu.server import ServerSettings
from danlu.server.ollama.chat import ChatPlan
from danlu.server.ollama.schemas import ChatRequest
from tests.server.conftest import start_server, stop_server
from tests.tools.specs import WEATHER

POEM = [{"role": "user", "content": "Write a short poem about rivers."}]
GREEDY = {"temperature": 0, "num_predict": 16}


def assert_timings(r) -> None:
    assert r.done is True
    assert r.total_duration >= r.eval_duration > 0
    assert r.total_duration >= r.prompt_eval_duration > 0
    assert r.load_duration >= 0
    assert r.prompt_eval_count > 0 and r.eval_count > 0


def test_chat_answers_with_truthful_counts(ollama_client):
    r = ollama_client.chat(model="smollm2", messages=POEM, options=GREEDY)
    assert r.model == "smollm2" and r.message.role == "assistant"
    assert r.message.content and r.message.tool_calls is None
    assert r.done_reason == "length" and r.eval_count == 16
    assert_timings(r)


def test_greedy_chat_is_deterministic_and_the_stream_agrees(ollama_client):
    a = ollama_client.chat(model="smollm2", messages=POEM, options=GREEDY)
    b = ollama_client.chat(model="smollm2", messages=POEM, options=GREEDY)
    assert a.message.content == b.message.content
    parts = list(ollama_client.chat(model="smollm2", messages=POEM, options=GREEDY, stream=True))
    assert all(not p.done for p in parts[:-1]) and parts[-1].done
    assert "".join(p.message.content for p in parts) == a.message.content
    assert parts[-1].eval_count == a.eval_count and parts[-1].done_reason == "length"
    assert parts[-1].prompt_eval_count == a.prompt_eval_count  # cached prefix still counted
    assert_timings(parts[-1])


def test_num_predict_stops_with_length(ollama_client):
    r = ollama_client.chat(
        model="smollm2", messages=POEM, options={"temperature": 0, "num_predict": 5}
    )
    assert r.done_reason == "length" and r.eval_count == 5


def test_stop_sequence_cuts_the_answer(ollama_client):
    full = ollama_client.chat(model="smollm2", messages=POEM, options=GREEDY).message.content
    words = full.split()
    stop = " " + words[len(words) // 2]
    r = ollama_client.chat(model="smollm2", messages=POEM, options={**GREEDY, "stop": [stop]})
    assert r.done_reason == "stop"
    assert r.message.content == full[: full.index(stop)]


def test_smaller_num_ctx_is_honoured(ollama_client):
    r = ollama_client.chat(
        model="smollm2", messages=POEM, options={"temperature": 0, "num_ctx": 48}
    )
    assert r.done_reason == "length"
    assert r.prompt_eval_count + r.eval_count == 48


def test_logprobs_come_per_token(ollama_client):
    r = ollama_client.chat(
        model="smollm2",
        messages=POEM,
        options={"temperature": 0, "num_predict": 4},
        logprobs=True,
        top_logprobs=2,
    )
    assert len(r.logprobs) == 4
    assert all(lp.logprob <= 0 and len(lp.top_logprobs) == 2 for lp in r.logprobs)
    assert "".join(lp.token for lp in r.logprobs) == r.message.content


def test_generate_templated_with_system_returns_context(ollama_client):
    plain = ollama_client.generate(model="smollm2", prompt="Name a colour.", options=GREEDY)
    system = (
        "You are a painter from Lyon. You answer every question in French, in one short "
        "sentence, and you always name the colour you would mix for it on your palette."
    )
    told = ollama_client.generate(
        model="smollm2", prompt="Name a colour.", system=system, options=GREEDY
    )
    assert plain.response and told.response
    assert told.prompt_eval_count > plain.prompt_eval_count
    assert_timings(told)
    assert len(told.context) == told.prompt_eval_count + told.eval_count
    follow = ollama_client.generate(
        model="smollm2", prompt="And another?", context=told.context, options=GREEDY
    )
    assert follow.prompt_eval_count > len(told.context)


def test_generate_raw_continues_the_text(ollama_client):
    r = ollama_client.generate(
        model="smollm2",
        prompt="1, 2, 3, 4,",
        raw=True,
        options={"temperature": 0, "num_predict": 4},
    )
    assert r.response.startswith(" 5") and r.context is None
    streamed = ollama_client.generate(
        model="smollm2",
        prompt="1, 2, 3, 4,",
        raw=True,
        options={"temperature": 0, "num_predict": 4},
        stream=True,
    )
    assert "".join(p.response for p in streamed) == r.response


def test_format_json_gives_a_json_object(ollama_client):
    r = ollama_client.chat(
        model="smollm2",
        messages=[
            {"role": "user", "content": "Describe a cat as JSON with two keys: name and age."}
        ],
        format="json",
        options={"temperature": 0, "num_predict": 120},
    )
    assert isinstance(json.loads(r.message.content), dict)


def test_format_schema_output_validates(ollama_client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    r = ollama_client.generate(
        model="smollm2",
        prompt="Invent a person.",
        format=schema,
        options={"temperature": 0, "num_predict": 120},
    )
    jsonschema.validate(json.loads(r.response), schema)


def test_with_tools_offered_the_answer_is_the_same_streamed_or_not(ollama_client):
    """Ollama has no tool_choice: here greedy SmolLM2 answers in text, and that text must
    come back whole, with no call made up from it, streamed or not. (A call the model does
    make is the next test.)"""
    messages = [
        {"role": "system", "content": "Always answer by calling a tool."},
        {"role": "user", "content": "What is the weather in Paris? Call get_weather."},
    ]
    ask = {"model": "smollm2", "messages": messages, "tools": [WEATHER]}
    ask["options"] = {"temperature": 0, "num_predict": 60}
    ollama_client.chat(**ask)
    # asked again, the prompt comes from the prefix cache as it will for the stream below:
    # llama.cpp's greedy pick can change with how much of a prompt was cached
    r = ollama_client.chat(**ask)
    assert r.done and r.done_reason == "length" and r.eval_count == 60
    assert r.message.tool_calls is None and r.message.content.strip()
    assert "<tool_call>" not in r.message.content
    parts = list(ollama_client.chat(**ask, stream=True))
    assert "".join(p.message.content for p in parts) == r.message.content
    assert not any(p.message.tool_calls for p in parts)


def test_a_taught_tool_call_reaches_the_client_parsed_streamed_or_not(ollama_client):
    """One worked example in the history; greedy SmolLM2 then answers with a call."""
    messages = [
        {"role": "system", "content": "You answer weather questions by calling get_weather."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "content": "Sunny"},
        {"role": "assistant", "content": "It is sunny in Oslo."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    ask = {"model": "smollm2", "messages": messages, "tools": [WEATHER]}
    ask["options"] = {"temperature": 0, "num_predict": 60}
    r = ollama_client.chat(**ask)
    assert r.message.tool_calls and r.done_reason == "stop"
    call = r.message.tool_calls[0].function
    # without the lazy call grammar SmolLM2 names the function "Paris"
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    streamed = [
        c for part in ollama_client.chat(**ask, stream=True) for c in part.message.tool_calls or ()
    ]
    assert [(c.function.name, c.function.arguments) for c in streamed] == [
        (c.function.name, c.function.arguments) for c in r.message.tool_calls
    ]


def test_tool_results_in_ollama_shape_reach_the_model(live, model):
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "Sunny, 21 degrees"},
    ]
    body = {"model": "smollm2", "messages": messages, "tools": [WEATHER], "options": GREEDY}
    r = httpx.post(f"{live.url}/api/chat", json={**body, "stream": False}, timeout=60).json()
    assert r["done"] and (r["message"]["content"] or r["message"].get("tool_calls"))
    tokens = ChatPlan(ChatRequest.model_validate(body), model).prompt.tokens
    prompt = model.engine.detokenize(tokens, special=True)
    assert prompt.index('"city": "Oslo"') < prompt.index("Sunny, 21 degrees")  # call, then result
    assert prompt.endswith("<|im_start|>assistant\n")  # the model answers the result
    assert r["prompt_eval_count"] == len(tokens)  # the server ran that prompt


def test_a_conversation_longer_than_the_servers_context_drops_its_oldest_turns(tmp_path, model):
    """The server's own context (-c 256, no num_ctx): the oldest exchanges give way, the
    system prompt stays, and the answer is the one a direct chat in 256 tokens gives."""
    live = start_server(
        ServerSettings(models=["smollm2"], n_ctx=256, threads=2, parallel=1), tmp_path / "home"
    )
    messages = [{"role": "system", "content": "You are a weather bot."}]
    for city in ("Oslo", "Lima", "Cairo", "Perth", "Quito", "Dakar", "Hanoi", "Tunis", "Baku"):
        messages.append({"role": "user", "content": f"What is the weather like in {city} now?"})
        messages.append({"role": "assistant", "content": f"It is mild and dry in {city} today."})
    messages.append({"role": "user", "content": "And in Riga?"})
    options = {"temperature": 0, "num_predict": 8}
    try:
        r = httpx.post(
            f"{live.url}/api/chat",
            json={"model": "smollm2", "messages": messages, "stream": False, "options": options},
            timeout=120,
        )
    finally:
        stop_server(live)
    assert r.status_code == 200, r.text
    model.engine.reset()  # the server's slot started empty too
    direct = model.chat(messages, context_length=256, temperature=0, max_tokens=8)
    fitted = model.prepare_chat(messages, context_length=256, temperature=0, max_tokens=8)
    prompt = model.engine.detokenize(fitted.tokens, special=True)
    assert direct.notices and "Oslo" not in prompt and "Baku" in prompt  # oldest went first
    assert prompt.startswith("<|im_start|>system\nYou are a weather bot.")
    answer = r.json()
    assert answer["prompt_eval_count"] == len(fitted.tokens) <= 256 - 8
    assert answer["message"]["content"] == direct.text


def test_stream_is_the_default_and_is_ndjson(live):
    body = {"model": "smollm2", "messages": POEM, "options": {"num_predict": 3}}
    r = httpx.post(f"{live.url}/api/chat", json=body, timeout=60)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) >= 2 and lines[-1]["done"] is True
    assert lines[-1]["eval_count"] == 3


def test_errors_before_streaming_keep_their_status(live):
    body = {"model": "smollm2", "prompt": "x " * 3000, "options": {"num_predict": 3}}
    r = httpx.post(f"{live.url}/api/generate", json=body, timeout=60)
    assert r.status_code == 400 and "context" in r.json()["error"]


def test_unknown_format_is_a_400(live):
    body = {"model": "smollm2", "messages": POEM, "format": "xml", "stream": False}
    r = httpx.post(f"{live.url}/api/chat", json=body, timeout=60)
    assert r.status_code == 400 and "format" in r.json()["error"]


def test_held_back_calls_come_out_in_ollama_shape():
    """The streaming and merged answers for a model that writes a Hermes call."""
    from danlu.chat.tools import ToolStreamFilter, get_format
    from danlu.server.ollama.chat import merge_frames, tool_frames

    tools = ToolStreamFilter(get_format("hermes"))
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert tools.feed(text) == ""  # nothing of a call is streamed as content
    frames = tool_frames("smollm2", tools)
    calls = frames[-1]["message"]["tool_calls"]
    assert calls == [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    final = {**frames[-1], "message": {"role": "assistant", "content": ""}, "done": True}
    merged = merge_frames([*frames, final])
    assert merged["message"] == {"role": "assistant", "content": "", "tool_calls": calls}
    assert merged["done"] is True


def _said(ollama_client, **options) -> str:
    r = ollama_client.chat(model="smollm2", messages=POEM, options={"num_predict": 16, **options})
    return r.message.content


def test_sampling_options_take_effect(ollama_client):
    greedy = _said(ollama_client, temperature=0)
    hot = {"temperature": 1.5, "seed": 11}
    assert _said(ollama_client, **hot) == _said(ollama_client, **hot)  # seeded: reproducible
    assert _said(ollama_client, **hot) != greedy  # so the checks below can fail
    assert _said(ollama_client, **hot, top_k=1) == greedy
    assert _said(ollama_client, **hot, top_p=1e-6) == greedy
    assert _said(ollama_client, **hot, min_p=1.0) == greedy
    repeat = [{"role": "user", "content": "Say 'cat' ten times: cat cat cat"}]
    options = {"temperature": 0, "num_predict": 16}
    plain = ollama_client.chat(model="smollm2", messages=repeat, options=options)
    options["repeat_penalty"] = 2.0
    penalised = ollama_client.chat(model="smollm2", messages=repeat, options=options)
    assert penalised.message.content != plain.message.content
