"""Without a browser: background jobs (progress, cancel, a CLI process stopped like Ctrl-C),
ended jobs listed again by a restarted page, the bind rule, where uploads go, the
missing-extra message, and the training form's stages."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from danlu.config import Settings
from danlu.errors import InvalidParameter, InvalidRequest
from danlu.ui.context import UIContext, UISettings
from danlu.ui.jobs import STOP_GRACE, Jobs


def _until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_thread_job_reports_progress_and_stops_at_its_next_report():
    jobs = Jobs()
    go_on = []

    def work(job):
        for step in range(1000):
            job.progress("counting", step, 1000)
            _until(lambda: go_on or job.cancel_asked)
        return "never"

    job = jobs.start("count", "count to 1000", work)
    _until(lambda: job.total == 1000)
    assert job.running and jobs.latest("count") is job
    jobs.cancel(job.id)
    _until(lambda: not job.running)
    assert job.state == "cancelled" and job.result is None


def test_a_failing_job_keeps_one_line_of_reason():
    def work(job):
        raise InvalidRequest("no such thing", hint="try another")

    job = Jobs().start("x", "fails", work)
    _until(lambda: not job.running)
    assert (job.state, job.message) == ("failed", "no such thing (try another)")


def test_a_cli_job_collects_stdout_and_stops_like_ctrl_c(danlu_home):
    jobs = Jobs()
    done = jobs.spawn("version", "version", ["--version"])
    _until(lambda: not done.running)
    assert done.state == "done" and done.result.startswith("danlu ")
    serving = jobs.spawn("serve", "serve", ["serve", "--port", "0"])
    _until(lambda: any("danlu serving on" in line for line in serving.log))
    jobs.cancel(serving.id)
    _until(lambda: not serving.running)
    assert serving.state == "cancelled"


def test_stop_reaches_a_cli_job_even_where_the_page_ignores_sigint(danlu_home):
    """`danlu ui &` and nohup start the page with SIGINT ignored, which a child inherits;
    Stop must still end a run at once, not after the grace period's forced kill."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        jobs = Jobs()
        args = ["run", "smollm2", "Count on.", "-n", "3000", "--ignore-eos"]
        job = jobs.spawn("run", "run", args)
    finally:
        signal.signal(signal.SIGINT, previous)
    # it has started talking (a loaded CI machine takes a while to start a process)
    _until(lambda: len(job.log) > 1 or not job.running, timeout=180)
    assert job.running
    jobs.cancel(job.id)
    _until(lambda: not job.running, timeout=STOP_GRACE / 2)
    assert job.state == "cancelled"


def test_a_cli_job_that_fails_shows_the_error_line(danlu_home):
    job = Jobs().spawn("show", "show", ["show", "no-such-model"])
    _until(lambda: not job.running)
    assert job.state == "failed" and job.message.startswith("error:")


def test_ended_jobs_are_listed_again_by_the_next_page_process(danlu_home):
    settings = Settings(home=danlu_home)
    first = UIContext.create(UISettings(), settings).jobs

    def count(job):
        for step in range(1, 4):
            job.progress("counting", step, 3)
        return {"counted": 3}

    def fail(job):
        raise InvalidRequest("no such thing")

    ended = [first.start("count", "to three", count), first.start("x", "fails", fail)]
    _until(lambda: first.settled == 2)  # both ended and kept
    again = UIContext.create(UISettings(), settings).jobs  # a restarted page's jobs
    assert [j.row() for j in again.list()] == [j.row() for j in first.list()]
    assert again.get(ended[0].id).result == {"counted": 3}
    assert again.get(ended[1].id).message == "no such thing"
    assert again.start("count", "again", count).id not in {job.id for job in ended}
    _until(lambda: again.settled == 1)  # the third job ended and was kept too
    (danlu_home / "ui" / "jobs" / "x-9.json").write_text("{not json")
    third = UIContext.create(UISettings(), settings).jobs.list()
    assert len(third) == 3  # the damaged file skipped, no error


def test_off_loopback_the_page_needs_a_password():
    UISettings(host="127.0.0.1").check()
    UISettings(host="::1").check()
    UISettings(host="0.0.0.0", password="s3cret").check()
    with pytest.raises(InvalidParameter, match="without a password"):
        UISettings(host="0.0.0.0").check()


