"""diffcrew.sandbox: isolated worktrees and validation commands (deepened by the validation issue)."""
