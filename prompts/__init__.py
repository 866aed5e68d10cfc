"""The prompt files (*.md), shipped inside the package as rag.prompts (see pyproject.toml)."""
