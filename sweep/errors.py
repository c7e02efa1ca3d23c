"""Errors that reach the user as one line and a non-zero exit."""


class UserError(Exception):
    """Bad input: a spec, an argument or a store the user pointed at."""
