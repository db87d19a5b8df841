"""Errors that mean the user asked for something that cannot be done as asked."""


class UsageError(Exception):
    """Wrong usage: a missing file, a bad flag value, an unknown format.

    The CLI prints the message as one line and exits with status 2, without a traceback.
    """
