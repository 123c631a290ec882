"""diffcrew.tools: deterministic capabilities (repository context, patch engine, git). Never calls a model."""
