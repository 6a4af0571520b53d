"""`danlu bench MODEL --save-default`: the measured flash-attention default, and who wins."""

from __future__ import annotations

import json

import pytest

import danlu
from danlu.bench.tune import choose
from danlu.config import Settings
from danlu.errors import InvalidRequest
from danlu.store import Catalog
from danlu.store.tuning import TunedDefault, Tunings
from tests.cli.conftest import danlu as cli  # noqa: F401 -- the in-process CLI fixture


def tuned(setting: str) -> TunedDefault:
    speeds = {"on": {"pp16": 110.0, "tg4": 90.0}, "off": {"pp16": 100.0, "tg4": 100.0}}
    return TunedDefault(flash_attn=setting, measured="2026-12-02", threads=2, speeds=speeds)


def asked(**load) -> str:
    with danlu.load("smollm2", n_ctx=256, **load) as model:
        return model.engine_facts["flash_attn_asked"]


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ({"pp": 110.0, "tg": 95.0}, "on"),  # mean ratio 1.025
        ({"pp": 130.0, "tg": 60.0}, "off"),  # a big prompt loss outweighs a small gain
        ({"pp": 100.0, "tg": 100.0}, "off"),  # a tie keeps llama-cpp-python's default
    ],
)
def test_the_faster_setting_is_the_higher_mean_ratio(on, expected):
    assert choose({"on": on, "off": {"pp": 100.0, "tg": 100.0}}) == expected


def test_save_default_records_what_it_measured_and_show_says_why(cli, danlu_home):  # noqa: F811
    result = cli("bench", "smollm2", "-p", "16", "-n", "4", "-r", "1", "--save-default", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert sorted((r["flash_attn"], r["test"]) for r in rows) == [
        ("off", "pp16"),
        ("off", "tg4"),
        ("on", "pp16"),
        ("on", "tg4"),
    ]
    sha = Catalog(Settings()).get("smollm2").sha256
    record = Tunings(danlu_home).get(sha)
    assert record is not None and record.flash_attn in ("on", "off")
    by_setting = {
        fa: {r["test"]: r["tokens_per_second"]["mean"] for r in rows if r["flash_attn"] == fa}
        for fa in ("on", "off")
    }
    assert all(record.speeds[fa] == pytest.approx(by_setting[fa]) for fa in by_setting)
    assert f"flash attention {record.flash_attn} by default" in result.err
    shown = cli("show", "smollm2")
    assert f"{record.flash_attn}: measured on this machine" in shown.out
    assert asked() == record.flash_attn


def test_a_recorded_default_applies_until_a_flag_or_the_environment_says_otherwise(
    danlu_home, monkeypatch
):
    sha = Catalog(Settings()).get("smollm2").sha256
    Tunings(danlu_home).save(sha, tuned("on"))
    assert asked() == "on"
    assert asked(flash_attn="off") == "off"  # -fa wins
    monkeypatch.setenv("DANLU_FLASH_ATTN", "off")
    assert asked() == "off"  # so does DANLU_FLASH_ATTN
    monkeypatch.delenv("DANLU_FLASH_ATTN")
    Tunings(danlu_home).save(sha, tuned("off"))  # a new measurement replaces the old
    assert asked() == "off"


def test_a_record_for_another_machine_or_a_broken_file_is_no_record(danlu_home):
    sha = Catalog(Settings()).get("smollm2").sha256
    danlu_home.mkdir(parents=True, exist_ok=True)
    other = {f"{sha}@Some Other CPU ×64": tuned("on").model_dump()}
    (danlu_home / "tuning.json").write_text(json.dumps(other))
    assert Tunings(danlu_home).get(sha) is None and asked() == "off"
    (danlu_home / "tuning.json").write_text("{not json")
    assert Tunings(danlu_home).get(sha) is None and asked() == "off"
    Tunings(danlu_home).save(sha, tuned("on"))  # saving over a broken file writes a good one
    assert Tunings(danlu_home).get(sha) == tuned("on")


def test_more_than_one_thread_count_is_refused(cli):  # noqa: F811
    refused = cli("bench", "smollm2", "-t", "1,2", "--save-default")
    assert refused.code == 1 and "--save-default measures one thread count" in refused.err
    with pytest.raises(InvalidRequest):
        from danlu.bench import SpeedSettings
        from danlu.bench.tune import save_default

        save_default("smollm2", SpeedSettings(batch=[16, 32]))
