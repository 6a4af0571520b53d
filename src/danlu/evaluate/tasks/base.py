"""What every task is: settings in, items out, one scored record per item."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from danlu.evaluate.items import Dataset
from danlu.evaluate.scorers import Scorer


class EvalSettings(BaseModel):
    """One evaluation: what to score, on what data, how. The CLI flags fill this."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="Task name: mmlu, ceval, cmmlu, mc, qa, perplexity, bfcl.")
    data: Path | None = Field(
        None,
        description="The task's data: a folder (mmlu/ceval/cmmlu) or a file; bfcl: the "
        "installed bfcl-eval's unless given.",
    )
    subjects: list[str] = Field(
        default_factory=list, description="Subjects (bfcl: categories) to keep (all)."
    )
    shots: int = Field(0, ge=0, le=25, description="Solved examples before each question.")
    limit: int | None = Field(
        None, ge=1, description="Score at most this many items (bfcl: per category)."
    )
    seed: int = Field(1234, description="Seed for picking items when --limit is given.")
    mode: Literal["loglikelihood", "generate"] = Field(
        "loglikelihood",
        description="Multiple choice by option log-likelihood, or by a generated letter "
        "(for chat-only endpoints).",
    )
    metric: str = Field("contains", description="Q&A metric: exact, contains, regex, f1, rouge.")
    max_tokens: int | None = Field(
        None, ge=1, description="Longest generated answer (qa: 64, bfcl: 256)."
    )
    tool_choice: Literal["auto", "required"] = Field(
        "auto",
        description="bfcl: 'auto' as BFCL asks, or 'required': a call must be made (the "
        "calls of models too small to decide; irrelevance then always fails).",
    )
    tool_grammar: bool = Field(
        True,
        description="bfcl: decode calls under the tool-call grammar (off: the model alone; "
        "store models only).",
    )
    judge: str | None = Field(
        None,
        description="Q&A graded by an LLM judge: a model in the store or a server URL "
        "(OpenAI-compatible); its API key is never stored here.",
    )
    judge_model: str | None = Field(None, description="The judge's model name on a server URL.")
    window: int = Field(512, ge=16, description="Perplexity: tokens scored per window.")
    stride: int | None = Field(None, ge=1, description="Perplexity: window step (window/2).")

    @model_validator(mode="after")
    def _judge_fits(self) -> EvalSettings:
        if self.judge and self.task != "qa":
            raise ValueError("judge: only the qa task is graded by a judge")
        if self.judge and self.judge.startswith(("http://", "https://")) and not self.judge_model:
            raise ValueError("judge_model: a judge URL needs the model name it serves")
        return self


class Task(Protocol):
    """A kind of evaluation; `metric_name` names what `score` puts in a record's 'score'."""

    metric_name: str

    def __init__(self, settings: EvalSettings) -> None: ...

    def load(self) -> Dataset: ...

    def score(self, item: Any, scorer: Scorer, dev: list) -> dict[str, Any]: ...
