"""Prompts are files under prompts/ with named {placeholders}, checked when loaded.

prompts/ is shipped as the package data `rag.prompts` (see pyproject.toml), so an installed
wheel finds them as an editable checkout does: through importlib.resources, never by a path
relative to this file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from rag.errors import PromptError

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def prompts_dir() -> Traversable:
    return files("rag.prompts")


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    placeholders: frozenset[str]

    def render(self, **values: str) -> str:
        missing = self.placeholders - set(values)
        if missing:
            raise PromptError(f"prompt {self.name} needs values for {sorted(missing)}")
        # one pass, so braces inside the values are never taken for placeholders
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.text)


def load_prompt(name: str, placeholders: set[str], directory: Traversable | None = None) -> Prompt:
    """Read prompts/<name>.md and check that it has exactly the expected placeholders."""
    path = (directory or prompts_dir()).joinpath(f"{name}.md")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PromptError(
            f"prompt file {name}.md is missing from the prompts folder: restore it "
            "(or reinstall the package)"
        ) from exc
    found = set(_PLACEHOLDER.findall(text))
    if found != placeholders:
        raise PromptError(
            f"prompt file {name}.md must use the placeholders {sorted(placeholders)}, "
            f"found {sorted(found)}"
        )
    return Prompt(name, text, frozenset(found))


def prompt_hashes(directory: Traversable | None = None) -> dict[str, str]:
    """sha256 of every prompt file, for eval reports."""
    folder = directory or prompts_dir()
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".md")
    }
