"""diffcrew.agent: the roles (orchestrator, workers, synthesizer), the model client and the CLI."""

__version__ = "0.1.0"
