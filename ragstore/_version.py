"""The package version, in a module of its own so that ragstore's modules import it without importing the package.

Hatch reads it from here at build time (``[tool.hatch.version]`` in ``pyproject.toml``);
``ragstore.__version__`` re-exports it.

Example:
    >>> import ragstore
    >>> __version__ == ragstore.__version__
    True

"""

from __future__ import annotations

__version__ = "0.1.0"
