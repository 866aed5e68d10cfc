"""Paths fit for a committed report."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def portable_path(path: Path | str) -> str:
    """A path fit for a committed report: relative to the repository (or its parent folder,
    where ../shared lives), or to the home folder as ~, else just its name."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    p = Path(os.path.normpath(p))  # no resolve(): ../shared may be a link
    for base, prefix in ((ROOT, ""), (ROOT.parent, "../"), (Path.home(), "~/")):
        try:
            return prefix + p.relative_to(os.path.normpath(base)).as_posix()
        except ValueError:
            continue
    return p.name
