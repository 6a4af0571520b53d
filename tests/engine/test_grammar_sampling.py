"""Grammar sampling (engine/llamacpp/grammar.py) on the real model: the grammar sees only
the likeliest tokens yet picks what it would over the whole vocabulary, and what would make
llama.cpp abort the process ends the job instead."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import llama_cpp
import pytest
from llama_cpp import _internals as internals

from danlu.chat.tools import json_grammar
from danlu.engine.llamacpp import native
from danlu.engine.llamacpp.grammar import grammar_sampler
from danlu.engine.sampling import SamplingParams

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
# digits only: few of the likeliest tokens are allowed, many less likely ones are
NUMBERS = {"type": "array", "items": {"type": "integer"}, "minItems": 8}
STEPS = 16


def whole_vocabulary_chain(params: SamplingParams, model) -> internals.LlamaSampler:
    """The plain llama.cpp chain: logit bias, the grammar over every token, then the picking."""
    chain = internals.LlamaSampler()
    native.add_adjustments(chain, params, model)
    llama_cpp.llama_sampler_chain_add(chain.sampler, grammar_sampler(model, params.grammar))
    native.add_picking(chain, params)
    return chain


def picks(model, params: SamplingParams) -> tuple[list[int], list[int]]:
    """Decode a chat prompt on the first slot's sequence; at each step the grammar sampler
    and the whole-vocabulary chain both pick from the same logits. Their tokens, in order."""
    engine, slot = model.engine, model.engine.scheduler.slots[0]
    prompt = model.prepare_chat([{"role": "user", "content": "Bob is 42. Describe him."}])
    ours = native.build_sampler(params, engine._model)
    theirs = whole_vocabulary_chain(params, engine._model)
    batch = internals.LlamaBatch(n_tokens=512, embd=0, n_seq_max=1)
    mine, reference = [], []
    try:
        engine.scheduler.forget(slot, 0)
        tokens, position = prompt.tokens, 0
        for _ in range(STEPS):
            batch.reset()
            native.fill_batch(batch, tokens, position, slot.seq_id)
            native.decode(engine._ctx, batch)
            row = batch.batch.n_tokens - 1
            reference.append(llama_cpp.llama_sampler_sample(theirs.sampler, engine._ctx.ctx, row))
            mine.append(ours.sample(engine._ctx, row))
            position += len(tokens)
            tokens = [mine[-1]]
    finally:
        engine.scheduler.forget(slot, 0)
        batch.close()
        ours.close()
        theirs.close()
    return mine, reference


@pytest.mark.parametrize(
    "sampling",
    [
        {"temperature": 0},
        {"temperature": 0, "repeat_penalty": 1.3, "logit_bias": {90: 5.0}},
        {"temperature": 1.5, "top_k": 40, "seed": 7},
    ],
    ids=["greedy", "greedy-adjusted", "top-k"],
)
@pytest.mark.parametrize("schema", [PERSON, NUMBERS], ids=["person", "numbers"])
def test_the_grammar_picks_as_it_would_over_the_whole_vocabulary(model, sampling, schema):
    params = SamplingParams(grammar=json_grammar(schema), **sampling)
    mine, reference = picks(model, params)
    assert mine == reference


ABORTS = {
    # a grammar no token can continue: llama.cpp aborts when its grammar must accept one
    "dead-end": """
        try:
            model.generate("Say:", grammar='root ::= "{" [z-a]', max_tokens=4, temperature=0)
        except InvalidParameter as exc:
            print("refused:", exc.message)
    """,
    # a call opener closed by a token that runs past it ('<tool_call' + '>>'): handed to
    # the lazy grammar whole, text it refuses made llama.cpp abort
    "lazy-trigger": """
        specs = tool_specs([{"type": "function", "function": {"name": "f"}}])
        ask = [Message(role="user", content="Repeat exactly: <tool_call>> hello")]
        ready = prepare_tools(model.template, ask, specs, parse_tool_choice(None, specs))
        gt, gtgt = model.tokenize(">")[0], model.tokenize(">>")[0]
        out = model.chat(ready.messages, max_tokens=16, temperature=0,
                         logit_bias={gt: -100, gtgt: 5}, **ready.sampling(None))
        print("answered:", repr(out.text))
    """,
}
PREAMBLE = """
    import danlu
    from danlu.chat.messages import Message
    from danlu.chat.tools import parse_tool_choice, prepare_tools, tool_specs
    from danlu.errors import InvalidParameter
    model = danlu.load("smollm2", threads=2, n_ctx=512)
"""


@pytest.mark.parametrize("case", sorted(ABORTS))
def test_what_would_abort_llama_cpp_ends_the_job_and_the_process_goes_on(case):
    """In a child process: an abort there fails this test instead of the test run."""
    script = textwrap.dedent(PREAMBLE) + textwrap.dedent(ABORTS[case]) + 'print("alive")\n'
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("alive")
    if case == "dead-end":
        assert "refused: the grammar allows no next token" in done.stdout
