"""Callbacks for training frameworks (optional: each imports its framework only when used)."""
