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


def test_num_ctx_below_the_conversation_drops_the_oldest_turns(live):
    messages = turns(6, 60)
    whole = chat(live, messages, num_predict=4, temperature=0)
    assert whole.status_code == 200
    assert whole.json()["prompt_eval_count"] > 400  # the whole conversation went in
    r = chat(live, messages, num_ctx=256, num_predict=4, temperature=0)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["prompt_eval_count"] + answer["eval_count"] <= 256
    assert answer["prompt_eval_count"] > 64  # the system prompt and the newest turns stayed


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
