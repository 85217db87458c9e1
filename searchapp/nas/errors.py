"""The engine's error for bad input data (the web shows its message to the user)."""

from __future__ import annotations

import os


class DataError(ValueError):
    """A dataset that cannot be used, with a message a user can act on.

    ``field`` names the user's input it is about ("classes" for a class list), so a form can
    put the message beside that field; ``path`` names the file or archive, when there is one.
    """

    def __init__(
        self, message: str, *, field: str | None = None, path: str | os.PathLike | None = None
    ):
        super().__init__(message)
        self.field = field
        self.path = str(path) if path is not None else None
