"""The official `openai` client against a live danlu server: chat completions."""

from __future__ import annotations

import json

import gguf
import httpx
import jinja2
import jsonschema
import pytest

from danlu.chat.tools import ToolCall
from danlu.chat.tools.stream import ToolStreamFilter
from danlu.engine.base import Chunk, Completion, Timing, Usage
from danlu.server.openai.chat import ChatPlan, _deltas, _message
from danlu.server.openai.schemas import ChatCompletionRequest
from tests.conftest import smollm2_path
from tests.tools.specs import WEATHER

HELLO = [{"role": "user", "content": "Write a short poem about rivers."}]

# the Hermes tool-calling instructions (Hermes 2 Pro, Qwen 2.5), as a model would be told them
HERMES = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments \
within <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""

TOOL_HISTORY = [
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees"},
    {"role": "user", "content": "Thanks. Should I bring a coat?"},
]


def test_models_list_and_retrieve(openai_client):
    ids = [m.id for m in openai_client.models.list()]
    assert "smollm2" in ids
    assert openai_client.models.retrieve("smollm2").id == "smollm2"


def test_greedy_chat_is_deterministic_and_counts_add_up(openai_client):
    a = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_tokens=24
    )
    b = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_tokens=24
    )
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].message.role == "assistant"
    assert a.choices[0].finish_reason == "length"
    assert a.usage.completion_tokens == 24
    assert a.usage.total_tokens == a.usage.prompt_tokens + 24
    assert a.object == "chat.completion" and a.model == "smollm2"


def test_max_completion_tokens_and_stop(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_completion_tokens=5
    )
    assert r.usage.completion_tokens == 5
    full = (
        openai_client.chat.completions.create(
            model="smollm2", messages=HELLO, temperature=0, max_tokens=30
        )
        .choices[0]
        .message.content
    )
    word = full.split()[2]
    cut = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_tokens=30, stop=[word]
    )
    assert cut.choices[0].finish_reason == "stop"
    assert word not in cut.choices[0].message.content


