"""Probabilities after the sampler chain: the distribution the final draw picks from.

`llama_sampler_sample` builds the candidate array, applies the chain, accepts the pick and
forgets the array. To report what the chain left (llama-server's `post_sampling_probs`),
`ChainProbe` does the same steps on an array it owns:

1. every token with its logit at the row, in id order;
2. the chain applied to it (bias, penalties, top-k, top-p, min-p, temperature, seeded
   draw): the survivors are the array's first `size` rows, their logits divided by the
   temperature, and `selected` is the pick;
3. the chain accepts the pick (the penalties' history), as `llama_sampler_sample` does;
4. the survivors' softmax is the post-chain distribution, as the draw computed it.

At temperature 0 the draw is the argmax: one candidate, probability 1.
"""

from __future__ import annotations

import math

import llama_cpp
from llama_cpp import _internals as internals

from danlu.engine.base import TokenLogprob
from danlu.engine.llamacpp.grammar import Candidates, GrammarSampler
from danlu.engine.sampling import SamplingParams


class ChainProbe:
    """A sampler chain sampled through an array of our own, so its survivors can be read."""

    def __init__(self, chain: internals.LlamaSampler, n_vocab: int) -> None:
        import numpy as np

        self._np = np  # per token: no import lookup on the decode path
        self._chain = chain
        self._n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype="<i4")
        self._candidates = Candidates(np, n_vocab)
        self._kept = 0  # survivors of the last draw, at the front of the array

    def sample(self, ctx: internals.LlamaContext, row: int) -> int:
        rows = self._candidates.rows
        logits = llama_cpp.llama_get_logits_ith(ctx.ctx, row)
        rows["id"] = self._ids
        rows["logit"] = self._np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        rows["p"] = 0.0
        array = self._candidates.apply(self._chain.sampler, self._n_vocab)
        token = int(array.data[array.selected].id)  # through the array: samplers sort it
        self._kept = array.size
        llama_cpp.llama_sampler_accept(self._chain.sampler, token)
        return token

    def post_chain(self, token: int, top: int) -> TokenLogprob:
        """The picked token's post-chain logprob and the `top` likeliest survivors."""
        return survivors(self._np, self._candidates.rows[: self._kept], token, top)

    def close(self) -> None:
        self._chain.close()


def survivors(np, rows, token: int, top: int) -> TokenLogprob:
    """Softmax over the logits of the rows a chain kept (the draw's own computation)."""
    logits = rows["logit"].astype(np.float64)  # (kept,)
    finite = np.isfinite(logits)
    ids, logits = rows["id"][finite], logits[finite]
    peak = float(logits.max())
    logp = logits - (peak + math.log(float(np.exp(logits - peak).sum())))
    order = np.argsort(-logp, kind="stable")[:top]
    ranked = tuple((int(ids[i]), float(logp[i])) for i in order)
    picked = np.flatnonzero(ids == token)
    return TokenLogprob(token, float(logp[picked[0]]) if picked.size else -math.inf, ranked)


def one_hot(token: int, top: int) -> TokenLogprob:
    """Greedy picking's distribution: the argmax, probability 1 (logprob 0)."""
    return TokenLogprob(token, 0.0, ((token, 0.0),) if top else ())


def after_chain(sampler: object, token: int, params: SamplingParams) -> TokenLogprob:
    """`token`'s post-chain logprob and the likeliest survivors, for any of our samplers."""
    import numpy as np

    top = params.logprobs or 0
    if params.greedy:
        return one_hot(token, top)
    if isinstance(sampler, GrammarSampler):
        return survivors(np, sampler.kept_rows(), token, top)
    assert isinstance(sampler, ChainProbe), "build_sampler gives a ChainProbe for these params"
    return sampler.post_chain(token, top)
