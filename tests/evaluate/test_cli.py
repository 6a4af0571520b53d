"""`danlu eval` and `danlu eval report`, in process, on the real model."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture

DATA = Path(__file__).parents[1] / "data" / "eval"


def test_eval_prints_a_table_and_report_writes_markdown_and_png(danlu, danlu_home, tmp_path):  # noqa: F811
    r = danlu("eval", "smollm2", "--task", "mc", "--data", str(DATA / "mc.jsonl"), "-c", "512")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "| model | mc (acc) |"
    assert r.out.splitlines()[2].startswith("| smollm2 | ") and "(n=5)" in r.out
    run = Path(r.err.split("results: ")[1].split()[0]).parent
    assert run.parent == danlu_home / "runs" and run.name.startswith("eval-smollm2-mc-")
    again = danlu(
        "eval",
        "smollm2",
        "--task",
        "mmlu",
        "--data",
        str(DATA / "mmlu"),
        "--limit",
        "2",
        "--json",
        "-c",
        "512",
    )
    assert again.code == 0, again.err
    mmlu = json.loads(again.out)[0]
    assert mmlu["scores"]["overall"]["n"] == 2
    out = tmp_path / "report.md"
    report = danlu("eval", "report", str(run), mmlu["run_dir"], "-o", str(out))
    assert report.code == 0, report.err
    text = out.read_text()
    assert "| smollm2 | " in text and "mc (acc)" in text and "mmlu (acc)" in text
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000


def test_eval_refusals_are_one_line(danlu):  # noqa: F811
    cases = [
        (("eval", "smollm2", "--task", "mc"), "the mc task needs --data"),
        (
            ("eval", "smollm2", "--task", "trivia", "--data", str(DATA / "mc.jsonl")),
            "no evaluation task named 'trivia'",
        ),
        (
            ("eval", "smollm2", "--task", "mc", "--data", str(DATA / "bad_mc.jsonl")),
            "bad_mc.jsonl line 3: missing 'answer'",
        ),
        (
            ("eval", "http://127.0.0.1:9/v1", "--task", "mc", "--data", str(DATA / "mc.jsonl")),
            "a server URL needs --model NAME",
        ),
        (("eval", "report", str(DATA)), "no finished evaluation"),
        (
            ("eval", "smollm2", "--task", "mc", "--data", str(DATA / "mc.jsonl"), "--shots", "-1"),
            "invalid shots=-1",
        ),
        # the engine flags reach the load, as in run and serve
        (
            (
                "eval",
                "smollm2",
                "--task",
                "mc",
                "--data",
                str(DATA / "mc.jsonl"),
                "-ctk",
                "q3",
                "--no-repack",
            ),
            "invalid cache_type_k='q3'",
        ),
    ]
    for args, message in cases:
        r = danlu(*args)
        assert r.code == 1, (args, r.out, r.err)
        assert r.err.startswith("error: ") and message in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1
