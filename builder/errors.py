"""Errors a user can cause. The CLI prints their message as one line and exits non-zero; anything
else is a bug and keeps its traceback."""


class BuilderError(Exception):
    """Base of every error that is the user's to fix. The message says what was wrong and what is valid."""

    exit_code = 2


class InputError(BuilderError):
    """An input path, file or option that cannot be used."""


class SchemaError(BuilderError):
    """Data that does not match schemas/."""
