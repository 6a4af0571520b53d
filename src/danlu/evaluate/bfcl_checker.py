"""The Berkeley Function Calling Leaderboard's own data and checker (the `bfcl-eval` package).

danlu does not re-implement BFCL's scoring: each answer goes through BFCL's per-entry
evaluators (`eval_runner._evaluate_single_ast_entry` for the categories with a ground
truth, `_evaluate_single_relevance_entry` for irrelevance), its function-calling decoder
and its `convert_to_tool` for the tool list, exactly as `bfcl evaluate` scores a model in
function-calling mode.

`bfcl-eval` is installed with `--no-deps` (`INSTALL`): it pins numpy 1.26 and lists every
provider SDK it can run models on, none of which its checker needs. One of its modules,
`constants.model_config` (its table of hosted models, which imports all those SDKs), is
not imported: the checker reads one field of it, `underscore_to_dot`, for the model it
scores, and `open_checker` puts a one-entry table in its place. That entry says what
BFCL says of every OpenAI-style endpoint: a '.' in a function name was sent as '_'.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from danlu.errors import MissingExtra

BFCL_VERSION = "2026.3.23"
INSTALL = (  # bfcl-requirements.txt, which `make install` uses, lists the same
    f"pip install 'danlu[eval]' && pip install --no-deps bfcl-eval=={BFCL_VERSION} "
    "tree_sitter==0.21.3 tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4 "
    "overrides==7.7.0"
)
CATEGORIES = ("simple_python", "multiple", "parallel", "irrelevance")
SCORED_AS = "danlu"  # the model name BFCL's checker is told (its config: '.' sent as '_')


@dataclass(frozen=True)
class _ModelConfig:
    """The one field of BFCL's ModelConfig that its AST checker reads."""

    underscore_to_dot: bool = True


class _FunctionCallingDecoder:
    """BFCL's decoding of a function-calling endpoint's answer, without its API client:
    `[{name: arguments_json}, ...]` to `[{name: {argument: value}}, ...]`; a text answer
    fails to decode (no call)."""

    is_fc_model = True

    def __init__(self, decode_ast: Any) -> None:
        self._decode = decode_ast

    def decode_ast(self, result: Any, language: Any, has_tool_call_tag: bool) -> Any:
        return self._decode(self, result, language, has_tool_call_tag)


class BfclChecker:
    """BFCL's entries, tools and verdicts; `open_checker` makes one."""

    def __init__(self, modules: dict[str, Any]) -> None:
        self._m = modules
        decode = modules["openai_completion"].OpenAICompletionsHandler.decode_ast
        self._decoder = _FunctionCallingDecoder(decode)

    @property
    def data_dir(self) -> Path:
        """The folder of BFCL's question files (with `possible_answer/` inside)."""
        return Path(self._m["eval_config"].PROMPT_PATH)

    def file_name(self, category: str) -> str:
        return f"{self._m['category_mapping'].VERSION_PREFIX}_{category}.json"

    def tools(self, functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """An entry's functions as OpenAI tools, as BFCL sends them to OpenAI's API."""
        utils = self._m["handler_utils"]
        style = self._m["enums"].ModelStyle.OPENAI_COMPLETIONS
        return utils.convert_to_tool(functions, utils.GORILLA_TO_OPENAPI, style)

    def check(
        self, category: str, entry: dict[str, Any], answer: dict[str, Any] | None, result: Any
    ) -> dict[str, Any]:
        """BFCL's verdict on `result` (`[{name: arguments_json}]`, or the answer's text):
        `{"valid": bool, ...}` with BFCL's `error` and `error_type` when it is not."""
        runner, enums = self._m["eval_runner"], self._m["enums"]
        if category not in CATEGORIES:
            raise ValueError(f"not a BFCL category danlu scores: {category}")
        if category == "irrelevance":
            return runner._evaluate_single_relevance_entry(
                self._decoder, entry["id"], result, entry, SCORED_AS, category
            )
        return runner._evaluate_single_ast_entry(
            self._decoder,
            entry["id"],
            result,
            answer["ground_truth"] if answer else None,
            entry,
            SCORED_AS,
            category,
            enums.Language.PYTHON,
            enums.ReturnFormat.PYTHON,
        )


def open_checker(work_dir: Path) -> BfclChecker:
    """Import BFCL's checker; `work_dir` takes the folders its config makes on import
    (BFCL_PROJECT_ROOT, unless already set). A missing package is a MissingExtra."""
    os.environ.setdefault("BFCL_PROJECT_ROOT", str(work_dir))
    _stand_in_model_config()
    try:
        import bfcl_eval.constants.category_mapping as category_mapping
        import bfcl_eval.constants.enums as enums
        import bfcl_eval.constants.eval_config as eval_config
        import bfcl_eval.eval_checker.eval_runner as eval_runner
        import bfcl_eval.model_handler.api_inference.openai_completion as openai_completion
        import bfcl_eval.model_handler.utils as handler_utils
    except ImportError as exc:
        raise MissingExtra(
            f"the BFCL task needs BFCL's checker ({exc.name} is missing)",
            hint=f"install it: {INSTALL}",
        ) from None
    return BfclChecker(
        {
            "category_mapping": category_mapping,
            "enums": enums,
            "eval_config": eval_config,
            "eval_runner": eval_runner,
            "openai_completion": openai_completion,
            "handler_utils": handler_utils,
        }
    )


def _stand_in_model_config() -> None:
    """BFCL's model table, reduced to the entry of the model danlu scores (see above)."""
    name = "bfcl_eval.constants.model_config"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name, "danlu's stand-in: the checker's one field")
        module.MODEL_CONFIG_MAPPING = {}  # type: ignore[attr-defined]
        sys.modules[name] = module
    module.MODEL_CONFIG_MAPPING.setdefault(SCORED_AS, _ModelConfig())  # type: ignore[attr-defined]
