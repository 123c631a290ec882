"""`python -m diffcrew.agent` runs the CLI (the same as the `diffcrew` command)."""

from diffcrew.agent.cli import entry

entry()