def test_the_page_settings_read_danlu_ui_variables_and_arguments_win(monkeypatch):
    monkeypatch.setenv("DANLU_UI_PASSWORD", "from-env")
    monkeypatch.setenv("DANLU_UI_MAX_UPLOAD_MB", "3")
    assert (UISettings().password, UISettings().max_upload_mb) == ("from-env", 3)
    assert UISettings(password="given").password == "given"
    UISettings(host="0.0.0.0").check()  # the variable's password opens the network
    monkeypatch.setenv("DANLU_UI_PORT", "eighty")
    with pytest.raises(InvalidParameter, match="port"):
        UISettings()
    with pytest.raises(InvalidParameter, match="colour"):
        UISettings(colour="blue")  # a misspelt setting is refused, not ignored


def test_uploads_land_under_danlu_home_with_a_clean_name(danlu_home, tmp_path):
    ctx = UIContext.create(UISettings(max_upload_mb=1), Settings(home=danlu_home))
    sent = tmp_path / "..weird name;rm -rf.md"
    sent.write_text("# hi\n")
    kept = ctx.keep_upload(sent, "kb/x", (".md",))
    assert kept.is_relative_to(danlu_home / "ui" / "uploads" / "kb" / "x")
    assert kept.name == "weird_name_rm_-rf.md" and kept.read_text() == "# hi\n"
    with pytest.raises(InvalidRequest, match="not a file this page takes"):
        ctx.keep_upload(sent.rename(tmp_path / "a.exe"), "kb/x", (".md",))
    big = tmp_path / "big.md"
    big.write_bytes(b"x" * (2**20 + 1))  # MiB, as gradio counts the same limit
    with pytest.raises(InvalidRequest, match="over 1 MiB"):
        ctx.keep_upload(big, "kb/x", (".md",))


def test_danlu_ui_refuses_an_open_bind_without_a_password(capsys):
    from danlu.cli.main import main

    assert main(["ui", "--host", "0.0.0.0", "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "error: the page would be open to the network" in err and "--password" in err


def test_danlu_ui_without_the_extra_names_it(monkeypatch, capsys):
    from danlu.cli.main import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now fails
    assert main(["ui", "--no-browser"]) == 1
    assert "pip install 'danlu[ui]'" in capsys.readouterr().err


def test_exporting_a_run_that_is_not_finished_is_one_line_and_no_job(danlu_home):
    import gradio as gr

    from danlu.train.runs import RunRecord, now, write_record
    from danlu.ui.export_panel import NO_QUANT, ExportActions
    from danlu.ui.feedback import friendly

    settings = Settings(home=danlu_home)
    run_dir = settings.home / "runs" / "r1"
    run_dir.mkdir(parents=True)
    empty: dict = {}
    record = RunRecord(
        id="r1", stage="sft", status="interrupted", created=now(), updated=now(),
        base_model={"name": "smollm2"}, data=empty, template=empty, settings=empty,
        versions={},
    )  # fmt: skip
    write_record(run_dir, record)
    ctx = UIContext.create(UISettings(), settings)
    with pytest.raises(gr.Error) as refused:
        friendly(ExportActions(ctx).start)("r1", "tuned", NO_QUANT, False)
    message = refused.value.message
    assert message.startswith("run r1 was interrupted at step 0: it has no result to export")
    assert "\n" not in message
    assert ctx.jobs.list() == [] and not (settings.models_dir / "tuned").exists()


def test_the_train_form_takes_its_stages_and_defaults_from_the_registry(danlu_home, data_dir):
    import gradio as gr

    from danlu.train.stages import STAGES
    from danlu.ui.feedback import friendly
    from danlu.ui.train_tab import NUMBERS, OPTIONS, TrainActions, stage_defaults, stage_options

    dpo = dict(zip((name for name, _ in NUMBERS), stage_defaults("dpo"), strict=True))
    assert dpo["epochs"] == STAGES["dpo"].settings.model_fields["epochs"].default == 1.0
    assert stage_defaults("sft")[0] == STAGES["sft"].settings.model_fields["epochs"].default == 3.0
    ctx = UIContext.create(UISettings(), Settings(home=danlu_home))
    assert set(stage_options("dpo")) == {"beta", "loss_type"}  # DPO's own, shown while picked
    options = [stage_options(stage)[name].default for stage, name in OPTIONS]
    sft_rows = str(data_dir / "train" / "facts.jsonl")
    form = ("dpo", "smollm2", sft_rows, "lora", *dpo.values(), *options)
    with pytest.raises(gr.Error) as refused:  # DPO wants preference pairs: one line, no job
        friendly(TrainActions(ctx).start)(*form)
    assert "this stage trains on preference data" in refused.value.message
    assert "\n" not in refused.value.message and ctx.jobs.list() == []
