"""`python -m flows.cli`, as before the CLI moved to flows/app/cli.py (the console script is `diffeval`)."""

from flows.app.cli import main, run_spec  # noqa: F401

if __name__ == "__main__":
    main()
