"""The one error type for the user's mistakes, shared by every subpackage."""


class UserError(ValueError):
    """Bad input: a spec, an argument or a store the user pointed at. The CLI prints it as
    one line and exits non-zero; anything else that escapes is a bug and shows as one."""


class StoreDamaged(UserError):
    """A store whose metadata or data cannot be trusted as it is."""
