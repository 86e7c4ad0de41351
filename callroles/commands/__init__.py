"""The runtime's sub-commands of ``callroles`` (analyze, segment, agents, sounds, report): thin
argparse handlers over :mod:`callroles.call`, :mod:`callroles.agents`, :mod:`callroles.sounds`
and :mod:`callroles.report`, registered in pyproject.toml's ``callroles.commands`` entry points."""
