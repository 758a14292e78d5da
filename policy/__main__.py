"""The pack as `pulumi preview --policy-pack policy` runs it: assembly only.

The CLI runs this file with the pack's directory on sys.path, hence `from rules import`.
Constructing a PolicyPack starts the analyzer's gRPC server, so nothing imports this file.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES, pack_config

PolicyPack(
    name="webstack",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
    initial_config=pack_config(),
)
