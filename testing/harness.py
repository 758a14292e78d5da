"""Run `__main__.py` for a stack under Pulumi mocks and record everything it registers.

One harness, two users: the test suite and the offline plan (`tools/plan.py`). It loads
config the way the Pulumi CLI does (Pulumi.yaml declared defaults, then
Pulumi.<stack>.yaml, then overrides), answers every resource with realistic camelCase
outputs, marks secret what the real providers mark secret (the stock mock monitor ignores
`additionalSecretOutputs`), and records type, name, parent, inputs, which inputs are
secret, dependencies, provider and options of every registration.

In preview mode it answers only with the inputs, as the engine does before a resource
exists, so every computed output (ids, IPs, passwords) is unknown.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

ROOT = Path(__file__).resolve().parent.parent
# Where in the program each resource was registered (the engine shows it in diagnostics): the
# mocks never read it, and the SDK extracts the whole Python stack with its source lines for
# each registration, about an eighth of a recording's time.
pulumi_resource._get_stack_trace = source_pb2.StackTrace
PROJECT = "webstack"
SECRET_MARK = "mocksecret"
UNKNOWN = rpc.UNKNOWN
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig


class StackConfigError(Exception):
    """What the Pulumi CLI itself would refuse before running the program."""


# --------------------------------------------------------------------------- config


def stack_files() -> list[str]:
    """Stack names with a Pulumi.<stack>.yaml in the project."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def stack_name(stack: str) -> str:
    """The Pulumi stack name of `stack`: itself, or for a directory (examples/shop) its last part."""
    return stack.rstrip("/").rsplit("/", 1)[-1]


