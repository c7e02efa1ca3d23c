"""Errors that reach the user as one line and a non-zero exit (see ``xorsweep.errors``)."""
from xorsweep.errors import StoreDamaged, UserError

__all__ = ["StoreDamaged", "UserError"]
