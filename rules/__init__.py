"""The built-in rule set: TOML files, shipped in the package as diagnose._rules."""
