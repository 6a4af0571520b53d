"""Where scores come from: a model in the store, or any OpenAI-compatible server.

Both answer the same three questions, so every task runs unchanged on either:
* `loglikelihood(context, continuation)`: log P(continuation | context), and whether the
  continuation is the greedy one (through `Model.loglikelihood`, or `/v1/completions` with
  `echo`, `logprobs` and `max_tokens: 0`, the continuation cut at its text offset);
* `token_logprobs(tokens)`: the logprob of each token after the first (perplexity);
* `chat(messages, max_tokens)`: a greedy answer (generative tasks, chat-only endpoints);
* `call_tools(messages, ask)`: a greedy answer to a request with tools (`ToolAsk`), as the
  calls it made (function calling, BFCL): through danlu's own tool calling (`chat/tools`:
  the format's grammar, lazy under `tool_choice: auto`, full under `required`, and its
  parser), or the server's `tool_calls`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from danlu.chat.tools import ToolChoice, prepare_tools, tool_specs
from danlu.engine.base import Completion
from danlu.errors import BackendError, ContextOverflow, InvalidRequest
from danlu.model import Model

# text that starts a tool call in the formats models are taught: Hermes tags, Mistral's
# marker, Llama's <function=...>, or a JSON object opening with a call's own key
ATTEMPTED_CALL = re.compile(
    r'<tool_call>|\[TOOL_CALLS\]|<function[=>]|^\s*\[?\s*\{\s*"(name|tool_call|function)"\s*:'
)


@dataclass(frozen=True)
class ToolAsk:
    """A request with tools: the tools (OpenAI dicts), `choice` (`auto`, or `required`: a
    call must be made), the answer's length, and whether danlu's call grammar shapes the
    answer (store models; a server decodes calls its own way)."""

    tools: list[dict[str, Any]]
    max_tokens: int
    choice: Literal["auto", "required"] = "auto"
    grammar: bool = True


@dataclass(frozen=True)
class ToolReply:
    """An answer to a request with tools.

    `calls` are (name, arguments as JSON text); `malformed` is set when a finished answer
    tried a call that could not be read as one (call text left unparsed, arguments that
    are not a JSON object, a server that failed on its own parse); `cut_off` when the
    answer ran out of tokens in the middle of a call instead; `error` says why an answer
    is missing (the prompt did not fit, the server's error).
    """

    calls: list[tuple[str, str]]
    text: str
    malformed: bool = False
    cut_off: bool = False
    error: str | None = None

    @classmethod
    def judged(cls, calls: list[tuple[str, str]], text: str, raw: str, length: bool) -> ToolReply:
        """A reply whose raw output `raw` gave `calls`: a call attempted but not read is
        cut off when the answer hit its length limit (`length`), malformed otherwise."""
        unread = (not calls and attempted_call(raw)) or not all(_is_object(a) for _, a in calls)
        return cls(calls, text, malformed=unread and not length, cut_off=unread and length)


def attempted_call(text: str) -> bool:
    """True when `text` holds the start of a tool call."""
    return bool(ATTEMPTED_CALL.search(text))


def _is_object(arguments: str) -> bool:
    try:
        return isinstance(json.loads(arguments), dict)
    except (TypeError, ValueError):
        return False


class Scorer(Protocol):
    name: str

    def loglikelihood(self, context: str, continuation: str) -> tuple[float, bool]: ...

    def tokenize(self, text: str) -> list[int]: ...

    def token_logprobs(self, tokens: list[int]) -> list[float]: ...

    def chat(self, messages: list[dict[str, str]], max_tokens: int) -> str: ...

    def call_tools(self, messages: list[dict[str, Any]], ask: ToolAsk) -> ToolReply: ...

    def describe(self) -> dict[str, Any]: ...


class ModelScorer:
    """Scores through a loaded model's own engine.

    It starts from an empty prompt cache: llama.cpp's numbers differ slightly with the
    batch shape, so a prompt half-served from an earlier run's cache can flip a greedy
    near-tie. From the same start, two evaluations compute the same shapes and agree.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.name = model.name
        model.engine.reset()

    def loglikelihood(self, context: str, continuation: str) -> tuple[float, bool]:
        scored = self.model.loglikelihood(context, continuation)
        return scored.logprob, scored.is_greedy

    def tokenize(self, text: str) -> list[int]:
        return self.model.engine.tokenize(text, add_bos=True)

    def token_logprobs(self, tokens: list[int]) -> list[float]:
        return list(self.model.engine.loglikelihood(tokens[:1], tokens[1:]).token_logprobs)

    def chat(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        return self.model.chat(messages, temperature=0, max_tokens=max_tokens).text

    def call_tools(self, messages: list[dict[str, Any]], ask: ToolAsk) -> ToolReply:
        """As the server answers a request with tools; without `ask.grammar` the same
        prompt is decoded without the format's grammar (the model alone)."""
        model = self.model
        prepared = prepare_tools(
            model.template,
            model.conversation(messages),
            tool_specs(ask.tools),
            ToolChoice(ask.choice),
        )
        shaping = prepared.sampling(None) if ask.grammar else {}
        try:
            prompt = model.prepare_chat(
                prepared.messages,
                tools=prepared.template_tools,
                trim=False,
                temperature=0,
                max_tokens=ask.max_tokens,
                **shaping,
            )
        except ContextOverflow as exc:
            return ToolReply([], "", error=str(exc))
        done = Completion.collect(model.stream(prompt))
        parsed = prepared.format.parse(done.text) if prepared.format else None
        calls = [(c.name, c.arguments) for c in parsed.calls] if parsed else []
        content = parsed.content if parsed else done.text
        return ToolReply.judged(calls, content, done.text, done.finish_reason == "length")

    def describe(self) -> dict[str, Any]:
        manifest = self.model.manifest
        return {
            "model": manifest.name,
            "source": "store",
            "manifest": manifest.model_dump(mode="json"),
            "template": self.model.template.name,
        }


class ServerScorer:
    """Scores through an OpenAI-compatible server (`danlu serve`, llama-server, vLLM...)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None) -> None:
        self.base = base_url.rstrip("/").removesuffix("/v1")
        self.name = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=600)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(path, json={"model": self.name, **body})
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {self.base}: {exc}") from None
        if response.status_code >= 400:
            raise InvalidRequest(
                f"{self.base}{path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def _echo(self, prompt: str | list[int]) -> dict[str, Any]:
        body = {"prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 0, "temperature": 0}
        return self._post("/v1/completions", body)["choices"][0]["logprobs"]

    def loglikelihood(self, context: str, continuation: str) -> tuple[float, bool]:
        lp = self._echo(context + continuation)
        total, greedy = 0.0, True
        for token, logprob, offset, top in zip(
            lp["tokens"],
            lp["token_logprobs"],
            lp["text_offset"],
            lp["top_logprobs"],
            strict=True,
        ):
            if offset < len(context) or logprob is None:
                continue
            total += logprob
            greedy = greedy and bool(top) and max(top, key=top.get) == token
        return total, greedy

    def tokenize(self, text: str) -> list[int]:
        return self._post("/tokenize", {"content": text, "add_special": True})["tokens"]

    def token_logprobs(self, tokens: list[int]) -> list[float]:
        return self._echo(tokens)["token_logprobs"][1:]

    def chat(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0}
        return self._post("/v1/chat/completions", body)["choices"][0]["message"]["content"] or ""

    def call_tools(self, messages: list[dict[str, Any]], ask: ToolAsk) -> ToolReply:
        """The server's own tool calling; its error on an answer is that item's error (a
        5xx counts as malformed: llama-server fails a call it cannot parse that way)."""
        if not ask.grammar:
            raise InvalidRequest(
                "--no-tool-grammar applies to models in the store",
                hint="a server decodes calls its own way",
            )
        body = {
            "messages": messages,
            "tools": ask.tools,
            "tool_choice": ask.choice,
            "max_tokens": ask.max_tokens,
            "temperature": 0,
        }
        try:
            response = self.http.post("/v1/chat/completions", json={"model": self.name, **body})
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {self.base}: {exc}") from None
        if response.status_code >= 400:
            error = f"{response.status_code}: {response.text[:300]}"
            return ToolReply([], "", malformed=response.status_code >= 500, error=error)
        choice = response.json()["choices"][0]
        message = choice["message"]
        calls = [_server_call(c) for c in message.get("tool_calls") or []]
        text = message.get("content") or ""
        return ToolReply.judged(calls, text, text, choice.get("finish_reason") == "length")

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "source": "server", "url": self.base}

    def close(self) -> None:
        self.http.close()


def _server_call(call: dict[str, Any]) -> tuple[str, str]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return str(function.get("name")), arguments
