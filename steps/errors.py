"""The one error type the entry points report as a single line (bad parameters or data)."""


class UserError(ValueError):
    """Bad input from the user: reported as one line on stderr, exit code 2, no traceback."""
