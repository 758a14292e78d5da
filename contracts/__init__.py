"""Provider contracts: trimmed upstream schemas and transcribed upstream rules (data), plus their regenerator.

The check itself lives in testing/contracts.py; this package holds what it checks against.
"""
