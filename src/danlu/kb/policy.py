"""What one add or sync may read: how large, through which links, under which folders.

The CLI fills a ReadPolicy from its flags, the server from its settings (`--kb-roots`,
DANLU_KB_MAX_FILE_SIZE, DANLU_KB_MAX_ADD_SIZE); the ingester applies it in one place.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ByteSize, ConfigDict, Field

from danlu.kb.errors import PathNotAllowed

MAX_FILE_SIZE = ByteSize(64_000_000)  # 64 MB: a book is ~1 MB of text; larger is rarely prose


class ReadPolicy(BaseModel):
    """Limits and rules for reading documents into a knowledge base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_size: ByteSize = Field(
        MAX_FILE_SIZE,
        ge=1,
        description="Files larger than this are skipped, each with a line in the report "
        "(bytes, or a size such as 200MB).",
    )
    max_add_size: ByteSize | None = Field(
        None,
        ge=1,
        description="Most bytes of new or changed files one add may read; more is refused "
        "before anything is read (None: no limit).",
    )
    follow_links: bool = Field(
        False,
        description="Follow symbolic links that lead out of the added folder (links that "
        "stay inside it are always followed).",
    )
    roots: tuple[Path, ...] | None = Field(
        None,
        description="Folders every read must stay under, links included (the server's "
        "--kb-roots); None: anywhere, as for the CLI.",
    )

    def allows(self, path: Path) -> bool:
        """Whether `path` (resolved) lies under one of the roots."""
        if self.roots is None:
            return True
        return any(path.is_relative_to(root.resolve()) for root in self.roots)

    def check(self, path: Path) -> Path:
        """`path` resolved; PathNotAllowed when it lies outside the roots."""
        resolved = Path(path).expanduser().resolve()
        if not self.allows(resolved):
            where = ", ".join(str(r) for r in self.roots or ()) or "none are set"
            raise PathNotAllowed(
                f"{path} is outside the folders knowledge bases may read ({where})",
                hint="the server reads only under its --kb-roots folders",
            )
        return resolved

    def may_follow(self, target: Path, root: Path) -> bool:
        """Whether a link found under `root` may be followed to `target` (resolved)."""
        inside = target.is_relative_to(root)
        return self.allows(target) and (inside or self.follow_links)
