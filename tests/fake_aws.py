"""A stand-in for the `aws` CLI of the dump image, for running the backups' scripts for real
under busybox sh: the few commands they use, against buckets that are directories, each bucket
answering only to the access key the stack gave for it (so a copy made with the wrong key
fails as it would on Spaces).

Buckets live under `<root>/<endpoint host>/<bucket>/<key>`; each call is logged to
`<root>/calls.jsonl` with the key id it signed with. An argument containing FAKE_AWS_FAIL (an
environment variable) makes that call fail, as a network or permission error would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import realprog

STUB = r"""#!{python}
import json, os, sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path({root!r})
KEYS = json.loads({keys!r})
args = sys.argv[1:]
endpoint = ""
if "--endpoint-url" in args:
    i = args.index("--endpoint-url")
    endpoint = urlsplit(args[i + 1]).hostname
    del args[i:i + 2]
key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
with open(ROOT / "calls.jsonl", "a") as log:
    log.write(json.dumps({{"args": args, "endpoint": endpoint, "key": key_id}}) + "\n")
fail = os.environ.get("FAKE_AWS_FAIL")
if fail and any(fail in a for a in args):
    sys.exit("fake aws: failing on purpose (" + fail + ")")

def option(name, default=None):
    return args[args.index(name) + 1] if name in args else default

def bucket_dir(bucket):
    if KEYS.get(endpoint + "/" + bucket) != key_id:
        sys.exit("An error occurred (AccessDenied): key " + key_id + " may not use " + endpoint + "/" + bucket)
    return ROOT / endpoint / bucket

def split(uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket_dir(bucket) / key

if args[:2] == ["s3api", "list-objects-v2"]:
    assert option("--query") == "Contents[].[Key,Size]" and option("--output") == "text", args
    top = bucket_dir(option("--bucket"))
    prefix = option("--prefix", "")
    found = sorted(p for p in top.rglob("*") if p.is_file() and not p.name.endswith(".acl"))
    rows = [(str(p.relative_to(top)), p.stat().st_size) for p in found]
    rows = [r for r in rows if r[0].startswith(prefix)]
    print("\n".join(f"{{k}}\t{{n}}" for k, n in rows) if rows else "None")
elif args[:2] == ["s3", "cp"]:
    src, dst = args[2], args[3]
    if src == "-":
        data = sys.stdin.buffer.read()
    else:
        data = (split(src) if src.startswith("s3://") else Path(src)).read_bytes()
    if dst == "-":
        sys.stdout.buffer.write(data)
    elif dst.startswith("s3://"):
        target = split(dst)
        size = option("--expected-size")
        assert size is None or int(size) == len(data), (size, len(data))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        Path(str(target) + ".acl").write_text(option("--acl", "private"))
    else:
        Path(dst).write_bytes(data)
else:
    sys.exit("fake aws: unsupported command " + " ".join(args))
"""


def install(bin_dir: Path, root: Path, keys: dict[str, str]) -> None:
    """Put `aws` on `bin_dir`; `keys` maps '<endpoint host>/<bucket>' to the one access key id
    it answers to (each bucket is created empty)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    for bucket in keys:
        (root / bucket).mkdir(parents=True, exist_ok=True)
    stub = bin_dir / "aws"
    stub.write_text(STUB.format(python=sys.executable, root=str(root), keys=json.dumps(keys)))
    stub.chmod(0o755)


def objects(root: Path, endpoint_host: str, bucket: str) -> dict[str, str]:
    """Key -> ACL of every object in a fake bucket."""
    top = root / endpoint_host / bucket
    return {
        str(p.relative_to(top)): Path(str(p) + ".acl").read_text()
        for p in sorted(top.rglob("*"))
        if p.is_file() and not p.name.endswith(".acl")
    }


def calls(root: Path) -> list[dict]:
    log = root / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def busybox_dir(directory: Path) -> Path:
    """A directory of busybox applets (sh, cut, date, ...) to put first on PATH: the dump
    image is Alpine's, whose shell and tools are busybox."""
    busybox = realprog.require("busybox", "busybox")
    directory.mkdir(parents=True, exist_ok=True)
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in listed:
        link = directory / applet
        if not link.exists():
            link.symlink_to(busybox)
    return directory
