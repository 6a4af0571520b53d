"""The embedded store: one SQLite file, sqlite-vec for vectors, FTS5 for keywords.

Everything about one file (its row, chunks, vectors, keyword rows) is written in one
transaction, in WAL mode: a process killed mid-ingest leaves the file as of the last
committed document. A full disk rolls the file back and is one DiskFull error naming the
folder. Schema changes are the append-only MIGRATIONS below.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from danlu.diskspace import disk_full, disk_full_as_error, is_disk_full
from danlu.extras import require
from danlu.kb.chunking import Chunk
from danlu.kb.errors import StoreUnavailable
from danlu.kb.stores.base import (
    ChunkRows,
    FileRecord,
    Scored,
    StoredChunk,
    headings_json,
    stored_chunk,
)

# (name, SQL) in the order applied; append only, never edit one that has shipped.
# {dimension} is the embedder's, recorded in meta when the store was created.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_tables",
        """
        create table meta (key text primary key, value text not null);
        create table files (
            id integer primary key, path text not null unique, sha256 text not null,
            size integer not null, chunks integer not null);
        create table chunks (
            id integer primary key, file_id integer not null references files(id),
            ordinal integer not null, text text not null, page integer,
            headings text not null, start integer not null, "end" integer not null);
        create index chunks_by_file on chunks(file_id, ordinal);
        """,
    ),
    (
        "002_vectors",
        "create virtual table chunk_vectors using vec0("
        "embedding float[{dimension}] distance_metric=cosine)",
    ),
    ("003_keywords", "create virtual table chunk_terms using fts5(terms)"),
]

CHUNK_COLUMNS = 'c.id, f.path, c.ordinal, c.text, c.page, c.headings, c.start, c."end"'


def sqlite_module():
    """The stdlib sqlite3 where it can load extensions; else sqlean (some Python builds,
    pyenv's and macOS's among them, are compiled without extension loading)."""
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    return require("sqlean", "kb", "the SQLite knowledge-base store")


def connect(path: Path):
    sqlite = sqlite_module()
    vec = require("sqlite_vec", "kb", "the SQLite knowledge-base store")
    try:
        conn = sqlite.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.enable_load_extension(True)
        vec.load(conn)
        conn.enable_load_extension(False)
        conn.execute("pragma journal_mode=wal")
        conn.execute("pragma synchronous=normal")
        conn.execute("pragma busy_timeout=10000")
    except sqlite.Error as exc:
        if is_disk_full(exc):
            raise disk_full(Path(path).parent) from None
        raise StoreUnavailable(f"cannot open knowledge base {path}: {exc}") from None
    return conn


class SqliteStore:
    """A knowledge base in one SQLite file."""

    def __init__(self, path: Path, dimension: int | None = None) -> None:
        self.path = Path(path)
        self.url = f"sqlite://{self.path}"
        self.conn = connect(self.path)
        self.dimension = dimension or int(self.meta().get("dimension", 0))
        self._migrate()

    @contextlib.contextmanager
    def transaction(self, needed: int | None = None) -> Iterator[None]:
        """One write transaction; `needed` (bytes) is what a full disk's error asks for."""
        with disk_full_as_error(self.path.parent, needed):
            self.conn.execute("begin immediate")
            try:
                yield
                self.conn.execute("commit")
            except BaseException:
                if self.conn.in_transaction:  # SQLite rolls back by itself on some errors
                    self.conn.execute("rollback")
                raise

    def _migrate(self) -> None:
        self.conn.execute("create table if not exists migrations (name text primary key)")
        done = {r[0] for r in self.conn.execute("select name from migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction():
                for statement in sql.format(dimension=self.dimension).split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute("insert into migrations values (?)", (name,))

    def meta(self) -> dict[str, str]:
        with contextlib.suppress(Exception):
            return dict(self.conn.execute("select key, value from meta").fetchall())
        return {}

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany("insert or replace into meta values (?, ?)", list(values.items()))

    def files(self) -> dict[str, FileRecord]:
        rows = self.conn.execute("select path, sha256, size, chunks from files")
        return {r[0]: FileRecord(*r) for r in rows}

    def put_file(
        self, record: FileRecord, batches: Iterable[ChunkRows], needed: int | None = None
    ) -> int:
        written = 0
        with self.transaction(needed):
            self._delete(record.path)
            file_id = self.conn.execute(
                "insert into files (path, sha256, size, chunks) values (?, ?, ?, 0)",
                (record.path, record.sha256, record.size),
            ).lastrowid
            for rows in batches:
                for chunk, vector, words in zip(rows.chunks, rows.vectors, rows.terms, strict=True):
                    self._insert_chunk(file_id, chunk, vector, words)
                written += len(rows.chunks)
            self.conn.execute("update files set chunks = ? where id = ?", (written, file_id))
        return written

    def _insert_chunk(self, file_id: int, chunk: Chunk, vector: np.ndarray, words: str) -> None:
        cid = self.conn.execute(
            'insert into chunks (file_id, ordinal, text, page, headings, start, "end") '
            "values (?, ?, ?, ?, ?, ?, ?)",
            (
                file_id,
                chunk.ordinal,
                chunk.text,
                chunk.page,
                headings_json(chunk),
                chunk.start,
                chunk.end,
            ),
        ).lastrowid
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        self.conn.execute("insert into chunk_vectors (rowid, embedding) values (?, ?)", (cid, blob))
        self.conn.execute("insert into chunk_terms (rowid, terms) values (?, ?)", (cid, words))

    def remove_file(self, path: str) -> None:
        with self.transaction():
            self._delete(path)

    def _delete(self, path: str) -> None:
        ids = "select c.id from chunks c join files f on f.id = c.file_id where f.path = ?"
        self.conn.execute(f"delete from chunk_vectors where rowid in ({ids})", (path,))
        self.conn.execute(f"delete from chunk_terms where rowid in ({ids})", (path,))
        self.conn.execute(
            "delete from chunks where file_id in (select id from files where path = ?)", (path,)
        )
        self.conn.execute("delete from files where path = ?", (path,))

    def dense(self, vector: np.ndarray, k: int, path_glob: str | None = None) -> Scored:
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        if path_glob is None:
            rows = self.conn.execute(
                "select rowid, distance from chunk_vectors where embedding match ? and k = ?",
                (blob, k),
            )
        else:  # exact scan of the matching files' chunks
            rows = self.conn.execute(
                "select v.rowid, vec_distance_cosine(v.embedding, ?) as d from chunk_vectors v "
                "join chunks c on c.id = v.rowid join files f on f.id = c.file_id "
                "where f.path glob ? order by d limit ?",
                (blob, path_glob, k),
            )
        return [(cid, 1.0 - distance) for cid, distance in rows]

    def keyword(self, terms: list[str], k: int, path_glob: str | None = None) -> Scored:
        if not terms:
            return []
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        sql = "select t.rowid, -bm25(chunk_terms) from chunk_terms t"
        args: tuple = (query,)
        if path_glob is not None:
            sql += " join chunks c on c.id = t.rowid join files f on f.id = c.file_id"
        sql += " where chunk_terms match ?"
        if path_glob is not None:
            sql, args = sql + " and f.path glob ?", (query, path_glob)
        return list(self.conn.execute(sql + " order by bm25(chunk_terms) limit ?", (*args, k)))

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"select {CHUNK_COLUMNS} from chunks c join files f on f.id = c.file_id "
            f"where c.id in ({marks})",
            list(ids),
        )
        return {row[0]: stored_chunk(row) for row in rows}

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        marks = ",".join("?" * len(ids))
        rows = dict(
            self.conn.execute(
                f"select rowid, embedding from chunk_vectors where rowid in ({marks})", list(ids)
            )
        )
        return np.stack([np.frombuffer(rows[i], dtype=np.float32) for i in ids])  # (n, d)

    def counts(self) -> dict[str, int]:
        tables = ("files", "chunks", "chunk_vectors", "chunk_terms")
        return {t: self.conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}

    def close(self) -> None:
        self.conn.close()

    def destroy(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def open_url(url: str, kb_name: str, dimension: int | None = None) -> SqliteStore:
    """`sqlite:///abs/path.sqlite`: the scheme, then the absolute path."""
    return SqliteStore(Path(url.removeprefix("sqlite://")), dimension)
