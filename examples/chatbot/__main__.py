"""``python -m examples.chatbot``: the terminal or web chatbot (see :mod:`examples.chatbot.cli`)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default model ships with ragstore; never download

from examples.chatbot.cli import main  # imported after the environment is set

if __name__ == "__main__":
    raise SystemExit(main())
