"""/api/chat fits a conversation to `options.num_ctx` by dropping its oldest turns, as Ollama."""

from __future__ import annotations

import httpx


def turns(count: int, words: int) -> list[dict]:
    said = [{"role": "system", "content": "You keep notes."}]
    for i in range(count):
        said.append({"role": "user", "content": f"note {i}: " + "word " * words})
        said.append({"role": "assistant", "content": f"noted {i}"})
    return [*said, {"role": "user", "content": "what was the last note?"}]


def chat(live, messages: list[dict], **options) -> httpx.Response:
    body = {"model": "smollm2", "messages": messages, "stream": False, "options": options}
    return httpx.post(f"{live.url}/api/chat", json=body, timeout=120)


def chatml_tokens(model, messages: list[dict]) -> int:
    """How many tokens SmolLM2's template (ChatML, written out here) makes of `messages`."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return len(model.engine.tokenize(text + "<|im_start|>assistant\n", add_bos=True))


def test_num_ctx_below_the_conversation_drops_the_oldest_turns(live, model):
    system = {"role": "system", "content": "You keep notes."}
    exchanges = [  # each note longer than the one before: which ones stayed shows in the count
        [
            {"role": "user", "content": f"note {i}: " + "word " * (20 + 12 * i)},
            {"role": "assistant", "content": f"noted {i}"},
        ]
        for i in range(6)
    ]
    question = {"role": "user", "content": "what was the last note?"}

    def keeping(kept: list[list[dict]]) -> list[dict]:
        return [system, *(m for exchange in kept for m in exchange), question]

    whole = chat(live, keeping(exchanges), num_predict=4, temperature=0)
    assert whole.status_code == 200
    assert whole.json()["prompt_eval_count"] == chatml_tokens(model, keeping(exchanges))
    r = chat(live, keeping(exchanges), num_ctx=256, num_predict=4, temperature=0)
    assert r.status_code == 200, r.text
    answer = r.json()
    # the fewest oldest exchanges dropped for the prompt to leave the answer its 4 tokens
    first = next(k for k in range(7) if chatml_tokens(model, keeping(exchanges[k:])) <= 252)
    assert 0 < first < 6
    assert answer["prompt_eval_count"] == chatml_tokens(model, keeping(exchanges[first:]))
    assert answer["prompt_eval_count"] + answer["eval_count"] <= 256
    # as many of the newest exchanges dropped instead would have counted otherwise
    newest_dropped = chatml_tokens(model, keeping(exchanges[: 6 - first]))
    assert newest_dropped != answer["prompt_eval_count"]


def test_truncate_false_still_refuses_to_drop_turns(live):
    body = {
        "model": "smollm2",
        "messages": turns(6, 60),
        "stream": False,
        "truncate": False,
        "options": {"num_ctx": 256},
    }
    r = httpx.post(f"{live.url}/api/chat", json=body, timeout=120)
    assert r.status_code == 400
    assert "truncate is false" in r.json()["error"]
