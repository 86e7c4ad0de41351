"""What every part of callroles builds on: settings, errors, names, the command line."""

from importlib.metadata import version

#: the installed version of the runtime distribution (pyproject.toml)
__version__ = version("callroles")
