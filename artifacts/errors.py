"""The one exception type for bad user input: the CLI prints it as one line and exits 2."""


class BadInput(ValueError):
    """Input that the user must fix: the message names the input, what is wrong and what to do."""
