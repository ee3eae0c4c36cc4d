"""``python -m ragstore ...`` runs the command line (see :mod:`ragstore.cli`)."""

from ragstore.cli import main

if __name__ == "__main__":
    main()
