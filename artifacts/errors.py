"""The exception types the CLI prints as one line and exits 2 for: bad user input, an unreachable store."""


class BadInput(ValueError):
    """Input that the user must fix: the message names the input, what is wrong and what to do."""


class StoreUnreachable(BadInput):
    """The store (an object store URL) stopped answering: the message names it and says to run again.

    A BadInput so that the CLI prints it as one line: what was written before is complete and
    checksummed, so the same command resumes once the store is back.
    """
