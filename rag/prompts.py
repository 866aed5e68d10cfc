"""Prompts are files under prompts/ with named {placeholders}, checked when loaded."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import PromptError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


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


def load_prompt(name: str, placeholders: set[str], directory: Path = PROMPTS_DIR) -> Prompt:
    """Read prompts/<name>.md and check that it has exactly the expected placeholders."""
    path = directory / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PromptError(
            f"prompt file {path.name} is missing from {directory}: restore it"
        ) from exc
    found = set(_PLACEHOLDER.findall(text))
    if found != placeholders:
        raise PromptError(
            f"prompt file {path.name} must use the placeholders {sorted(placeholders)}, "
            f"found {sorted(found)}"
        )
    return Prompt(name, text, frozenset(found))


def prompt_hashes(directory: Path = PROMPTS_DIR) -> dict[str, str]:
    """sha256 of every prompt file, for eval reports."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.md"))
    }
