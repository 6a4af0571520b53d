"""The sampling inspector: `danlu run --show-probs K` and the REPL's /probs, against the
server's `top_logprobs` for the same request (post_sampling_probs)."""

from __future__ import annotations

import json
import math
import re

import openai
import pytest

from danlu.server import ServerSettings
from tests.cli.terminal import ask
from tests.server.conftest import start_server, stop_server

QUESTION = "Name three colours of the rainbow."
SAME_LOAD = ("-c", "2048", "-t", "2")  # the server below loads the model the same way
CELL = re.compile(r'([ *])("(?:[^"\\]|\\.)*") ([<\d.]+%)')  # a candidate: mark, piece, p


def inspect(danlu, *flags: str) -> list[dict]:
    """`danlu run --show-probs 5 --json`'s per-token records."""
    result = danlu("run", "smollm2", QUESTION, "--show-probs", "5", "--json", *SAME_LOAD, *flags)
    assert result.code == 0, result.err
    records = json.loads(result.out)["probs"]
    assert records, "no token was inspected"
    return records


def test_greedy_picks_the_top_candidate_every_time(danlu):
    result = danlu("run", "smollm2", QUESTION, "--temp", "0", "-n", "12", "--show-probs", "5")
    assert result.code == 0, result.err
    lines = [line for line in result.out.splitlines() if line[:4].strip().isdigit()]
    assert len(lines) == 12
    for line in lines:
        marks = [mark for mark, _, _ in CELL.findall(line)]
        assert marks[0] == "*", line  # the first (likeliest) candidate is the pick
    records = inspect(danlu, "--temp", "0", "-n", "12")
    assert all(r["id"] == r["top"][0]["id"] for r in records)


def test_top_k_1_shows_one_candidate(danlu):
    records = inspect(danlu, "--temp", "1.0", "--top-k", "1", "--seed", "3", "-n", "10")
    assert all(len(r["top"]) == 1 and r["top"][0]["id"] == r["id"] for r in records)
    assert all(r["p"] == pytest.approx(1.0) for r in records)


def test_the_shown_candidates_are_the_ones_the_chain_kept(danlu):
    """With top-k 3 every survivor is shown (K is 5): their probabilities sum to 1."""
    records = inspect(danlu, "--temp", "1.0", "--top-k", "3", "--seed", "5", "-n", "10")
    for record in records:
        assert 1 <= len(record["top"]) <= 3
        assert sum(c["p"] for c in record["top"]) == pytest.approx(1.0, abs=1e-5)
        assert record["id"] in {c["id"] for c in record["top"]}


@pytest.fixture(scope="module")
def one_slot_server(tmp_path_factory):
    """A server that loads smollm2 as `danlu run` does: one slot, 2048 tokens, 2 threads."""
    settings = ServerSettings(models=["smollm2"], parallel=1, n_ctx=2048, threads=2)
    server = start_server(settings, tmp_path_factory.mktemp("probs-server"))
    yield openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0, timeout=120)
    stop_server(server)


def test_probabilities_sum_to_at_most_1_and_match_the_server(danlu, one_slot_server):
    flags = {"temperature": 0.9, "seed": 7, "max_tokens": 12}
    records = inspect(danlu, "--temp", "0.9", "--seed", "7", "-n", "12")
    response = one_slot_server.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": QUESTION}],
        logprobs=True,
        top_logprobs=5,
        extra_body={"post_sampling_probs": True},
        **flags,
    )
    served = response.choices[0].logprobs.content
    assert [r["token"] for r in records] == [t.token for t in served]
    for record, token in zip(records, served, strict=True):
        shown = [c["p"] for c in record["top"]]
        assert sum(shown) <= 1 + 1e-6
        assert record["p"] == pytest.approx(math.exp(token.logprob), abs=1e-4)
        assert shown == pytest.approx([math.exp(t.logprob) for t in token.top_logprobs], abs=1e-4)
    raw = one_slot_server.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": QUESTION}],
        logprobs=True,
        top_logprobs=5,
        **flags,
    )
    raw_top = [math.exp(t.top_logprobs[0].logprob) for t in raw.choices[0].logprobs.content]
    assert raw_top != pytest.approx([r["top"][0]["p"] for r in records], abs=1e-3)


def test_probs_toggles_the_inspector_in_the_chat(chat):
    child = chat("--temp", "0", "-n", "6")
    assert "sampling inspector on, top 3" in ask(child, "/probs 3")
    shown = ask(child, "Say hi.")
    assert '*"' in shown and "100.0%" in shown
    assert "sampling inspector off" in ask(child, "/probs")
    assert '*"' not in ask(child, "Say hi.")
    assert "sampling inspector on, top 5" in ask(child, "/probs")
    assert "takes a number, on or off" in ask(child, "/probs maybe")


def test_under_a_grammar_only_allowed_tokens_are_candidates(danlu):
    """The grammar masks before the picking: every candidate can start 'yes' or 'no'."""
    records = inspect(danlu, "--grammar", 'root ::= "yes" | "no"', "--temp", "1.0", "--seed", "2")
    first = records[0]
    assert first["top"] and all(
        "yes".startswith(c["token"]) or "no".startswith(c["token"]) for c in first["top"]
    )
    assert sum(c["p"] for c in first["top"]) == pytest.approx(1.0, abs=1e-5)
    assert "".join(r["token"] for r in records) in ("yes", "no")


def test_completions_give_the_chains_probabilities_when_asked(one_slot_server):
    """/v1/completions takes post_sampling_probs too: with top-k 1 the chain keeps one
    candidate, so each token's post-chain probability is 1; without it, the raw ones."""
    ask = {"model": "smollm2", "prompt": "The sea is", "max_tokens": 6, "seed": 3}
    ask |= {"temperature": 0.8, "logprobs": 3, "extra_body": {"top_k": 1}}
    chained = one_slot_server.completions.create(
        **ask | {"extra_body": {"top_k": 1, "post_sampling_probs": True}}
    ).choices[0]
    assert chained.logprobs.token_logprobs == pytest.approx([0.0] * 6, abs=1e-6)
    assert [len(top) for top in chained.logprobs.top_logprobs] == [1] * 6
    raw = one_slot_server.completions.create(**ask).choices[0]
    assert raw.text == chained.text  # the same picks: only what is reported differs
    assert all(lp < -1e-3 for lp in raw.logprobs.token_logprobs[:1])
    assert [len(top) for top in raw.logprobs.top_logprobs] == [3] * 6
