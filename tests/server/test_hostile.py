"""Hostile requests against a live server (issue 21: findings 1, 2, 3, 7 and 8).

Each test sends what a hostile client would, then checks that the request got a 4xx that
says why, and that the server still answers everyone else: a grammar llama.cpp cannot run
(the decoding thread used to die on it, with /health still 200), schemas that asked for
gigabytes, a large enum beside a plain chat, keep_alive values no clock holds, logit_bias
values and keys that are not what they claim, and more stop strings than either API takes.
The server has its own home and its own slots, so nothing here disturbs the other tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import ollama
import openai
import pytest

from danlu.server import ServerSettings
from tests.server.conftest import LiveServer, start_server, stop_server
from tests.server.memory import MIB, PeakMemory

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "Hi"}]
BASE = {"model": "smollm2", "messages": HI, "max_tokens": 4, "temperature": 0}
OLLAMA = {
    "model": "smollm2",
    "messages": HI,
    "stream": False,
    "options": {"num_predict": 4, "temperature": 0},
}
UNPARSABLE = {"type": "string", "pattern": "^\\x$"}  # the converter passes it, llama.cpp cannot
DEAD_END = {"type": "string", "pattern": "^[z-a]$"}  # parses, but no character can follow '"'
MEMORY_BOUND = 256 * MIB  # what one refused schema may add to the resident size, at most


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = ServerSettings(
        models=["smollm2"],
        parallel=2,
        n_ctx=1024,
        threads=2,
        keep_alive=-1,
        max_queue=8,
        request_timeout=300,
    )
    server = start_server(settings, tmp_path_factory.mktemp("hostile-home"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def client(hostile: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=hostile.v1, api_key="unused", max_retries=0, timeout=90)


def post(server: LiveServer, path: str, body: dict | str) -> httpx.Response:
    """POST a JSON body; a str is sent as written (JSON with NaN or Infinity in it)."""
    content = body if isinstance(body, str) else json.dumps(body)
    headers = {"content-type": "application/json"}
    return httpx.post(f"{server.url}{path}", content=content, headers=headers, timeout=90)


def message(response: httpx.Response) -> str:
    error = response.json()["error"]
    return error if isinstance(error, str) else error["message"]


def assert_still_serves(server: LiveServer) -> None:
    """/health is 200 and a plain chat completes (within the client's timeout)."""
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    r = post(server, CHAT, BASE)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["finish_reason"] in ("length", "stop")


def schema_format(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


def required_tool(name: str = "f", parameters: dict | None = None) -> dict:
    """A body forcing a call to one tool."""
    fn = {"name": name, "parameters": parameters or {"type": "object", "properties": {}}}
    tools = [{"type": "function", "function": fn}]
    return {**BASE, "max_tokens": 40, "tools": tools, "tool_choice": "required"}


# -- finding 1: a grammar that cannot run ends its request only -------------------------------


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (CHAT, {**BASE, "response_format": schema_format({"enum": []})}, "empty 'enum'"),
        ("/api/chat", {**OLLAMA, "format": {"enum": []}}, "empty 'enum'"),
        (
            CHAT,
            required_tool(parameters={"type": "object", "properties": {"x": {"enum": []}}}),
            "empty 'enum'",
        ),
        (CHAT, {**BASE, "response_format": schema_format(UNPARSABLE)}, "does not parse"),
        (
            "/api/generate",
            {"model": "smollm2", "prompt": "Hi", "format": UNPARSABLE, "stream": False},
            "does not parse",
        ),
        (CHAT, {**BASE, "response_format": schema_format(DEAD_END)}, "allows no next token"),
    ],
    ids=[
        "openai-empty-enum",
        "ollama-empty-enum",
        "tool-empty-enum",
        "unparsable-pattern",
        "ollama-unparsable-pattern",
        "dead-end-pattern",
    ],
)
def test_a_grammar_that_cannot_run_is_a_400_and_the_server_goes_on(hostile, path, body, needle):
    r = post(hostile, path, body)
    assert r.status_code == 400, r.text
    assert needle in message(r)
    assert_still_serves(hostile)


