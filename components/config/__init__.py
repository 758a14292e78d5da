"""The one package that reads `pulumi.Config`: pydantic models per config key, validated once.

Every problem is reported together in one ConfigError (a `pulumi.RunError`, printed without a
traceback) naming the key as the user wrote it, the bad value and what is allowed, before
any resource is registered. Defaults live in the models; Pulumi.yaml declares the scalar
keys with the same defaults (a test keeps them equal).

- base.py: shared model config and field helpers
- app.py (+ process.py), data.py, edge.py, ops.py: one model per object key
- stack.py: the scalar keys, the root model and the rules across keys
- sizing.py: connection pool and memory budget
- loading.py: from `pulumi.Config` to a StackConfig or a ConfigError
"""

from components.config.app import AppConfig
from components.config.base import NAMESPACE, image_problem
from components.config.data import DatabaseConfig, ValkeyConfig
from components.config.edge import EdgeConfig, ProxyConfig
from components.config.loading import SECRET_KEYS, ConfigError, load, parse
from components.config.ops import BackupsConfig, MonitoringConfig
from components.config.sizing import (
    BACKUP_MEMORY_MB,
    DATA_CONTAINER_MEMORY_MB,
    JOB_RUNNER_MEMORY_MB,
    PROBE_MEMORY_MB,
    PROXY_MEMORY_MB,
    connections_needed,
)
from components.config.stack import StackConfig, is_domain, nginx_spec

__all__ = [
    "BACKUP_MEMORY_MB",
    "DATA_CONTAINER_MEMORY_MB",
    "JOB_RUNNER_MEMORY_MB",
    "NAMESPACE",
    "PROBE_MEMORY_MB",
    "PROXY_MEMORY_MB",
    "SECRET_KEYS",
    "AppConfig",
    "BackupsConfig",
    "ConfigError",
    "DatabaseConfig",
    "EdgeConfig",
    "MonitoringConfig",
    "ProxyConfig",
    "StackConfig",
    "ValkeyConfig",
    "connections_needed",
    "image_problem",
    "is_domain",
    "load",
    "nginx_spec",
    "parse",
]
