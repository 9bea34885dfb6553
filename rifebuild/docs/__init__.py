"""Documentation generated from the code's own sources of truth (docs/configuration.md from the config schema)."""