def stack_path(stack: str) -> Path:
    """The stack file: Pulumi.<stack>.yaml at the project root, or for a name with a directory
    (examples/shop) <dir>/Pulumi.<last part>.yaml, as `pulumi --config-file` would read it.
    Pulumi.yaml (the declared keys and defaults) is always the root's."""
    if "/" in stack:
        return ROOT / stack.rstrip("/") / f"Pulumi.{stack_name(stack)}.yaml"
    return ROOT / f"Pulumi.{stack}.yaml"


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """`pulumi config set --path` semantics for overrides like `app.replicas`."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise StackConfigError(f"cannot set {dotted}: {key} is not an object")
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


@functools.lru_cache(maxsize=64)
def _parsed_yaml(path: Path, mtime_ns: int) -> Any:
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)


def _yaml_file(path: Path) -> Any:
    """The YAML document at `path`, parsed once per version of the file (a test run reads the
    same few files hundreds of times); a copy, so the caller may change it."""
    return copy.deepcopy(_parsed_yaml(path, path.stat().st_mtime_ns))


def stack_config(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Structured config values of `stack` (keys without namespace), as the CLI resolves them.

    Overrides use dotted paths (`app.replicas`); a value of None removes the key.
    """
    project = _yaml_file(ROOT / "Pulumi.yaml")
    declared: dict[str, dict[str, Any]] = project.get("config") or {}
    path = stack_path(stack)
    stack_doc = _yaml_file(path) if path.exists() else {}
    values: dict[str, Any] = {}
    for full_key, value in ((stack_doc or {}).get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if namespace == PROJECT:
            values[key] = value
    for dotted, value in (overrides or {}).items():
        _set_path(values, dotted, copy.deepcopy(value))
    for key, spec in declared.items():
        if "default" in spec and key not in values:
            values[key] = copy.deepcopy(spec["default"])
    for key, spec in declared.items():
        if key not in values:
            raise StackConfigError(f"Stack '{stack}' is missing configuration value '{PROJECT}:{key}'")
        expected = _TYPES.get(spec.get("type", "string"))
        value = values[key]
        if expected and not (isinstance(value, expected) and not (expected is int and isinstance(value, bool))):
            raise StackConfigError(
                f"Stack '{stack}': configuration value '{PROJECT}:{key}' = {value!r} is not of type {spec['type']}"
            )
    return values


def decrypt(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What the CLI hands the program for `{secure: ...}` leaves (`pulumi config set --secret
    --path`): the plaintext, here a recognisable fake, and the top-level keys now secret."""
    secret: list[str] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, dict) and set(node) == {"secure"}:
            secret.append(path.split(".", 1)[0])
            return fake_secret("config", path)
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        return node

    plain = {key: walk(value, key) for key, value in values.items()}
    return plain, sorted(set(secret))


def _as_cli_strings(values: dict[str, Any]) -> dict[str, str]:
    """The CLI hands the program strings; structured values arrive as JSON."""
    out = {}
    for key, value in values.items():
        out[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


# --------------------------------------------------------------------------- fakes


def _h(*parts: Any, n: int = 12) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def _num(*parts: Any, mod: int = 250) -> int:
    return int(_h(*parts), 16) % mod


def _uuid(*parts: Any) -> str:
    h = _h(*parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def fake_secret(*parts: Any, length: int = 40) -> str:
    """A recognisable fake secret: tests search every plain value for SECRET_MARK."""
    body = SECRET_MARK + _h(*parts, n=64)
    return (body * (length // len(body) + 1))[:length]


class WebstackMocks(pulumi.runtime.Mocks):
    """Realistic outputs per resource type, deterministic for a given stack and name."""

    def __init__(self, stack: str, preview: bool):
        self.stack = stack
        self.preview = preview
        self.clusters: dict[str, dict[str, Any]] = {}
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.preview:
            return "", inputs
        key = (self.stack, args.typ, args.name)
        fake = _FAKES.get(args.typ.split(":")[-1] if args.typ.startswith("pulumi:providers:") else args.typ)
        rid, outputs = fake(self, key, inputs) if fake else (_uuid(*key), {})
        if args.typ.startswith("kubernetes:") and isinstance(inputs.get("metadata"), dict):
            # Pulumi names an object without a name after its resource, with a random suffix.
            meta = inputs["metadata"]
            outputs["metadata"] = {**meta, "name": meta.get("name") or f"{args.name}-{_h(*key, n=8)}"}
        return rid, {**inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list | None]:
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "cloudflare:index/getZone:getZone":
            name = (args.args.get("filter") or {}).get("name", "example.com")
            zone_id = args.args.get("zoneId") or _h("zone", name, n=32)
            return {"id": zone_id, "zoneId": zone_id, "name": name, "status": "active"}, []
        if args.token == "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
            prefix = args.args.get("versionPrefix") or "1.35."
            return {"latestVersion": f"{prefix}2-do.0", "validVersions": [f"{prefix}2-do.0", f"{prefix}1-do.0"]}, []
        if args.token == "digitalocean:index/getKubernetesCluster:getKubernetesCluster":
            name = args.args.get("name", "cluster")
            token = fake_secret("kubeconfig", name, length=64)
            raw = (
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: https://k8s.example}\n"
                f"users:\n- name: u\n  user: {{token: {token}}}\n"
            )
            return {"name": name, "id": _uuid("k8s", name), "kubeConfigs": [{"rawConfig": raw, "token": token}]}, []
        return {}, []

    # -- per type ------------------------------------------------------------------

    def _cluster(self, key: tuple, inputs: dict) -> tuple[str, dict]:
        cid = _uuid(*key)
        engine = inputs.get("engine", "pg")
        name = inputs.get("name", key[-1])
        host = f"{name}-do-user-{_num(key, mod=10**7)}-0.{'k' if engine == 'pg' else 'm'}.db.ondigitalocean.com"
        port = 25060 if engine == "pg" else 25061
        user = "doadmin" if engine == "pg" else "default"
        password = fake_secret(*key, "password", length=24)
        scheme, db = ("postgresql", "defaultdb") if engine == "pg" else ("rediss", "")
        uri = f"{scheme}://{user}:{password}@{host}:{port}/{db}" + ("?sslmode=require" if engine == "pg" else "")
        info = {"host": host, "privateHost": f"private-{host}", "port": port}
        self.clusters[cid] = info
        return cid, {
            **info,
            "user": user,
            "password": password,
            "database": db,
            "uri": uri,
            "privateUri": uri.replace(host, f"private-{host}"),
            "clusterUrn": f"do:dbaas:{cid}",
            "status": "online",
        }

    def _pool(self, key: tuple, inputs: dict) -> tuple[str, dict]:
        info = self.clusters.get(inputs.get("clusterId", ""), {"host": "db.example", "privateHost": "db.example"})
        password = fake_secret(*key, "password", length=24)
        user, name = inputs.get("user", "app"), inputs.get("name", key[-1])
        uri = f"postgresql://{user}:{password}@{{h}}:25061/{name}?sslmode=require"
        return f"{inputs.get('clusterId')}/{name}", {
            "host": info["host"],
            "privateHost": info["privateHost"],
            "port": 25061,
            "password": password,
            "uri": uri.format(h=info["host"]),
            "privateUri": uri.format(h=info["privateHost"]),
        }

    def _droplet(self, key: tuple, inputs: dict) -> tuple[str, dict]:
        did = str(400_000_000 + _num(*key, mod=10**8))
        n = _num(*key)
        return did, {
            "ipv4Address": f"192.0.2.{n + 1}",
            "ipv4AddressPrivate": f"10.0.0.{n + 2}",
            "ipv6Address": f"2001:db8::{n + 1:x}",
            "dropletUrn": f"do:droplet:{did}",
            "status": "active",
            "memory": 2048,
            "vcpus": 1,
            "disk": 50,
        }


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _simple(prefix: str, urn_field: str | None = None):
    def fake(self: WebstackMocks, key: tuple, inputs: dict) -> tuple[str, dict]:
        rid = _uuid(*key)
        return rid, ({urn_field: f"do:{prefix}:{rid}"} if urn_field else {})

    return fake


def _fixed(outputs_fn):
    def fake(self: WebstackMocks, key: tuple, inputs: dict) -> tuple[str, dict]:
        return _uuid(*key), outputs_fn(key, inputs)

    return fake


_FAKES = {
    "digitalocean:index/kubernetesCluster:KubernetesCluster": _fixed(
        lambda k, i: {
            "clusterUrn": f"do:kubernetes:{_uuid(*k)}",
            "serviceSubnet": "10.245.0.0/16",
            "clusterSubnet": "10.244.0.0/16",
            "status": "running",
        }
    ),
    "digitalocean:index/kubernetesNodePool:KubernetesNodePool": _fixed(
        lambda k, i: {"actualNodeCount": i.get("minNodes", 1)}
    ),
    "kubernetes:core/v1:Service": _fixed(
        lambda k, i: {
            "status": {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{10 + _num(*k, mod=50)}"}]}}
            if (i.get("spec") or {}).get("type") == "LoadBalancer"
            else {}
        }
    ),
    "digitalocean:index/vpc:Vpc": _simple("vpc", "vpcUrn"),
    "digitalocean:index/tag:Tag": lambda self, key, inputs: (inputs.get("name", key[-1]), {}),
    "digitalocean:index/firewall:Firewall": _fixed(lambda k, i: {"status": "succeeded"}),
    "digitalocean:index/loadBalancer:LoadBalancer": _fixed(
        lambda k, i: {
            "ip": f"192.0.2.{200 + _num(*k, mod=50)}",
            "loadBalancerUrn": f"do:loadbalancer:{_uuid(*k)}",
            "status": "active",
        }
    ),
    "digitalocean:index/reservedIp:ReservedIp": lambda self, key, inputs: (
        ip := f"198.51.100.{10 + _num(*key, mod=200)}",
        {"ipAddress": ip, "reservedIpUrn": f"do:reservedip:{ip}"},
    ),
    "digitalocean:index/droplet:Droplet": WebstackMocks._droplet,
    # A volume reads back its filesystem and the droplets it is attached to (none until the
    # droplet that names it in volume_ids exists).
    "digitalocean:index/volume:Volume": _fixed(
        lambda k, i: {
            "volumeUrn": f"do:volume:{_uuid(*k)}",
            "filesystemType": i.get("initialFilesystemType", ""),
            "filesystemLabel": i.get("initialFilesystemLabel", ""),
            "dropletIds": [],
        }
    ),
    "digitalocean:index/databaseCluster:DatabaseCluster": WebstackMocks._cluster,
    "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool": WebstackMocks._pool,
    "digitalocean:index/databaseUser:DatabaseUser": _fixed(
        lambda k, i: {"password": fake_secret(*k, length=24), "role": "normal"}
    ),
    "digitalocean:index/sshKey:SshKey": lambda self, key, inputs: (
        str(40_000_000 + _num(*key, mod=10**6)),
        {"fingerprint": ":".join(_h(*key, n=32)[i : i + 2] for i in range(0, 32, 2))},
    ),
    "digitalocean:index/spacesBucket:SpacesBucket": lambda self, key, inputs: (
        inputs.get("name", key[-1]),
        {
            "bucketDomainName": f"{inputs.get('name')}.{inputs.get('region')}.digitaloceanspaces.com",
            "endpoint": f"{inputs.get('region')}.digitaloceanspaces.com",
            "bucketUrn": f"do:space:{inputs.get('name')}",
        },
    ),
    "digitalocean:index/spacesKey:SpacesKey": _fixed(
        lambda k, i: {"accessKey": "DO00" + _h(*k, n=16).upper(), "secretKey": fake_secret(*k, length=43)}
    ),
    "digitalocean:index/uptimeCheck:UptimeCheck": _simple("uptime"),
    "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials": _fixed(
        lambda k, i: {
            "dockerCredentials": json.dumps(
                {"auths": {"registry.digitalocean.com": {"auth": _b64(f"{(t := fake_secret(*k, length=40))}:{t}")}}}
            ),
            "credentialExpirationTime": "2027-11-23T00:00:00Z",
        }
    ),
    "random:index/randomId:RandomId": _fixed(lambda k, i: {"hex": _h(*k, n=8), "b64Std": _h(*k, "b", n=8)}),
    "random:index/randomPassword:RandomPassword": _fixed(
        lambda k, i: {"result": fake_secret(*k, length=int(i.get("length", 32))), "bcryptHash": fake_secret(*k, "b")}
    ),
    "tls:index/privateKey:PrivateKey": _fixed(
        lambda k, i: {
            "privateKeyPem": f"-----BEGIN PRIVATE KEY-----\n{fake_secret(*k, length=64)}\n-----END PRIVATE KEY-----\n",
            "privateKeyOpenssh": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{fake_secret(*k, 'o', length=64)}\n",
            "privateKeyPemPkcs8": f"-----BEGIN PRIVATE KEY-----\n{fake_secret(*k, 'p', length=64)}\n",
            "publicKeyPem": f"-----BEGIN PUBLIC KEY-----\nMFkw{_h(*k, n=40)}\n-----END PUBLIC KEY-----\n",
            "publicKeyOpenssh": f"ecdsa-sha2-nistp256 AAAAE2Vj{_h(*k, n=40)}",
        }
    ),
    "tls:index/certRequest:CertRequest": _fixed(
        lambda k, i: {
            "certRequestPem": f"-----BEGIN CERTIFICATE REQUEST-----\nMIIB{_h(*k, n=40)}\n"
            "-----END CERTIFICATE REQUEST-----\n"
        }
    ),
    "tls:index/selfSignedCert:SelfSignedCert": _fixed(
        lambda k, i: {"certPem": f"-----BEGIN CERTIFICATE-----\nMIIF{_h(*k, n=40)}\n-----END CERTIFICATE-----\n"}
    ),
    "tls:index/locallySignedCert:LocallySignedCert": _fixed(
        lambda k, i: {"certPem": f"-----BEGIN CERTIFICATE-----\nMIID{_h(*k, n=40)}\n-----END CERTIFICATE-----\n"}
    ),
    # Per-hostname origin pulls: the certificate has an id of its own (32 hex digits); an
    # association's id is its hostname.
    "cloudflare:index/authenticatedOriginPullsHostnameCertificate:AuthenticatedOriginPullsHostnameCertificate": (
        lambda self, key, inputs: (_h(*key, n=32), {"status": "pending_deployment"})
    ),
    "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls": lambda self, key, inputs: (
        inputs["configs"][0]["hostname"],
        {"hostname": inputs["configs"][0]["hostname"], "status": "pending_deployment"},
    ),
    "cloudflare:index/originCaCertificate:OriginCaCertificate": _fixed(
        lambda k, i: {
            "certificate": f"-----BEGIN CERTIFICATE-----\nMIIE{_h(*k, n=40)}\n-----END CERTIFICATE-----\n",
            "expiresOn": "2041-11-22T00:00:00Z",
        }
    ),
    "cloudflare:index/dnsRecord:DnsRecord": lambda self, key, inputs: (_h(*key, n=32), {}),
    # Pages: the project's id is its name and it answers with its pages.dev subdomain, the
    # target of the frontend's CNAME.
    "cloudflare:index/pagesProject:PagesProject": lambda self, key, inputs: (
        inputs["name"],
        {"subdomain": f"{inputs['name']}.pages.dev"},
    ),
    "cloudflare:index/pagesDomain:PagesDomain": lambda self, key, inputs: (inputs["name"], {"status": "initializing"}),
    "docker:index/remoteImage:RemoteImage": _fixed(
        lambda k, i: {"imageId": f"sha256:{_h(*k, n=64)}", "repoDigest": f"{i.get('name')}@sha256:{_h(*k, 'd', n=64)}"}
    ),
    "docker:index/container:Container": lambda self, key, inputs: (_h(*key, n=64), {"exitCode": 0}),
    "docker:index/network:Network": lambda self, key, inputs: (_h(*key, n=64), {"scope": "local"}),
    "docker:index/volume:Volume": lambda self, key, inputs: (inputs.get("name", key[-1]), {}),
    "command:remote:Command": _fixed(lambda k, i: {"stdout": "ready", "stderr": ""}),
}


# --------------------------------------------------------------------------- recording


@dataclass
class Resource:
    urn: str
    id: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    secret_paths: list[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: str
    protect: bool
    ignore_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    additional_secret_outputs: list[str]
    import_id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    replace_on_changes: list[str] = field(default_factory=list)

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    def has_secret_input(self) -> bool:
        return bool(self.secret_paths)


def _unwrap(value: Any, path: str, secret_paths: list[str]) -> Any:
    """Plain value of a serialized property, noting where secrets were."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            secret_paths.append(path)
            return _unwrap(value.get("value"), path, [])
        if sig is not None and "urn" in value:
            return {"urn": value["urn"], "id": value.get("id")}
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items() if k != _SIG}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that records registrations and honours additionalSecretOutputs."""

    def __init__(self, mocks: WebstackMocks):
        super().__init__(mocks)
        self.recorded: list[Resource] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return pulumi_mocks.resource_pb2.RegisterResourceResponse(urn=urn)
        if urn in self.resources:  # the engine refuses this too
            raise ValueError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
        pulumi_mocks._ensure_event_loop()
        raw = json_format.MessageToDict(request.object)
        secret_paths: list[str] = []
        inputs = _unwrap(raw, "", secret_paths)
        resource_args = pulumi_mocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=rpc.deserialize_properties(request.object),
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.mocks.new_resource(resource_args)
        wire_state = dict(state)
        for key in request.additionalSecretOutputs:
            if key in wire_state:
                wire_state[key] = {_SIG: _SECRET_SIG, "value": wire_state[key]}
        obj_proto = _sync_await(rpc.serialize_properties(wire_state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        self.recorded.append(
            Resource(
                urn=urn,
                id=id_ or "",
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=inputs,
                secret_paths=secret_paths,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                provider=request.provider,
                protect=bool(request.protect),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                retain_on_delete=bool(request.retainOnDelete),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                import_id=request.importId,
                outputs=state,
                replace_on_changes=list(request.replaceOnChanges),
            )
        )
        return pulumi_mocks.resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)


@dataclass
class Export:
    value: Any
    secret: bool
    known: bool


@dataclass
class Run:
    stack: str
    preview: bool
    config: dict[str, Any]
    resources: list[Resource]
    exports: dict[str, Export]
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Data-source calls (token, arguments), in order: what the program looked up."""

    @functools.cached_property
    def cfg(self):
        """The validated config the program saw (components.config.StackConfig), parsed once."""
        from components.config import parse
        from components.config.loading import plaintext_secret_leaves

        raw, secret_keys = cli_values(self.config)
        return parse(raw, self.stack, secret_keys=secret_keys, plaintext_leaves=plaintext_secret_leaves(self.config))

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle keeps (tests/conftest.py shares recordings between test processes):
        the recording, not the parsed config, which holds Outputs and is parsed again on use."""
        return {k: v for k, v in self.__dict__.items() if k != "cfg"}

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Resource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return self._index()[urn]

    def named(self, name: str) -> Resource:
        return next(r for r in self.resources if r.name == name)

    def _index(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    def upstream(self, urn: str) -> set[str]:
        """Every URN this resource waits on, transitively (dependencies, parents' deps, providers)."""
        index = self._index()
        seen: set[str] = set()
        stack = [urn]
        while stack:
            r = index.get(stack.pop())
            if r is None:
                continue
            for dep in direct_dependencies(r):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen


def direct_dependencies(r: Resource) -> set[str]:
    """What the engine waits on before creating `r`: its dependencies and explicit provider.

    Default providers are not registered under mocks; an explicit provider (the docker
    provider of a host) is, and waiting on it is the real ordering edge.
    """
    deps = set(r.dependencies)
    for urns in r.property_dependencies.values():
        deps.update(urns)
    if r.provider_urn and "::default" not in r.provider_urn:
        deps.add(r.provider_urn)
    deps.discard(r.urn)
    return {d for d in deps if "pulumi:pulumi:Stack" not in d}


# --------------------------------------------------------------------------- run


def _resolve(value: Any) -> Export:
    out = pulumi.Output.from_input(value)
    return Export(
        value=_sync_await(out.future()),
        secret=bool(_sync_await(out.is_secret())),
        known=bool(_sync_await(out.is_known())),
    )


def cli_values(config: dict[str, Any]) -> tuple[dict[str, str], frozenset[str]]:
    """What the CLI hands `components.config.parse` for a stack's config: each key's value as
    text, without the namespace, and the keys it holds secret (a `secure` leaf inside)."""
    plain, secret_keys = decrypt(config)
    return {k.split(":", 1)[1]: v for k, v in _as_cli_strings(plain).items()}, frozenset(secret_keys)


def parsed_config(stack: str, overrides: dict[str, Any] | None = None):
    """The validated config of `stack` with `overrides`, as the program would see it, without
    running the program (nothing recorded); raises ConfigError like the program."""
    return Run(stack=stack, preview=False, config=stack_config(stack, overrides), resources=[], exports={}).cfg


def _quiet_stopped_program(loop, context: dict[str, Any]) -> None:
    """asyncio's handler, without the lines it prints at exit for every Output still waiting on
    a program that stopped with a RunError (a config error, a failed one-shot: tests make both
    on purpose); the error itself reaches the test."""
    if isinstance(context.get("exception"), pulumi.RunError):
        return
    loop.default_exception_handler(context)


def run(
    stack: str, overrides: dict[str, Any] | None = None, preview: bool = False, secrets: dict[str, str] | None = None
) -> Run:
    """Evaluate the program for `stack` (a root stack name or a directory, see stack_path);
    raises the program's own errors (e.g. ConfigError).

    `secrets` are config values set with `pulumi config set --secret` (key without namespace).
    """
    values = stack_config(stack, overrides)
    stack = stack_name(stack)
    mocks = WebstackMocks(stack, preview)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.set_root_resource(None)  # a fresh Stack per run, not the last run's
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    _ensure_event_loop().set_exception_handler(_quiet_stopped_program)
    secret_values = {f"{PROJECT}:{k}": v for k, v in (secrets or {}).items()}
    plain, secret_keys = decrypt(values)
    pulumi_config.set_all_config(
        {**_as_cli_strings(plain), **secret_values}, [*secret_values, *(f"{PROJECT}:{k}" for k in secret_keys)]
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")))
    except Exception as exc:
        exc.recorded = list(monitor.recorded)  # what got registered before the failure
        raise
    root = pulumi.runtime.settings.get_root_resource()
    exports = {k: _resolve(v) for k, v in getattr(root, "outputs", {}).items()}
    return Run(
        stack=stack,
        preview=preview,
        config=values,
        resources=list(monitor.recorded),
        exports=exports,
        invokes=list(mocks.invokes),
    )
