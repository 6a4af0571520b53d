"""`danlu eval`: quality of a model in the store or behind any OpenAI-compatible server.

>>> from danlu.evaluate import EvalSettings, ModelScorer, evaluate
>>> settings = EvalSettings(task="mc", data=Path("items.jsonl"))
>>> result = evaluate(settings, ModelScorer(model))  # its run folder: under Settings().runs_dir

Tasks (`tasks/`): mmlu, ceval, cmmlu (official CSV folders), mc (JSONL), qa (generated
answers scored by a metric), perplexity (rolling windows). Scorers (`scorers.py`): a loaded
`Model`, or a server through `/v1/completions` echo logprobs and `/v1/chat/completions`.
"""

from danlu.evaluate.runner import evaluate
from danlu.evaluate.scorers import ModelScorer, Scorer, ServerScorer
from danlu.evaluate.tasks import TASKS
from danlu.evaluate.tasks.base import EvalSettings

__all__ = ["TASKS", "EvalSettings", "ModelScorer", "Scorer", "ServerScorer", "evaluate"]
