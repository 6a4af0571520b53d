"""POST /v1/completions: raw text completion, with echo + logprobs for evaluation harnesses."""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from danlu.engine.base import Completion, TokenLogprob, Usage
from danlu.engine.tokens import check_token_ids
from danlu.errors import InvalidRequest
from danlu.model import Model, Prompt
from danlu.server.openai.format import completion_id, sse, sse_error, sse_tail, usage_json
from danlu.server.openai.schemas import Batchable, CompletionRequest, as_batch
from danlu.server.runner import collect_many, hold_and_plan, merge_streams
from danlu.server.state import ServerState, state
from danlu.server.timefmt import keep_alive_seconds

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint


def _token_lists(model: Model, prompt: Batchable) -> list[list[int]]:
    """Each prompt as tokens: texts tokenized, id lists checked against the vocabulary."""
    items = as_batch(prompt)
    if not items:
        raise InvalidRequest("prompt must not be an empty list")
    lists = []
    for item in items:
        if isinstance(item, str):
            lists.append(model.engine.tokenize(item, add_bos=True))
        else:
            check_token_ids(item, model.engine.n_vocab, "prompt token id")
            lists.append(list(item))
    if not all(lists):
        raise InvalidRequest("the prompt is empty", hint="send at least one token of text")
    return lists


class CompletionPlan:
    def __init__(self, body: CompletionRequest, model: Model) -> None:
        max_tokens = DEFAULT_MAX_TOKENS if body.max_tokens is None else body.max_tokens
        params = body.sampling(max_tokens or None)
        if body.logprobs is not None:
            params["logprobs"] = body.logprobs
            params["post_sampling_probs"] = bool(body.post_sampling_probs)
        self.echo_only = max_tokens == 0
        self.sources = _token_lists(model, body.prompt)
        base = model.params(**params)
        self.prompts: list[Prompt] = []
        for tokens in self.sources:
            for i in range(body.n):
                seed = None if base.seed is None else base.seed + i
                prompt = Prompt(tokens, base.model_copy(update={"seed": seed}))
                self.prompts.append(model.within(prompt, body.n_ctx))


def _piece(model: Model, token: int) -> str:
    """A token's text; one that holds part of a UTF-8 character keeps its bytes, written as
    OpenAI writes them ("bytes:\\xe4\\xb8"), so nothing is lost to U+FFFD."""
    raw = model.engine.piece(token)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in raw)


def _prompt_logprobs(model: Model, tokens: list[int], top: int) -> dict[str, list]:
    """Legacy-format logprobs of the prompt itself (the first token has none)."""
    if not tokens:
        return _concat()
    first = _piece(model, tokens[0])
    head = {"tokens": [first], "token_logprobs": [None], "top_logprobs": [None], "text_offset": [0]}
    if len(tokens) == 1:
        return head
    scored = model.engine.loglikelihood(tokens[:1], tokens[1:], top=top)
    items = [
        TokenLogprob(token, logprob, ranked[:top])
        for token, logprob, ranked in zip(
            tokens[1:], scored.token_logprobs, scored.alternatives, strict=True
        )
    ]
    return _concat(head, _gen_logprobs(model, items, 0, model.engine.piece(tokens[0])))


