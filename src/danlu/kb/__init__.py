"""Knowledge bases: answer from your own documents, with citations (`danlu kb`).

    import danlu
    import danlu.kb

    kb = danlu.kb.create("handbook")            # or danlu.kb.open("handbook")
    kb.add(["./docs", "./faq.pdf"])
    for hit in kb.search("How do I request leave?"):
        print(hit.score, hit.chunk.where)
    # the model loads only when something passes the relevance floor (AskOptions)
    print(kb.ask("How do I request leave?", lambda: danlu.load("smollm2")).text)

Needs the `kb` extra (`pip install 'danlu[kb]'`); nothing heavy is imported until used.
"""

from __future__ import annotations

from danlu.kb.answer import Answer, AnswerEvent, AskOptions, Citation
from danlu.kb.base import EmbedderCache, KBInfo, KnowledgeBase, create, list_names, remove
from danlu.kb.base import open_kb as open
from danlu.kb.chunking import ChunkSettings
from danlu.kb.ingest import IngestReport, IngestStep
from danlu.kb.policy import ReadPolicy
from danlu.kb.retrieve import Hit, SearchOptions

__all__ = [
    "Answer",
    "AnswerEvent",
    "AskOptions",
    "ChunkSettings",
    "Citation",
    "EmbedderCache",
    "Hit",
    "IngestReport",
    "IngestStep",
    "KBInfo",
    "KnowledgeBase",
    "ReadPolicy",
    "SearchOptions",
    "create",
    "list_names",
    "open",
    "remove",
]
