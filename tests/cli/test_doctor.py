"""`danlu doctor`: the machine, the engine defaults and why, tuning records, extras."""

from __future__ import annotations

import json

from danlu.config import Settings
from danlu.engine.llamacpp.machine import repack_rule, system_info
from danlu.store import Catalog
from danlu.store.tuning import TunedDefault, Tunings
from danlu.system import cpu
from tests.cli.conftest import danlu  # noqa: F401 -- the in-process CLI fixture


def test_the_report_says_what_the_machine_is_and_what_a_load_gets(danlu):  # noqa: F811
    result = danlu("doctor", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["cpu"]["name"] == cpu().name
    assert report["cpu"]["AMX"] == ("yes" if cpu().has_amx else "no")
    assert report["llama_cpp"] == system_info() and report["llama_cpp"]
    repack, why = repack_rule(cpu(), system_info())
    assert report["defaults"]["repack"] == f"{'on' if repack else 'off'}: {why}"
    assert report["defaults"]["flash attention"].startswith("auto: llama.cpp's own default")
    assert report["defaults"]["threads"].startswith(f"{Settings().threads} ")
    extras = ("kb", "train", "export", "eval", "ui", "agent")
    assert report["extras"] == dict.fromkeys(extras, "installed")
    assert report["tunings"] == []
    text = danlu("doctor")
    assert text.code == 0 and "engine defaults for smollm2" in text.out
    assert report["defaults"]["repack"] in text.out


def test_a_tuning_record_is_listed_by_model_and_shown_as_the_default(danlu, danlu_home):  # noqa: F811
    sha = Catalog(Settings()).get("smollm2").sha256
    speeds = {"fa off, repack off": {"tg4": 10.0}, "fa off, repack on": {"tg4": 9.0}}
    record = TunedDefault(
        flash_attn="off",
        repack=False,
        measured="2026-12-04",
        threads=2,
        speeds=speeds,
        unusable={"fa on, repack on": "died by SIGSEGV"},
    )
    Tunings(danlu_home).save(sha, record)
    report = json.loads(danlu("doctor", "--json").out)
    assert report["tunings"] == [
        {
            "models": "smollm2",
            "chosen": "fa off, repack off",
            "measured": "2026-12-04 at 2 threads",
            "unusable: fa on, repack on": "died by SIGSEGV",
        }
    ]
    assert report["defaults"]["repack"].startswith("off: measured on this machine")
    assert report["defaults"]["repack"].endswith("tg4 1.11× of fa off, repack on")


def test_an_unknown_model_is_one_line(danlu):  # noqa: F811
    result = danlu("doctor", "nope")
    assert result.code == 1 and "nope" in result.err
    assert len(result.err.strip().splitlines()) == 1