def test_streaming_matches_non_streaming_and_reports_usage(openai_client):
    whole = (
        openai_client.chat.completions.create(
            model="smollm2", messages=HELLO, temperature=0, max_tokens=20
        )
        .choices[0]
        .message.content
    )
    chunks = list(
        openai_client.chat.completions.create(
            model="smollm2",
            messages=HELLO,
            temperature=0,
            max_tokens=20,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert reasons[-1] == "length" and set(reasons[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 20


def test_n_choices_with_seed_are_reproducible(openai_client):
    kwargs = {
        "model": "smollm2",
        "messages": HELLO,
        "temperature": 1.0,
        "max_tokens": 12,
        "n": 3,
        "seed": 42,
    }
    a = openai_client.chat.completions.create(**kwargs)
    b = openai_client.chat.completions.create(**kwargs)
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert len({c.message.content for c in a.choices}) > 1
    assert a.usage.completion_tokens == 36


def test_logprobs_and_top_logprobs(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_tokens=6, logprobs=True, top_logprobs=3
    )
    content = r.choices[0].logprobs.content
    assert len(content) == 6
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].token == entry.token  # greedy picks the top token
    assert "".join(e.token for e in content) == r.choices[0].message.content


def test_logit_bias_bans_the_greedy_first_token(openai_client, live):
    first = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_tokens=1, logprobs=True
    )
    token_text = first.choices[0].logprobs.content[0].token
    ids = httpx.post(f"{live.url}/tokenize", json={"content": token_text}, timeout=60).json()[
        "tokens"
    ]
    banned = openai_client.chat.completions.create(
        model="smollm2",
        messages=HELLO,
        temperature=0,
        max_tokens=1,
        logit_bias={str(ids[0]): -100},
    )
    assert banned.choices[0].message.content != token_text


def test_danlu_extensions_in_the_body(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2",
        messages=HELLO,
        max_tokens=8,
        seed=1,
        extra_body={"top_k": 1, "min_p": 0.1, "repeat_penalty": 1.1},
    )
    greedy = openai_client.chat.completions.create(
        model="smollm2",
        messages=HELLO,
        max_tokens=8,
        temperature=0,
        extra_body={"repeat_penalty": 1.1},
    )
    assert r.choices[0].message.content == greedy.choices[0].message.content  # top_k=1 is greedy


def test_json_object_mode_returns_json(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2",
        temperature=0,
        max_tokens=200,
        messages=[{"role": "user", "content": "Describe a cat as JSON with keys name and age."}],
        response_format={"type": "json_object"},
    )
    assert r.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_json_schema_mode_validates(openai_client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    r = openai_client.chat.completions.create(
        model="smollm2",
        temperature=0,
        max_tokens=120,
        messages=[{"role": "user", "content": "Invent a person."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    )
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)


def test_required_tool_choice_returns_a_parsed_tool_call(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2",
        temperature=0,
        max_tokens=100,
        tools=[WEATHER],
        tool_choice="required",
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    assert len(choice.message.tool_calls) >= 1
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_named_tool_choice_streams_tool_call_deltas(openai_client):
    stream = openai_client.chat.completions.create(
        model="smollm2",
        temperature=0,
        max_tokens=100,
        tools=[WEATHER],
        stream=True,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=[{"role": "user", "content": "Weather in Rome?"}],
    )
    calls, reasons = [], []
    for chunk in stream:
        delta = chunk.choices[0].delta
        calls += delta.tool_calls or []
        reasons.append(chunk.choices[0].finish_reason)
    assert reasons[-1] == "tool_calls"
    assert calls and calls[0].function.name == "get_weather"
    arguments = "".join(c.function.arguments or "" for c in calls)  # deltas may split them
    jsonschema.validate(json.loads(arguments), WEATHER["function"]["parameters"])


def test_tool_results_reach_the_model(openai_client, model):
    messages = TOOL_HISTORY[:3]  # the call and its result, no new question
    ask = {"messages": messages, "tools": [WEATHER], "temperature": 0, "max_tokens": 30}
    r = openai_client.chat.completions.create(model="smollm2", **ask)
    # the prompt written out apart from the server: SmolLM2 knows no tools, so the Hermes
    # instructions are the system prompt, the call is the text the model would have written
    # and the result a user turn; rendered by the GGUF's own Jinja template
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    turns = [
        {"role": "system", "content": HERMES.format(tools=json.dumps(WEATHER))},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": call},
        {"role": "user", "content": "Tool result (get_weather): Sunny, 21 degrees"},
    ]
    field = gguf.GGUFReader(str(smollm2_path())).fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode("utf-8")
    text = (
        jinja2.Environment()
        .from_string(template)
        .render(messages=turns, add_generation_prompt=True)
    )
    assert text.endswith("Sunny, 21 degrees<|im_end|>\n<|im_start|>assistant\n")
    expected = model.engine.tokenize(text, add_bos=True)
    plan = ChatPlan(ChatCompletionRequest(model="smollm2", **ask), model)
    assert plan.prompts[0].tokens == expected
    assert r.usage.prompt_tokens == len(expected)  # the server ran that prompt
    choice = r.choices[0]
    assert (choice.finish_reason == "tool_calls") == bool(choice.message.tool_calls)
    assert choice.message.content or choice.message.tool_calls


def test_second_turn_reuses_the_prefix_cache(openai_client):
    first = openai_client.chat.completions.create(
        model="smollm2", messages=HELLO, temperature=0, max_tokens=16
    )
    turn2 = [
        *HELLO,
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "Now make it shorter."},
    ]
    second = openai_client.chat.completions.create(
        model="smollm2", messages=turn2, temperature=0, max_tokens=8
    )
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= first.usage.prompt_tokens - 1


def test_parallel_tool_calls_false_returns_only_the_first_call(model):
    """SmolLM2 rarely writes two calls, so the answer is written here, in the plan's format."""
    body = ChatCompletionRequest(
        model="smollm2",
        messages=[{"role": "user", "content": "Weather in Paris and Rome?"}],
        tools=[WEATHER],
        parallel_tool_calls=False,
    )
    plan = ChatPlan(body, model)
    cities = [ToolCall.new("get_weather", {"city": c}) for c in ("Paris", "Rome")]
    chunk = Chunk(
        plan.tools.render_calls(cities),
        finish_reason="stop",
        usage=Usage(1, 1),
        timing=Timing(0.1, 0.1, 1, 1),
    )
    message, reason = _message(plan, Completion.collect([chunk]))
    assert reason == "tool_calls"
    assert [json.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [
        {"city": "Paris"}
    ]
    deltas = list(_deltas(model, body, ToolStreamFilter(plan.tools), chunk, plan.max_calls))
    streamed = [c for delta, _, _ in deltas for c in delta.get("tool_calls", [])]
    assert [c["function"]["name"] for c in streamed] == ["get_weather"]
    both = ChatPlan(body.model_copy(update={"parallel_tool_calls": True}), model)
    assert len(_message(both, Completion.collect([chunk]))[0]["tool_calls"]) == 2


@pytest.mark.parametrize("offered", [{}, {"tools": [WEATHER], "tool_choice": "none"}])
def test_tool_history_is_rendered_even_when_tools_are_off(model, offered):
    """Earlier calls and results stay in the prompt, as text the template can show."""
    body = ChatCompletionRequest(model="smollm2", messages=TOOL_HISTORY, **offered)
    plan = ChatPlan(body, model)
    text = model.engine.detokenize(plan.prompts[0].tokens, special=True)  # role markers too
    assert '{"name": "get_weather", "arguments": {"city": "Oslo"}}' in text
    assert "Tool result (get_weather): Sunny, 21 degrees" in text
    assert "<|im_start|>tool" not in text and plan.tools is None


def _answer(openai_client, **ask) -> str:
    base = {"model": "smollm2", "max_tokens": 20, "messages": HELLO}
    return openai_client.chat.completions.create(**{**base, **ask}).choices[0].message.content


def test_sampling_parameters_take_effect(openai_client):
    greedy = _answer(openai_client, temperature=0)
    hot = {"temperature": 1.5, "seed": 7}
    assert _answer(openai_client, **hot) == _answer(openai_client, **hot)  # seeded: reproducible
    assert _answer(openai_client, **hot) != greedy  # so the check below can fail
    assert _answer(openai_client, **hot, top_p=1e-6) == greedy  # only the best token survives
    # answers whose greedy paths repeat tokens early ("The cat is a cat."); a penalty of 2
    # outweighs the margin of at least one of them (which one moves with the CPU's kernels)
    asks = ["Repeat the word cat three times.", "Say hello three times.", "Write dog five times."]
    repeats = [[{"role": "user", "content": ask}] for ask in asks]
    plains = [_answer(openai_client, temperature=0, messages=m) for m in repeats]
    for penalty in ("presence_penalty", "frequency_penalty"):
        penalised = [
            _answer(openai_client, temperature=0, messages=m, **{penalty: 2.0}) for m in repeats
        ]
        assert penalised != plains, penalty


def test_text_parts_and_the_developer_role_read_like_plain_strings(openai_client):
    plain = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
    ]
    parts = [
        {"role": "developer", "content": [{"type": "text", "text": "You are terse."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Name a "}, {"type": "text", "text": "colour."}],
        },
    ]
    assert _answer(openai_client, temperature=0, messages=parts) == _answer(
        openai_client, temperature=0, messages=plain
    )


def test_tool_choice_none_answers_in_text_and_auto_in_either(openai_client):
    ask = {"temperature": 0, "tools": [WEATHER], "messages": TOOL_HISTORY[:1]}
    none = openai_client.chat.completions.create(
        model="smollm2", max_tokens=30, tool_choice="none", **ask
    ).choices[0]
    assert none.message.tool_calls is None and none.finish_reason in ("stop", "length")
    auto = openai_client.chat.completions.create(
        model="smollm2", max_tokens=60, tool_choice="auto", **ask
    ).choices[0]
    assert auto.message.content or auto.message.tool_calls
    assert (auto.finish_reason == "tool_calls") == bool(auto.message.tool_calls)


def test_streamed_n_choices_match_the_plain_ones(openai_client):
    ask = {"model": "smollm2", "messages": HELLO, "n": 2, "seed": 3, "temperature": 1.0}
    plain = openai_client.chat.completions.create(**ask, max_tokens=12)
    texts, reasons = ["", ""], [None, None]
    for chunk in openai_client.chat.completions.create(**ask, max_tokens=12, stream=True):
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            reasons[choice.index] = choice.finish_reason or reasons[choice.index]
    assert texts == [c.message.content for c in plain.choices]
    assert reasons == [c.finish_reason for c in plain.choices]
