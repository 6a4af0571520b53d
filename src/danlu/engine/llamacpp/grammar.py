"""Grammar-constrained sampling over llama.cpp's grammar sampler, safe and cheap per token.

llama.cpp's grammar sampler checks every candidate token against every alternative the
grammar still has open, on the thread that decodes for all requests: over the whole
vocabulary a 256-value enum costs many plain tokens' time, every token. And
`llama_sampler_sample` accepts whatever the chain picks: when a grammar allows no token at
all, llama.cpp then aborts the process. So a grammar is sampled here, in steps:

1. the logits' own adjustments (logit bias, penalties) over the whole vocabulary;
2. the grammar over the likeliest 64 tokens only, then 512, 4,096, the whole vocabulary,
   until enough of them are allowed: one for greedy picking, top_k for top-k sampling
   (the top k allowed tokens are then the same as over the whole vocabulary, so the pick
   is exact), all of them when neither bounds the pick;
3. nothing allowed at all is an InvalidParameter for this job, not an abort;
4. the picking chain (top-k, top-p, min-p, temperature, draw, or greedy) over what is left,
   and every part accepts the token picked, which the grammar allowed.
"""

from __future__ import annotations

import ctypes

import llama_cpp
from llama_cpp import _internals as internals

from danlu.errors import InvalidParameter

TOKEN_DATA = [("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]  # llama_token_data
STEPS = (64, 512, 4096)  # how many of the likeliest tokens the grammar sees, before all of them


def grammar_sampler(
    model: internals.LlamaModel, gbnf: str, trigger: str | None = None
) -> llama_cpp.llama_sampler_p:
    """A sampler constraining output to a GBNF grammar whose start rule is `root`, parsed by
    llama.cpp's own parser; one it refuses raises InvalidParameter. The caller frees it.

    With a `trigger` regex the grammar is lazy: output is free until the text matches,
    then the grammar constrains it from the trigger's first group on.
    """
    if trigger is None:
        sampler = llama_cpp.llama_sampler_init_grammar(model.vocab, gbnf.encode("utf-8"), b"root")
    else:
        patterns = (ctypes.c_char_p * 1)(trigger.encode("utf-8"))
        sampler = llama_cpp.llama_sampler_init_grammar_lazy_patterns(
            model.vocab, gbnf.encode("utf-8"), b"root", patterns, 1, None, 0
        )
    if not sampler:
        raise InvalidParameter(
            "the grammar does not parse (llama.cpp refused it)", hint="check the GBNF or schema"
        )
    return sampler


def check_grammar(model: internals.LlamaModel, gbnf: str, trigger: str | None = None) -> None:
    """Parse `gbnf` exactly as a job's sampler will, and free it: InvalidParameter if it
    does not parse. Costs what building the sampler costs (the grammar is bounded)."""
    llama_cpp.llama_sampler_free(grammar_sampler(model, gbnf, trigger))


class Candidates:
    """A llama_token_data_array over a numpy array of our own, reused for every token."""

    def __init__(self, np, n_vocab: int) -> None:
        self.rows = np.zeros(n_vocab, dtype=TOKEN_DATA)
        self._pointer = self.rows.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
        self.array = llama_cpp.llama_token_data_array()

    def reset(self, size: int) -> llama_cpp.llama_token_data_array:
        """The array over the first `size` rows, unsorted, nothing selected."""
        array = self.array
        array.data, array.size, array.selected, array.sorted = self._pointer, size, -1, False
        return array

    def apply(
        self, sampler: llama_cpp.llama_sampler_p, size: int
    ) -> llama_cpp.llama_token_data_array:
        array = self.reset(size)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        return array


class GrammarSampler:
    """A grammar between the logits' adjustments and the picking chain, sampled in steps."""

    def __init__(
        self,
        grammar: llama_cpp.llama_sampler_p,
        adjust: internals.LlamaSampler,
        pick: internals.LlamaSampler,
        n_vocab: int,
        need: int,
    ) -> None:
        import numpy as np

        self._np = np  # per token: no import lookup on the decode path
        self._grammar, self._adjust, self._pick = grammar, adjust, pick
        self._n_vocab = n_vocab
        self._need = need  # allowed tokens the pick must see (n_vocab: every one)
        self._ids = np.arange(n_vocab, dtype="<i4")
        self._all = Candidates(np, n_vocab)  # every token, in id order
        self._top = Candidates(np, n_vocab)  # the likeliest ones
        self._kept = 0  # rows of `_top` the picking chain kept at the last draw

    def sample(self, ctx: internals.LlamaContext, row: int) -> int:
        self._fill(ctx, row)
        self._all.apply(self._adjust.sampler, self._n_vocab)
        size = self._allowed()
        token = self._draw(size)
        for sampler in (self._grammar, self._adjust.sampler, self._pick.sampler):
            llama_cpp.llama_sampler_accept(sampler, token)
        return token

    def _fill(self, ctx: internals.LlamaContext, row: int) -> None:
        """Every token with its logit at batch row `row`, in id order."""
        logits = llama_cpp.llama_get_logits_ith(ctx.ctx, row)
        rows = self._all.rows
        rows["id"] = self._ids
        rows["logit"] = self._np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        rows["p"] = 0.0

    def _allowed(self) -> int:
        """Put the likeliest tokens the grammar allows in `_top`; how many rows it holds."""
        np, rows = self._np, self._all.rows
        for size in (*(s for s in STEPS if s < self._n_vocab), self._n_vocab):
            if size < self._n_vocab:
                self._top.rows[:size] = rows[np.argpartition(-rows["logit"], size)[:size]]
            else:
                self._top.rows[:] = rows
            array = self._top.apply(self._grammar, size)
            allowed = int(np.isfinite(self._top.rows["logit"][: array.size]).sum())
            if allowed >= self._need:
                break
        if allowed == 0:
            raise InvalidParameter(
                "the grammar allows no next token: the output cannot continue",
                hint="the schema or grammar asks for text no token can write",
            )
        return array.size

    def _draw(self, size: int) -> int:
        array = self._top.apply(self._pick.sampler, size)
        self._kept = array.size
        return int(array.data[array.selected].id)  # through the array: a sampler may sort it

    def kept_rows(self):
        """The candidates the picking chain kept at the last draw (post_sampling_probs)."""
        return self._top.rows[: self._kept]

    def close(self) -> None:
        if self._grammar is not None:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None
        self._adjust.close()
        self._pick.close()
