"""`danlu kb ...` in-process: thin commands, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture


def test_create_add_search_show_ls_rm(danlu, corpus: Path):  # noqa: F811
    assert danlu("kb", "create", "hb").code == 0
    added = danlu("kb", "add", "hb", str(corpus / "handbook.md"), str(corpus / "leave_zh.md"))
    assert added.code == 0 and added.out.startswith("added 2, updated 0, unchanged 0")
    found = danlu("kb", "search", "hb", "年假怎么申请", "-k", "2", "--json")
    hits = json.loads(found.out)
    assert Path(hits[0]["path"]).name == "leave_zh.md" and hits[0]["headings"]
    shown = json.loads(danlu("kb", "show", "hb", "--json").out)
    assert shown["embedder"] == "minilm" and shown["counts"]["files"] == 2
    assert danlu("kb", "ls").out.split() == ["hb"]
    assert danlu("kb", "rm", "hb").out == "deleted hb\n"
    assert danlu("kb", "ls").out.strip() == ""


def test_errors_are_one_line(danlu, tmp_path: Path):  # noqa: F811
    missing = danlu("kb", "search", "nope", "anything")
    assert missing.code == 1
    assert missing.err == (
        "error: no knowledge base named 'nope' (create it with `danlu kb create nope`; "
        "`danlu kb ls` lists them)\n"
    )
    assert danlu("kb", "create", "hb").code == 0
    gone = danlu("kb", "add", "hb", str(tmp_path / "nowhere"))
    assert gone.code == 1 and gone.err.startswith("error: no such file or folder:")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF garbage")
    skipped = danlu("kb", "add", "hb", str(tmp_path / "broken.pdf"))
    assert skipped.code == 0 and "skipped" in skipped.err and "damaged PDF" in skipped.err


def test_eval_reports_retrieval_metrics(danlu, corpus: Path, tmp_path: Path):  # noqa: F811
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "How do I reset my password?", "gold": "faq.html", '
        '"contains": "Forgot password"}\n'
        '{"question": "年假怎么申请？", "gold": "leave_zh.md"}\n',
        encoding="utf-8",
    )
    danlu("kb", "create", "hb")
    danlu("kb", "add", "hb", str(corpus))
    report = json.loads(danlu("kb", "eval", "hb", str(questions), "--json").out)
    assert report["hit_rate"] == 1.0 and report["mrr"] == 1.0 and report["ndcg"] > 0.5


def test_a_postgres_kb_from_the_cli(danlu, corpus: Path, pg_url: str):  # noqa: F811
    assert danlu("kb", "create", "pgcli", "--store", pg_url).code == 0
    assert danlu("kb", "add", "pgcli", str(corpus / "faq.html")).code == 0
    shown = json.loads(danlu("kb", "show", "pgcli", "--json").out)
    assert shown["store"] == pg_url and shown["counts"]["files"] == 1
    hits = json.loads(danlu("kb", "search", "pgcli", "如何连接无线网络", "--json").out)
    assert "Northwind-Staff" in hits[0]["text"]
    assert danlu("kb", "rm", "pgcli").code == 0


def test_ask_streams_an_answer_with_sources_or_abstains(danlu, corpus: Path):  # noqa: F811
    danlu("kb", "create", "hb")
    danlu("kb", "add", "hb", str(corpus / "faq.html"))
    answered = danlu(
        "kb", "ask", "hb", "How do I reset my password?", "--show-sources", "--temp", "0", "-n", "8"
    )
    assert answered.code == 0
    assert answered.out.startswith("[1] ") and "faq.html" in answered.out.splitlines()[0]
    assert "Forgot password" in answered.out
    # an abstention runs no model: even one that is not there is not loaded
    unknown = danlu("kb", "ask", "hb", "Who won the world cup in 1954?", "-m", "nope", "--json")
    assert unknown.code == 0
    body = json.loads(unknown.out)
    assert body["abstained"] and body["sources"] == [] and body["citations"] == []
