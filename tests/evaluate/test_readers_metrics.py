"""Task readers parse the shipped layouts and name bad rows; metrics give known values."""

from __future__ import annotations

from pathlib import Path

import pytest

from danlu.errors import InvalidRequest
from danlu.evaluate.items import read_csv_layout, read_mc_jsonl, read_qa_jsonl
from danlu.evaluate.metrics import best, contains, exact, f1, regex, rouge
from danlu.evaluate.tasks import task_named
from danlu.evaluate.tasks.base import EvalSettings

DATA = Path(__file__).parents[1] / "data" / "eval"


def test_mmlu_folders_with_dev_shots():
    data = read_csv_layout("mmlu", DATA / "mmlu", None)
    assert [i.subject for i in data.items] == ["colours"] * 3 + ["numbers"] * 2
    assert data.items[2].question == 'What colour do you get mixing blue and yellow, "typically"?'
    assert data.items[4].choices == ("2", "5", "7", "1") and data.items[4].answer == 2
    assert [d.answer for d in data.dev["colours"]] == [1, 0]
    picked = read_csv_layout("mmlu", DATA / "mmlu", ["numbers"])
    assert len(picked.items) == 2 and set(picked.dev) == {"numbers"}


def test_ceval_and_cmmlu_headers_and_id_columns():
    ceval = read_csv_layout("ceval", DATA / "ceval", None)
    assert [i.answer for i in ceval.items] == [0, 2]
    assert ceval.items[0].choices == ("东海", "南海", "黄海", "渤海")
    assert ceval.dev["geography"][0].question == "中国的首都是哪座城市？"
    cmmlu = read_csv_layout("cmmlu", DATA / "cmmlu", None)
    assert [i.question for i in cmmlu.items] == ["二加二等于几？", "十减三等于几？"]
    assert cmmlu.items[1].answer == 2


def test_jsonl_items():
    mc = read_mc_jsonl(DATA / "mc.jsonl")
    assert [i.id for i in mc.items] == ["sky", "snow", "fire", "week", "legs"]
    assert mc.items[3].subject == "numbers" and mc.items[4].answer == 1
    qa = read_qa_jsonl(DATA / "qa.jsonl")
    assert qa.items[1].answers == ("Paris",) and qa.items[2].answers == ("茶",)


@pytest.mark.parametrize(
    ("read", "path", "message"),
    [
        (read_mc_jsonl, "bad_mc.jsonl", r"bad_mc.jsonl line 3: missing 'answer'"),
        (read_mc_jsonl, "bad_answer.jsonl", r"line 1: 'answer' 5 is not an index"),
        (lambda p: read_csv_layout("mmlu", p, None), "bad_mmlu", r"x_test.csv line 1: expected"),
        (lambda p: read_csv_layout("mmlu", p, None), "ceval", r"has no 'test/' folder"),
        (lambda p: read_csv_layout("mmlu", p, ["nope"]), "mmlu", r"no subject nope"),
        (read_qa_jsonl, "nowhere.jsonl", r"cannot read"),
    ],
)
def test_malformed_data_names_the_line(read, path, message):
    with pytest.raises(InvalidRequest, match=message):
        read(DATA / path)


def test_unknown_task_and_metric():
    with pytest.raises(InvalidRequest, match="no evaluation task named 'trivia'"):
        task_named("trivia")
    with pytest.raises(InvalidRequest, match="no metric named 'bleu'"):
        task_named("qa")(EvalSettings(task="qa", data=DATA / "qa.jsonl", metric="bleu"))


def test_metrics_on_known_strings():
    assert exact("The Answer!", "answer") == 1.0
    assert exact("answers", "answer") == 0.0
    assert contains("I think it is Paris, France.", "paris") == 1.0
    assert regex("order #1234 shipped", r"#\d{4}") == 1.0
    assert f1("the cat sat", "a cat sat down") == pytest.approx(0.8)  # 2 common of 2 and 3
    assert rouge("the cat sat on the mat", "the cat is on the mat") == pytest.approx(0.75)
    # Chinese compares word by word: the same words in another order
    assert f1("北京是中国的首都", "中国的首都是北京") == pytest.approx(1.0)
    assert rouge("北京是中国的首都", "中国的首都是北京") < 1.0  # order matters to ROUGE-L
    assert f1("上海", "北京") == 0.0
    assert best("exact", "paris", ("London", "Paris")) == 1.0
