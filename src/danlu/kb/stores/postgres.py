"""The server-grade store: PostgreSQL with pgvector, one schema per knowledge base.

Vectors live in a `vector(d)` column with an HNSW cosine index; keywords are a
`tsvector` of the jieba-segmented terms under the 'simple' configuration (no stemming,
so Chinese words and English words match as written), ranked by ts_rank_cd.
Each file is one transaction, as in the SQLite store; schema changes are MIGRATIONS.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from danlu.extras import require
from danlu.kb.errors import StoreUnavailable
from danlu.kb.stores.base import (
    ChunkRows,
    FileRecord,
    Scored,
    StoredChunk,
    headings_json,
    stored_chunk,
)

# (name, SQL) applied in order inside the knowledge base's schema; append only
MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_tables",
        """
        create table meta (key text primary key, value text not null);
        create table files (
            id bigserial primary key, path text not null unique, sha256 text not null,
            size bigint not null, chunks integer not null);
        create table chunks (
            id bigserial primary key, file_id bigint not null references files(id),
            ordinal integer not null, text text not null, page integer,
            headings text not null, start integer not null, "end" integer not null,
            embedding vector({dimension}) not null, terms tsvector not null);
        create index chunks_by_file on chunks(file_id, ordinal);
        create index chunks_terms on chunks using gin(terms);
        create index chunks_embedding on chunks using hnsw (embedding vector_cosine_ops);
        """,
    ),
]

CHUNK_COLUMNS = 'c.id, f.path, c.ordinal, c.text, c.page, c.headings, c.start, c."end"'


def schema_name(kb_name: str) -> str:
    return "kb_" + re.sub(r"[^a-z0-9_]", "_", kb_name.lower())


def tsquery(terms: list[str]) -> str:
    """`'a' | 'b'`: any of the terms, each quoted as a lexeme."""
    return " | ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)


class PostgresStore:
    """A knowledge base in a PostgreSQL schema (`kb_<name>`)."""

    def __init__(self, url: str, kb_name: str, dimension: int | None = None) -> None:
        psycopg = require("psycopg", "kb", "the PostgreSQL store")
        register = require("pgvector.psycopg", "kb", "the PostgreSQL store").register_vector
        self.url, self.schema = url, schema_name(kb_name)
        try:
            self.conn = psycopg.connect(url, autocommit=True)
            self.conn.execute("create extension if not exists vector")
            register(self.conn)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot open PostgreSQL at {url}: {exc}") from None
        self.conn.execute(f"create schema if not exists {self.schema}")
        self.conn.execute(f"set search_path to {self.schema}, public")
        self.dimension = dimension or int(self.meta().get("dimension", 0))
        self._migrate()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def _migrate(self) -> None:
        self.conn.execute("create table if not exists migrations (name text primary key)")
        done = {r[0] for r in self.conn.execute("select name from migrations")}
        for name, sql in MIGRATIONS:
            if name not in done:
                with self.transaction():
                    self.conn.execute(sql.format(dimension=self.dimension))
                    self.conn.execute("insert into migrations values (%s)", (name,))

    def meta(self) -> dict[str, str]:
        exists = self.conn.execute("select to_regclass('meta')").fetchone()[0]
        return dict(self.conn.execute("select key, value from meta").fetchall()) if exists else {}

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "insert into meta values (%s, %s) on conflict (key) do update set value = "
                "excluded.value",
                list(values.items()),
            )

    def files(self) -> dict[str, FileRecord]:
        rows = self.conn.execute("select path, sha256, size, chunks from files")
        return {r[0]: FileRecord(*r) for r in rows}

    def put_file(
        self, record: FileRecord, batches: Iterable[ChunkRows], needed: int | None = None
    ) -> int:
        written = 0
        with self.transaction(), self.conn.cursor() as cur:
            self._delete(record.path)
            file_id = cur.execute(
                "insert into files (path, sha256, size, chunks) values (%s, %s, %s, 0) "
                "returning id",
                (record.path, record.sha256, record.size),
            ).fetchone()[0]
            for rows in batches:
                cur.executemany(
                    'insert into chunks (file_id, ordinal, text, page, headings, start, "end", '
                    "embedding, terms) values (%s, %s, %s, %s, %s, %s, %s, %s, "
                    "to_tsvector('simple', %s))",
                    [
                        (file_id, c.ordinal, c.text, c.page, headings_json(c), c.start, c.end,
                         np.asarray(v, dtype=np.float32), words)
                        for c, v, words in zip(rows.chunks, rows.vectors, rows.terms, strict=True)
                    ],
                )  # fmt: skip
                written += len(rows.chunks)
            cur.execute("update files set chunks = %s where id = %s", (written, file_id))
        return written

    def remove_file(self, path: str) -> None:
        with self.transaction():
            self._delete(path)

    def _delete(self, path: str) -> None:
        self.conn.execute(
            "delete from chunks where file_id in (select id from files where path = %s)", (path,)
        )
        self.conn.execute("delete from files where path = %s", (path,))

    def _where(self, path_glob: str | None) -> tuple[str, tuple]:
        if path_glob is None:
            return "", ()
        return " where f.path ~ %s", (glob_regex(path_glob),)

    def dense(self, vector: np.ndarray, k: int, path_glob: str | None = None) -> Scored:
        where, args = self._where(path_glob)
        q = np.asarray(vector, dtype=np.float32)
        rows = self.conn.execute(
            "select c.id, 1 - (c.embedding <=> %s) from chunks c join files f on f.id = c.file_id"
            f"{where} order by c.embedding <=> %s limit %s",
            (q, *args, q, k),
        )
        return [(cid, float(score)) for cid, score in rows]

    def keyword(self, terms: list[str], k: int, path_glob: str | None = None) -> Scored:
        if not terms:
            return []
        where, args = self._where(path_glob)
        where = (where + " and" if where else " where") + " c.terms @@ q"
        rows = self.conn.execute(
            "select c.id, ts_rank_cd(c.terms, q) as r from chunks c "
            "join files f on f.id = c.file_id, to_tsquery('simple', %s) q"
            f"{where} order by r desc limit %s",
            (tsquery(terms), *args, k),
        )
        return [(cid, float(score)) for cid, score in rows]

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        rows = self.conn.execute(
            f"select {CHUNK_COLUMNS} from chunks c join files f on f.id = c.file_id "
            "where c.id = any(%s)",
            (list(ids),),
        )
        return {row[0]: stored_chunk(row) for row in rows}

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        rows = dict(
            self.conn.execute("select id, embedding from chunks where id = any(%s)", (list(ids),))
        )
        return np.stack([as_array(rows[i]) for i in ids])  # (n, d)

    def counts(self) -> dict[str, int]:
        one = self.conn.execute
        return {
            "files": one("select count(*) from files").fetchone()[0],
            "chunks": one("select count(*) from chunks").fetchone()[0],
            "chunk_vectors": one("select count(embedding) from chunks").fetchone()[0],
            "chunk_terms": one("select count(terms) from chunks").fetchone()[0],
        }

    def close(self) -> None:
        self.conn.close()

    def destroy(self) -> None:
        self.conn.execute(f"drop schema if exists {self.schema} cascade")
        self.close()


def as_array(value) -> np.ndarray:
    """A pgvector value as float32 (pgvector returns a Vector object, older ones arrays)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, np.float32)


def glob_regex(pattern: str) -> str:
    """A shell glob as an anchored PostgreSQL regex (`*` and `?` match `/` too, as in
    SQLite's GLOB; `[...]` classes pass through)."""
    parts = re.split(r"(\*|\?|\[[^\]]*\])", pattern)
    special = {"*": ".*", "?": "."}
    out = (special.get(p) or (p if p.startswith("[") else re.escape(p)) for p in parts if p)
    return "^" + "".join(out) + "$"


def open_url(url: str, kb_name: str, dimension: int | None = None) -> PostgresStore:
    return PostgresStore(url, kb_name, dimension)
