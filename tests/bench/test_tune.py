"""`danlu bench MODEL --save-default`: measured engine defaults, crashes survived, who wins."""

from __future__ import annotations

import json

import pytest

import danlu
from danlu.bench.tune import choose, save_default
from danlu.config import Settings
from danlu.engine.llamacpp.machine import resolve_repack
from danlu.errors import InvalidRequest
from danlu.store import Catalog
from danlu.store.tuning import TunedDefault, Tunings, label
from danlu.system import cpu
from tests.cli.conftest import danlu as cli  # noqa: F401 -- the in-process CLI fixture


def tuned(flash_attn: str, repack: bool = True, unusable: dict | None = None) -> TunedDefault:
    speeds = {
        label("on", True): {"pp16": 110.0, "tg4": 90.0},
        label("off", True): {"pp16": 100.0, "tg4": 100.0},
        label("on", False): {"pp16": 55.0, "tg4": 45.0},
    }
    return TunedDefault(
        flash_attn=flash_attn,
        repack=repack,
        measured="2026-12-02",
        threads=2,
        speeds=speeds,
        unusable=unusable or {},
    )


def loaded_facts(**load) -> dict[str, str]:
    with danlu.load("smollm2", n_ctx=256, **load) as model:
        return model.engine_facts


def asked(**load) -> str:
    return loaded_facts(**load)["flash_attn_asked"]


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ({"pp": 110.0, "tg": 95.0}, "on"),  # mean ratio 1.025
        ({"pp": 130.0, "tg": 60.0}, "off"),  # a big prompt loss outweighs a small gain
        ({"pp": 100.0, "tg": 100.0}, "off"),  # a tie keeps the first candidate
    ],
)
def test_the_faster_setting_is_the_higher_mean_ratio(on, expected):
    assert choose({"off": {"pp": 100.0, "tg": 100.0}, "on": on}) == expected


def test_a_records_reason_compares_with_the_candidate_that_differs_in_that_knob_alone():
    record = tuned("on", True, unusable={label("on", False): "died by SIGSEGV"})
    assert record.reason("flash_attn").endswith("pp16 1.10×, tg4 0.90× of fa off, repack on")
    assert record.reason("repack").endswith("fa on, repack off died by SIGSEGV")
    assert tuned("on", False).reason("repack").endswith("pp16 0.50×, tg4 0.50× of fa on, repack on")


def assert_died_only_where_repack_may_crash(unusable: dict[str, str]) -> None:
    """No candidate dies, except with repack on where the machine's rule keeps it off (a
    CPU with AMX, llama.cpp #20824): there it may die by a signal, and be unusable."""
    if resolve_repack(None):
        assert unusable == {}
    else:
        assert all(k.endswith("repack on") for k in unusable), unusable
        assert all(why.startswith("died by SIG") for why in unusable.values()), unusable


