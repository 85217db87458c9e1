"""The engine's error for bad input data (the web shows its message to the user)."""


class DataError(ValueError):
    """A dataset that cannot be used, with a message a user can act on."""