def _gen_logprobs(
    model: Model, items: Sequence[TokenLogprob], start: int, before: bytes = b""
) -> dict[str, list]:
    """Legacy-format logprobs of a stretch of tokens that begins at character `start` of the
    returned text; `before` holds the bytes of the stretch's earlier tokens.

    Offsets index the text as returned: a token's offset is the number of characters that
    the bytes before it decode to (a character cut between tokens counts once it is whole).
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pos = start + len(decoder.decode(before))
    pieces, lps, tops, offsets = [], [], [], []
    for item in items:
        pieces.append(_piece(model, item.token))
        lps.append(item.logprob)
        tops.append({_piece(model, t): lp for t, lp in item.top})
        offsets.append(pos)
        pos += len(decoder.decode(model.engine.piece(item.token)))
    return {"tokens": pieces, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


def _concat(*parts: dict[str, list]) -> dict[str, list]:
    """Legacy logprobs of consecutive stretches of text, as one."""
    keys = ("tokens", "token_logprobs", "top_logprobs", "text_offset")
    return {key: [v for part in parts for v in part[key]] for key in keys}


def _choice(
    model: Model, body: CompletionRequest, index: int, tokens: list[int], result: Completion | None
) -> dict[str, Any]:
    prefix = model.engine.detokenize(tokens) if body.echo else ""
    logprobs = None
    if body.logprobs is not None:
        echoed = _prompt_logprobs(model, tokens, body.logprobs) if body.echo else _concat()
        generated = _gen_logprobs(model, result.logprobs, len(prefix)) if result else _concat()
        logprobs = _concat(echoed, generated)
    text = prefix + (result.text if result else "")
    reason = result.finish_reason if result else "length"
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": reason}


async def completions(body: CompletionRequest, request: Request):
    ctx = state(request)
    holding = ctx.pool.use(body.model, keep_alive_seconds(body.keep_alive), jobs=body.jobs)
    stack, model, plan = await hold_and_plan(holding, lambda m: CompletionPlan(body, m))
    if body.stream:
        return StreamingResponse(
            _stream(ctx, model, plan, body, request, stack),
            media_type="text/event-stream",
            background=BackgroundTask(stack.aclose),
        )
    async with stack:
        if plan.echo_only:
            results: list[Completion | None] = [None] * len(plan.prompts)
        else:
            results = await collect_many(ctx, model, plan.prompts, request)
        pairs = list(enumerate(zip(plan.prompts, results, strict=True)))
        # scoring the echoed prompt waits on the decoding thread: keep the event loop free
        choices = await asyncio.to_thread(
            lambda: [_choice(model, body, i, p.tokens, r) for i, (p, r) in pairs]
        )
    done = [r.usage for r in results if r is not None]
    usage = Usage(
        sum(len(t) for t in plan.sources),
        sum(u.completion_tokens for u in done),
        sum(u.cached_tokens for u in done),
    )
    return {
        "id": completion_id("cmpl"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model.name,
        "choices": choices,
        "usage": usage_json(usage),
    }


async def _stream(
    ctx: ServerState,
    model: Model,
    plan: CompletionPlan,
    body,
    request: Request,
    stack: AsyncExitStack,
) -> AsyncIterator[bytes]:
    cid, created = completion_id("cmpl"), int(time.time())
    completion_tokens = cached = 0
    starts = [0] * len(plan.prompts)  # where each choice's generated text starts (after echo)
    raw = [b""] * len(plan.prompts)  # the bytes of each choice's generated tokens so far

    def frame(i: int, text: str, reason=None, logprobs=None) -> bytes:
        return sse(_frame(cid, created, model, i, text, reason, logprobs))

    async with stack:
        try:
            if body.echo:
                for i, p in enumerate(plan.prompts):
                    text, logprobs = await asyncio.to_thread(_echo, model, body, p.tokens)
                    starts[i] = len(text)
                    yield frame(i, text, None, logprobs)
            if plan.echo_only:
                for i in range(len(plan.prompts)):
                    yield frame(i, "", "length")
            else:
                async for i, chunk in merge_streams(ctx, model, plan.prompts, request):
                    logprobs = None
                    if body.logprobs is not None and chunk.logprobs:
                        logprobs = _gen_logprobs(model, chunk.logprobs, starts[i], raw[i])
                        raw[i] += b"".join(model.engine.piece(t.token) for t in chunk.logprobs)
                    if chunk.text or logprobs:
                        yield frame(i, chunk.text, None, logprobs)
                    if chunk.finish_reason:
                        yield frame(i, "", chunk.finish_reason)
                        if chunk.usage is not None:
                            completion_tokens += chunk.usage.completion_tokens
                            cached += chunk.usage.cached_tokens
        except Exception as exc:
            yield sse_error(exc)
            return
    usage = Usage(sum(len(t) for t in plan.sources), completion_tokens, cached)
    head = {"id": cid, "object": "text_completion", "created": created, "model": model.name}
    for frame in sse_tail(head, usage, body.include_usage):
        yield frame


def _echo(model: Model, body, tokens: list[int]) -> tuple[str, dict[str, list] | None]:
    """The echoed prompt and, when asked, its logprobs (waits on the decoding thread)."""
    text = model.engine.detokenize(tokens)
    if body.logprobs is None:
        return text, None
    return text, _prompt_logprobs(model, tokens, body.logprobs)


def _frame(
    cid: str, created: int, model: Model, index: int, text: str, reason, logprobs=None
) -> dict:
    choice = {"index": index, "text": text, "logprobs": logprobs, "finish_reason": reason}
    return {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model.name,
        "choices": [choice],
    }