def test_save_default_records_what_it_measured_and_show_says_why(cli, danlu_home):  # noqa: F811
    result = cli("bench", "smollm2", "-p", "16", "-n", "4", "-r", "1", "--save-default", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    sha = Catalog(Settings()).get("smollm2").sha256
    record = Tunings(danlu_home).get(sha)
    assert record is not None
    assert_died_only_where_repack_may_crash(record.unusable)
    ran = [(fa, rp) for fa in ("on", "off") for rp in ("on", "off")]
    ran = [(fa, rp) for fa, rp in ran if label(fa, rp == "on") not in record.unusable]
    measured = sorted((r["flash_attn"], r["repack"], r["test"]) for r in rows)
    assert measured == sorted((fa, rp, test) for fa, rp in ran for test in ("pp16", "tg4"))
    by_candidate = {
        label(fa, rp == "on"): {
            r["test"]: r["tokens_per_second"]["mean"]
            for r in rows
            if (r["flash_attn"], r["repack"]) == (fa, rp)
        }
        for fa, rp in ran
    }
    assert record.speeds.keys() == by_candidate.keys()
    assert all(record.speeds[c] == pytest.approx(by_candidate[c]) for c in by_candidate)
    assert label(record.flash_attn, record.repack) == choose(record.speeds)
    assert f"flash attention {record.flash_attn} by default" in result.err
    shown = cli("show", "smollm2")
    assert f"{record.flash_attn}: measured on this machine" in shown.out
    facts = loaded_facts()
    assert facts["flash_attn_asked"] == record.flash_attn
    assert facts["repack"] == ("on" if record.repack else "off")


def test_a_candidate_that_dies_is_recorded_as_unusable_and_the_others_still_count(danlu_home):
    from danlu.bench import SpeedSettings
    from tests.bench.crashing import measure_or_crash

    settings = SpeedSettings(prompt_tokens=[16], gen_tokens=[4], reps=1)
    record, rows = save_default("smollm2", settings, run=measure_or_crash)
    assert record.unusable[label("on", True)] == "died by SIGSEGV"
    others = {k: v for k, v in record.unusable.items() if k != label("on", True)}
    assert_died_only_where_repack_may_crash(others)
    rest = {label("on", False), label("off", True), label("off", False)}
    assert set(record.speeds) == rest - set(others)
    assert len(rows) == len(record.speeds) * 2  # each candidate that ran, two tests each
    assert (record.flash_attn, record.repack) != ("on", True)
    assert Tunings(danlu_home).get(Catalog(Settings()).get("smollm2").sha256) == record


def test_save_default_records_the_faster_setting_and_loads_use_it(danlu_home):
    """Speeds known in advance (tests/bench/known_speeds.py): the winner is the candidate
    with the best mean speed ratio, neither the first nor llama.cpp's auto, and neither the
    fastest at pp nor the largest sum."""
    from danlu.bench import SpeedSettings
    from tests.bench.known_speeds import SPEEDS, WINNER, measure_known

    settings = SpeedSettings(prompt_tokens=[16], gen_tokens=[4], reps=2, threads=[2])
    seen = []
    record, rows = save_default(
        "smollm2",
        settings,
        progress=lambda label, done, total: seen.append((done, total)),
        run=measure_known,
    )
    assert (record.flash_attn, record.repack) == WINNER
    assert record.speeds == SPEEDS and record.unusable == {} and record.threads == 2
    assert [(r.flash_attn, r.repack, r.test) for r in rows] == [
        (fa, rp, test) for fa in ("on", "off") for rp in ("on", "off") for test in ("pp16", "tg4")
    ]
    assert seen[-1] == (16, 16)  # 4 candidates x 2 tests x 2 reps
    sha = Catalog(Settings()).get("smollm2").sha256
    assert Tunings(danlu_home).get(sha) == record
    facts = loaded_facts()  # a load with no flags takes the record
    assert (facts["flash_attn_asked"], facts["repack"]) == ("off", "off")
    assert facts["flash_attn"] == "off"  # and llama.cpp ran it so


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
    Tunings(danlu_home).save(sha, tuned("on", repack=False))
    assert loaded_facts()["repack"] == "off"  # the record wins over the machine's rule
    assert loaded_facts(repack=True)["repack"] == "on"  # --repack wins over the record
    monkeypatch.setenv("DANLU_REPACK", "1")
    assert loaded_facts()["repack"] == "on"  # so does DANLU_REPACK


def test_a_record_for_another_machine_or_a_broken_file_is_no_record(danlu_home):
    sha = Catalog(Settings()).get("smollm2").sha256
    danlu_home.mkdir(parents=True, exist_ok=True)
    other = {f"{sha}@Some Other CPU ×64": tuned("on").model_dump()}
    (danlu_home / "tuning.json").write_text(json.dumps(other))
    assert Tunings(danlu_home).get(sha) is None and asked() == "auto"
    (danlu_home / "tuning.json").write_text("{not json")
    assert Tunings(danlu_home).get(sha) is None and asked() == "auto"
    old = {
        f"{sha}@{cpu().key}": {
            "flash_attn": "on",
            "measured": "2026-12-02",
            "threads": 2,
            "speeds": {"on": {"pp16": 1.0}, "off": {"pp16": 1.0}},
        }
    }
    (danlu_home / "tuning.json").write_text(json.dumps(old))  # before repack was measured
    assert Tunings(danlu_home).get(sha) is None and asked() == "auto"
    Tunings(danlu_home).save(sha, tuned("on"))  # saving over a broken file writes a good one
    assert Tunings(danlu_home).get(sha) == tuned("on")


def test_more_than_one_thread_count_is_refused(cli):  # noqa: F811
    refused = cli("bench", "smollm2", "-t", "1,2", "--save-default")
    assert refused.code == 1 and "--save-default measures one thread count" in refused.err
    with pytest.raises(InvalidRequest):
        from danlu.bench import SpeedSettings

        save_default("smollm2", SpeedSettings(batch=[16, 32]))
