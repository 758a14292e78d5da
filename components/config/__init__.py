"""The one package that reads `pulumi.Config`: pydantic models per config key, validated once.

Every problem is reported together in one ConfigError (a `pulumi.RunError`, printed without a
traceback) naming the key as the user wrote it, the bad value and what is allowed, before
any resource is registered. Defaults live in the models; Pulumi.yaml declares the scalar
keys with the same defaults (a test keeps them equal).

- base.py: shared model config and field helpers
- app.py (+ process.py), data.py, edge.py (+ dns.py), proxy.py, storage.py, ops.py: one
  model per object key
- stack.py: the scalar keys and the root model; rules.py: the rules across keys
- nginx.py: the nginx settings of a config; sizing.py: connection pool and memory budget
- loading.py: from `pulumi.Config` to a StackConfig or a ConfigError
"""

from components.config.app import AppConfig
from components.config.base import NAMESPACE, image_problem, is_domain
from components.config.data import DatabaseConfig, ValkeyConfig
from components.config.edge import EdgeConfig
from components.config.loading import SECRET_KEYS, ConfigError, load, parse
from components.config.nginx import nginx_spec
from components.config.ops import BackupsConfig, MonitoringConfig
from components.config.proxy import ProxyConfig
from components.config.sizing import (
    BACKUP_MEMORY_MB,
    DATA_CONTAINER_MEMORY_MB,
    JOB_RUNNER_MEMORY_MB,
    LOGSHIP_MEMORY_MB,
    PROBE_MEMORY_MB,
    PROXY_MEMORY_MB,
    SOCKET_PROXY_MEMORY_MB,
    VOLUME_BACKUP_MEMORY_MB,
    connections_needed,
)
from components.config.stack import StackConfig

__all__ = [
    "BACKUP_MEMORY_MB",
    "DATA_CONTAINER_MEMORY_MB",
    "JOB_RUNNER_MEMORY_MB",
    "LOGSHIP_MEMORY_MB",
    "NAMESPACE",
    "PROBE_MEMORY_MB",
    "PROXY_MEMORY_MB",
    "SECRET_KEYS",
    "SOCKET_PROXY_MEMORY_MB",
    "VOLUME_BACKUP_MEMORY_MB",
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
