"""The landing zone: export files exactly as departments delivered them.

Files sit at `<landing>/<department>/<resource>/`. Ingest never modifies one; afterwards it is moved
to `archive/<batch>/` (ingested or a duplicate) or `rejected/` (with a `.reason.txt` beside it).
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from jobs.catalog.model import Resource


@dataclass(frozen=True)
class LandedFile:
    path: Path
    relative: str
    size: int


class LocalLanding:
    """Landing zone on a local folder."""

    def __init__(self, root: Path):
        self.root = root

    def folder(self, resource: Resource) -> Path:
        return self.root / resource.provider / resource.name

    def pending(self, resource: Resource) -> list[LandedFile]:
        """Files waiting for ingest, in name order (archive/ and rejected/ are not looked at)."""
        folder = self.folder(resource)
        if not folder.is_dir():
            return []
        return [
            LandedFile(p, str(p.relative_to(self.root)), p.stat().st_size)
            for p in sorted(folder.iterdir())
            if p.is_file() and fnmatch.fnmatch(p.name, resource.source.file_pattern)
        ]

    @staticmethod
    def sha256(file: LandedFile) -> str:
        digest = hashlib.sha256()
        with file.path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def archive_target(self, file: LandedFile, batch_id: str) -> Path:
        """Where `archive` will put the file (known before, so it can be recorded first)."""
        return file.path.parent / "archive" / batch_id / file.path.name

    def archive(self, file: LandedFile, batch_id: str) -> str:
        return self._move(file, self.archive_target(file, batch_id))

    def reject(self, file: LandedFile, reason: str) -> str:
        target = file.path.parent / "rejected" / file.path.name
        moved = self._move(file, target)
        target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
        return moved

    def _move(self, file: LandedFile, target: Path) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(file.path), target)
        return str(target.relative_to(self.root))
