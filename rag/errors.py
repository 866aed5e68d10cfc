"""Errors whose messages tell the user what to do. Only the CLI and the UI turn them into exits."""


class RagError(Exception):
    """Base class: str(error) is a one-line message meant for the user."""


class BadQuestion(RagError):
    pass


class DocsError(RagError):
    """The docs folder is missing, empty or unreadable."""


class IndexMismatch(RagError):
    """An index folder belongs to another docs folder."""


class ModelError(RagError):
    """A model's weights are missing, corrupt or cannot be loaded."""


class BackendMissing(RagError):
    """An optional backend was selected but its package is not installed."""


class PromptError(RagError):
    """A prompt file is missing or its placeholders do not match."""


class SettingsError(RagError):
    """A setting (an RAG_* environment variable or a flag) has an invalid value."""
