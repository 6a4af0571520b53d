"""Where scores come from: a model in the store, or any OpenAI-compatible server.

Both answer the same three questions, so every task runs unchanged on either:
* `loglikelihood(context, continuation)`: log P(continuation | context), and whether the
  continuation is the greedy one (through `Model.loglikelihood`, or `/v1/completions` with
  `echo`, `logprobs` and `max_tokens: 0`, the continuation cut at its text offset);
* `token_logprobs(tokens)`: the logprob of each token after the first (perplexity);
* `chat(messages, max_tokens)`: a greedy answer (generative tasks, chat-only endpoints).
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from danlu.errors import BackendError, InvalidRequest
from danlu.model import Model


class Scorer(Protocol):
    name: str

    def loglikelihood(self, context: str, continuation: str) -> tuple[float, bool]: ...

    def tokenize(self, text: str) -> list[int]: ...

    def token_logprobs(self, tokens: list[int]) -> list[float]: ...

    def chat(self, messages: list[dict[str, str]], max_tokens: int) -> str: ...

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

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "source": "server", "url": self.base}

    def close(self) -> None:
        self.http.close()