def test_a_streamed_request_whose_grammar_dead_ends_ends_in_band(hostile):
    body = {**BASE, "stream": True, "response_format": schema_format(DEAD_END)}
    with httpx.stream("POST", f"{hostile.url}{CHAT}", json=body, timeout=90) as r:
        assert r.status_code == 200  # the stream had begun: the error comes in it
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert "allows no next token" in events[-1]
    assert_still_serves(hostile)


def test_a_tool_whose_name_holds_quotes_and_backslashes_is_called_by_that_name(hostile, client):
    name = 'a"b\\c'
    r = client.chat.completions.create(**required_tool(name))
    [call] = r.choices[0].message.tool_calls
    assert call.function.name == name
    assert json.loads(call.function.arguments) == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, {**BASE, "messages": [{"role": "user", "content": "a \ud800 b"}]}),
        ("/api/generate", {"model": "smollm2", "prompt": "\ud800", "stream": False}),
        ("/tokenize", {"content": "\ud800"}),
        ("/v1/embeddings", {"model": "smollm2", "input": "\udfff"}),
    ],
    ids=["chat", "generate", "tokenize", "embeddings"],
)
def test_a_lone_surrogate_is_a_400_not_a_500(hostile, path, body):
    r = post(hostile, path, body)  # json.dumps writes it as the escape "\ud800"
    assert r.status_code == 400, r.text
    assert "lone surrogate" in message(r)


def test_health_is_503_while_the_decoding_thread_is_stopped(hostile):
    scheduler = hostile.app.state.danlu.pool.loaded()[0].model.engine.scheduler
    scheduler.stop()
    try:
        r = httpx.get(f"{hostile.url}/health", timeout=30)
        assert r.status_code == 503
        assert r.json()["status"] == "error"
        assert "decoding thread of 'smollm2' has stopped" in r.json()["error"]
    finally:
        scheduler.start()
    assert_still_serves(hostile)


# -- finding 2: what a schema may ask for is bounded before it is converted ------------------


