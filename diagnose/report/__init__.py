"""Report model and its renderers (terminal, JSON, Markdown)."""