def deep(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    return schema


def strings(count: int, max_length: int) -> dict:
    props = {f"p{i}": {"type": "string", "maxLength": max_length} for i in range(count)}
    return {"type": "object", "properties": props}


LARGE = [
    ("openai", {"type": "string", "minLength": 1_000_000_000}, "max_repeat"),
    ("ollama", {"type": "array", "items": {"type": "integer"}, "minItems": 100_000}, "max_repeat"),
    (
        "tool",
        {"type": "object", "properties": {"x": {"enum": list(range(20_000))}}},
        "max_choices",
    ),
    ("openai", {"type": "string", "pattern": "^a{1000000}$"}, "max_repeat"),
    ("tool", deep(100), "max_depth"),
    (
        "ollama",
        {"type": "object", "properties": {f"p{i}": {} for i in range(300)}},
        "max_properties",
    ),
    ("openai", {"type": "string", "description": "x" * 70_000}, "max_schema_chars"),
    ("ollama", strings(50, 1000), "max_grammar_chars"),
]


def ask(server: LiveServer, where: str, schema: dict) -> httpx.Response:
    """A request whose grammar comes from `schema`: as a response format, an Ollama format,
    or the parameters of a tool that must be called."""
    if where == "openai":
        return post(server, CHAT, {**BASE, "response_format": schema_format(schema)})
    if where == "ollama":
        return post(server, "/api/chat", {**OLLAMA, "format": schema})
    return post(server, CHAT, required_tool(parameters=schema))


@pytest.mark.parametrize(("where", "schema", "limit"), LARGE, ids=[x[2] for x in LARGE])
def test_a_schema_beyond_a_limit_is_a_400_naming_it_before_memory_grows(
    hostile, where, schema, limit
):
    memory = PeakMemory()
    r = ask(hostile, where, schema)
    assert r.status_code == 400, r.text
    assert f"({limit})" in message(r)
    assert memory.rise() < MEMORY_BOUND
    assert_still_serves(hostile)


# -- finding 3: a large grammar within the limits holds up no one else ------------------------


def long_enum() -> dict:
    """256 values (the most max_choices takes), each a sentence long: the answer runs to
    dozens of tokens, and every one of them passes through the grammar."""
    return {
        "enum": [f"choice {i}: the quick brown fox jumps over the lazy dog" for i in range(256)]
    }


class StreamReader(threading.Thread):
    """Reads an SSE chat stream as it comes, noting its content and when it is done."""

    def __init__(self, server: LiveServer, body: dict) -> None:
        super().__init__(daemon=True)
        self.url, self.body = f"{server.url}{CHAT}", body
        self.pieces: list[str] = []
        self.started, self.done = threading.Event(), threading.Event()
        self.finish_reason: str | None = None
        self.error: dict | None = None

    def run(self) -> None:
        try:
            with httpx.stream("POST", self.url, json=self.body, timeout=120) as r:
                for line in r.iter_lines():
                    self._take(line)
        finally:
            self.done.set()

    def _take(self, line: str) -> None:
        if not line.startswith("data: {"):
            return
        event = json.loads(line[6:])
        if "error" in event:
            self.error = event["error"]
            return
        choice = event["choices"][0]
        if choice["delta"].get("content"):
            self.pieces.append(choice["delta"]["content"])
            self.started.set()
        self.finish_reason = choice["finish_reason"] or self.finish_reason


def test_a_large_enum_within_the_limits_does_not_hold_up_a_plain_chat(hostile):
    schema = long_enum()
    body = {**BASE, "max_tokens": 200, "stream": True, "response_format": schema_format(schema)}
    big = StreamReader(hostile, body)
    big.start()
    assert big.started.wait(90), "the enum request never began to answer"
    plain = post(hostile, CHAT, {**BASE, "messages": [{"role": "user", "content": "Say hi"}]})
    # the plain chat was decoded beside the enum one, not after it
    assert plain.status_code == 200
    assert not big.done.is_set(), "the plain chat waited for the whole enum answer"
    assert httpx.get(f"{hostile.url}/health", timeout=30).status_code == 200
    assert big.done.wait(120)
    assert big.error is None and big.finish_reason == "stop", big.error
    assert json.loads("".join(big.pieces)) in schema["enum"]


# -- finding 7: keep_alive that no clock can hold --------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e300", '"1e300"'])
def test_an_absurd_keep_alive_is_a_400_and_ps_keeps_answering(hostile, value):
    for path, extra in (
        ("/api/generate", ""),
        ("/api/chat", ', "messages": []'),
        ("/api/embed", ', "input": "hi"'),
    ):
        r = post(hostile, path, f'{{"model": "smollm2", "keep_alive": {value}{extra}}}')
        assert r.status_code == 400, (path, r.text)
        assert "keep_alive" in message(r)
    ps = httpx.get(f"{hostile.url}/api/ps", timeout=30)
    assert ps.status_code == 200
    assert [m["name"] for m in ps.json()["models"]] == ["smollm2"]


# -- finding 8: logit_bias and stop strings -------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "101", "-100.5"])
def test_logit_bias_values_are_finite_and_within_100(hostile, value):
    body = json.dumps(BASE)[:-1] + f', "logit_bias": {{"42": {value}}}}}'
    r = post(hostile, CHAT, body)
    assert r.status_code == 400, r.text
    assert "logit_bias" in message(r)


def test_logit_bias_of_100_either_way_is_taken(hostile):
    r = post(hostile, CHAT, {**BASE, "logit_bias": {"42": -100, "43": 100}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("key", [" 7 ", "1_000", "-0", "٣", "+7", "07", "7.0", ""])
def test_logit_bias_keys_are_decimal_token_ids(hostile, key):
    r = post(hostile, CHAT, {**BASE, "logit_bias": {key: 1}})
    assert r.status_code == 400, r.text
    assert "is not a token id" in message(r)


def test_both_apis_take_16_stop_strings_and_no_more(hostile):
    for count, status in ((16, 200), (17, 400)):
        stops = [f"stop{i}" for i in range(count)]
        openai_r = post(hostile, CHAT, {**BASE, "stop": stops})
        options = {**OLLAMA["options"], "stop": stops}
        ollama_r = post(hostile, "/api/chat", {**OLLAMA, "options": options})
        assert (openai_r.status_code, ollama_r.status_code) == (status, status), ollama_r.text
    assert "at most 16" in message(openai_r) and "at most 16" in message(ollama_r)


def test_the_ollama_client_sees_a_refused_format_as_a_400(hostile):
    with pytest.raises(ollama.ResponseError) as refused:
        ollama.Client(host=hostile.url, timeout=90).chat(
            model="smollm2", messages=HI, format={"enum": []}
        )
    assert refused.value.status_code == 400
