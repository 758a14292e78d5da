"""Who can log in to a droplet, and for how long (principle 13).

- config refuses SSH sources that together admit a large part of the internet, and keys that
  are weak, malformed or not one line, with a message naming the key;
- sshd, the real one (`sshd -t` / `-T`), accepts the drop-in and ends up with its settings;
- the key sync step makes ~deploy/.ssh/authorized_keys exactly `sshPublicKeys` (run here with
  bash, mktemp, sha256sum and ssh-keygen), never half-written, and docker waits for it.
"""

from __future__ import annotations

import base64
import os
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from components.config import ConfigError
from components.config.base import ONE_LINE, shown
from components.config.rules import ssh_md5
from components.droplets.servers import authorized_keys, key_sync_script
from components.render.cloudinit import SSHD_DROPIN_PATH, sshd_dropin
from testing import harness
from tests import realprog
from tests.conftest import recorded, recorded_with

COMMAND = "command:remote:Command"


def _openssh(public_key, comment: str) -> str:
    line = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}"


def _sk(kind: str, *fields: bytes) -> str:
    """A FIDO (sk-*) public key line: its wire form is the key's fields and the application."""
    blob = b"".join(struct.pack(">I", len(f)) + f for f in (kind.encode(), *fields, b"ssh:"))
    return f"{kind} {base64.b64encode(blob).decode()} token@laptop"


ED25519 = _openssh(ed25519.Ed25519PrivateKey.generate().public_key(), "alice@laptop")
ECDSA = _openssh(ec.generate_private_key(ec.SECP256R1()).public_key(), "bob@laptop")
RSA_2048 = _openssh(rsa.generate_private_key(65537, 2048).public_key(), "carol@laptop")
RSA_1024 = _openssh(rsa.generate_private_key(65537, 1024).public_key(), "old@laptop")
_P256 = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
)
SK_ED25519 = _sk("sk-ssh-ed25519@openssh.com", os.urandom(32))
SK_ECDSA = _sk("sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", _P256)
_ED_BLOB = ED25519.split()[1]


def _problems(overrides: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        harness.parsed_config("staging", overrides)
    return str(info.value).split("\n")[1:]


# ------------------------------------------------------------------ SSH sources, all together

_WHOLE = "an OpenSSH public key line whose key data is complete and of the type it names"
_ONE_LINE = ONE_LINE
_LIMIT = "must be trusted networks that together admit at most a /16 of IPv4 and a /32 of IPv6"


@pytest.mark.parametrize(
    ("cidrs", "admits"),
    [
        (["0.0.0.0/1", "128.0.0.0/1"], "as many IPv4 addresses as a /0"),
        (["::/1", "8000::/1"], "as many IPv6 addresses as a /0"),
        (["203.0.113.0/24", "10.0.0.0/15"], "as many IPv4 addresses as a /15"),
        (["198.51.100.0/24", "2001:db8::/31"], "as many IPv6 addresses as a /31"),
    ],
)
def test_ssh_sources_that_together_admit_much_of_the_internet_are_refused(cidrs, admits):
    """Not only /0: two halves are the whole internet too (the hole the review found)."""
    line = f"  - webstack:sshTrustedCidrs = {cidrs!r}: {_LIMIT}; these admit {admits}"
    assert _problems({"sshTrustedCidrs": cidrs}) == [line]


def test_an_organisations_whole_block_is_still_accepted():
    """At the limit, and overlapping ranges counted once (collapsed), not added up."""
    cidrs = ["10.0.0.0/16", "10.0.0.0/17", "10.0.255.255/32", "2001:db8::/32", "2001:db8:1::/48"]
    assert harness.parsed_config("staging", {"sshTrustedCidrs": cidrs}).ssh_trusted_cidrs == tuple(cidrs)


# ------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7",
         "a key of a type OpenSSH still accepts (DSA keys are refused), e.g. ssh-ed25519"),
        (RSA_2048.split()[0] + " " + RSA_2048.split()[1][:60],
         f"{_WHOLE} (ssh-rsa)"),
        (f"ssh-rsa {_ED_BLOB} alice", f"{_WHOLE} (ssh-rsa)"),
        (f"ecdsa-sha2-nistp384 {ECDSA.split()[1]}", f"{_WHOLE} (ecdsa-sha2-nistp384)"),
        (RSA_1024, "an RSA key of at least 2048 bits (this one has 1024), or ssh-ed25519"),
        (f"{ED25519}\nssh-ed25519 {_ED_BLOB} mallory", _ONE_LINE),
        (f"{ED25519}\n", _ONE_LINE),
        ("hunter2", "an OpenSSH public key line (type key comment), the type one of ssh-ed25519, "
                    "sk-ssh-ed25519@openssh.com, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, "
                    "sk-ecdsa-sha2-nistp256@openssh.com, ssh-rsa"),
        (f'command="sh" ssh-ed25519 {_ED_BLOB}', "an OpenSSH public key line (type key comment), the type one of "
                    "ssh-ed25519, sk-ssh-ed25519@openssh.com, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, "
                    "ecdsa-sha2-nistp521, sk-ecdsa-sha2-nistp256@openssh.com, ssh-rsa"),
    ],
    ids=["dss", "truncated-rsa", "rsa-prefix-on-ed25519", "curve-mismatch", "rsa-1024", "embedded-newline",
         "trailing-newline", "not-a-key", "with-options"],
)  # fmt: skip
def test_weak_or_malformed_keys_are_refused_naming_the_key(key, allowed):
    # A long key is shown cut, as every echoed value is (config/base.py shown).
    assert _problems({"sshPublicKeys": [ED25519, key]}) == [
        f"  - webstack:sshPublicKeys = {shown(key)}: must be {allowed}"
    ]


def test_an_embedded_newline_is_a_config_error_not_a_traceback():
    """It used to get past config and stop the program in the cloud-init renderer (ValueError)."""
    with pytest.raises(ConfigError, match="webstack:sshPublicKeys"):
        harness.run("staging", {"sshPublicKeys": [f"{ED25519}\nssh-ed25519 {_ED_BLOB} x"]})


def test_every_key_type_sshd_accepts_is_accepted():
    keys = [ED25519, ECDSA, RSA_2048, SK_ED25519, SK_ECDSA]
    # The account key attached by fingerprint is one of the keys (components/config/rules.py).
    config = {"sshPublicKeys": keys, "sshKeyFingerprints": [ssh_md5(ED25519)]}
    assert harness.parsed_config("staging", config).ssh_public_keys == tuple(keys)


# ------------------------------------------------------------------ sshd's own verdict


def _sshd_check(tmp_dir: Path, dropin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`sshd -t`/`-T` on a config shaped like Ubuntu's: drop-ins included first, then main-file
    settings the drop-in must beat. As an unprivileged user (root's sshd wants /run/sshd)."""
    sshd = realprog.require("sshd", "openssh-server")
    keygen = realprog.require("ssh-keygen", "openssh-client")
    (tmp_dir / "sshd_config.d").mkdir()
    (tmp_dir / "sshd_config.d" / Path(SSHD_DROPIN_PATH).name).write_text(dropin)
    (tmp_dir / "sshd_config.d" / "50-cloud-init.conf").write_text("PasswordAuthentication no\n")
    key = tmp_dir / "host_ed25519"
    assert realprog.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)]).returncode == 0
    (tmp_dir / "sshd_config").write_text(
        f"Include {tmp_dir}/sshd_config.d/*.conf\nHostKey {key}\n"
        "KbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nAllowTcpForwarding yes\n"
        "AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n"
    )
    user = realprog.unprivileged("nobody")
    if user:
        for path in (tmp_dir, *tmp_dir.rglob("*")):
            os.chown(path, user["user"], user["group"])
    return realprog.run([sshd, *args, "-f", str(tmp_dir / "sshd_config")], **user)


def test_sshd_accepts_the_dropin_and_it_wins_over_the_main_file():
    with realprog.shared_tempdir() as tmp_dir:
        checked = _sshd_check(tmp_dir, sshd_dropin(), "-t")
    assert checked.returncode == 0, checked.stderr
    with realprog.shared_tempdir() as tmp_dir:
        result = _sshd_check(tmp_dir, sshd_dropin(), "-T", "-C", "user=deploy,host=ci,addr=192.0.2.10")
    assert result.returncode == 0, result.stderr
    effective = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert effective["disableforwarding"] == "yes"  # tunnels, agent, X11 and sockets: all off
    assert effective["maxauthtries"] == "4"
    assert effective["logingracetime"] == "30"
    assert (effective["clientaliveinterval"], effective["clientalivecountmax"]) == ("60", "3")
    assert effective["authorizedkeysfile"] == ".ssh/authorized_keys", "not authorized_keys2"
    assert effective["permitrootlogin"] == "no" and effective["passwordauthentication"] == "no"
    assert effective["allowusers"] == "deploy"


def test_sshd_t_refuses_a_broken_dropin():
    """The check above can fail: the same harness, one unknown directive."""
    with realprog.shared_tempdir() as tmp_dir:
        result = _sshd_check(tmp_dir, sshd_dropin() + "DisableForwardings yes\n", "-t")
    assert result.returncode != 0 and "Bad configuration option: DisableForwardings" in result.stderr


def test_every_stacks_droplets_get_that_dropin(run):
    import yaml

    for droplet in run.of_type("digitalocean:index/droplet:Droplet"):
        files = {f["path"]: f["content"] for f in yaml.safe_load(droplet.inputs["userData"])["write_files"]}
        assert files[SSHD_DROPIN_PATH] == sshd_dropin("deploy")


# ------------------------------------------------------------------ the key sync step


def _sync(home: Path, script: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """The step as sshd runs it: the deploy user's shell, `create` as its command, `stdin`."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["bash", "-c", script], input=stdin, env=env, capture_output=True, text=True, timeout=30)


def _step(run, i: int = 0):
    return run.named(f"webstack-{run.stack}-node-{i}-keys")


def test_authorized_keys_holds_exactly_the_configured_keys_after_a_removal(tmp_path):
    """Someone leaves: their key comes out of sshPublicKeys, and the next `up` takes it off."""
    attached = [ssh_md5(ED25519)]  # the account key attached by fingerprint stays
    before = recorded_with("staging", {"sshPublicKeys": [ED25519, ECDSA], "sshKeyFingerprints": attached})
    after = recorded_with("staging", {"sshPublicKeys": [ED25519], "sshKeyFingerprints": attached})
    ssh = tmp_path / ".ssh"
    inodes = []
    for run in (before, after):
        step = _step(run)
        result = _sync(tmp_path, step.inputs["create"], step.inputs["stdin"])
        assert result.returncode == 0, result.stderr
        inodes.append((ssh / "authorized_keys").stat().st_ino)
        assert (ssh / "authorized_keys").read_text() == authorized_keys(run.cfg.ssh_public_keys)
        assert len(result.stdout.splitlines()) == len(run.cfg.ssh_public_keys), "the fingerprints now authorized"
    assert ECDSA not in (ssh / "authorized_keys").read_text()
    # Replaced by a rename, never rewritten in place: sshd reads the old file or the new one.
    assert inodes[0] != inodes[1]
    assert sorted(p.name for p in ssh.iterdir()) == ["authorized_keys"], "no temp file left behind"
    assert (ssh / "authorized_keys").stat().st_mode & 0o077 == 0
    # ... and the provider runs it again because its inputs changed (it runs `create` on any
    # input change when no `update` is given: pulumi-command remote/commandController.go).
    assert _step(before).inputs["create"] != _step(after).inputs["create"]
    assert _step(before).inputs["stdin"] != _step(after).inputs["stdin"]


def test_a_cut_or_unreadable_key_list_changes_nothing(tmp_path):
    (tmp_path / ".ssh").mkdir(mode=0o700)
    old = tmp_path / ".ssh" / "authorized_keys"
    old.write_text(authorized_keys([ED25519]))
    keys = [ED25519, RSA_2048]
    cut = _sync(tmp_path, key_sync_script(keys), authorized_keys(keys)[:-40])
    assert cut.returncode == 1 and "authorized_keys unchanged: the keys arrived incomplete" in cut.stderr
    # A line that passes the hash but not OpenSSH's own parser (config would refuse it first).
    unreadable = [ED25519, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x"]
    bad = _sync(tmp_path, key_sync_script(unreadable), authorized_keys(unreadable))
    assert bad.returncode == 1 and "authorized_keys unchanged: ssh-keygen cannot read every key" in bad.stderr
    assert old.read_text() == authorized_keys([ED25519])
    assert sorted(p.name for p in old.parent.iterdir()) == ["authorized_keys"]


def test_docker_waits_for_the_key_sync_which_waits_for_readiness(run):
    # By name: the order of registration between droplets is not the order they were declared.
    for i in range(len(run.of_type("digitalocean:index/droplet:Droplet"))):
        droplet = run.named(f"webstack-{run.stack}-node-{i}")
        step, ready = _step(run, i), run.named(f"webstack-{run.stack}-node-{i}-ready")
        provider = run.named(f"webstack-{run.stack}-host-{i}-docker")
        assert step.urn in provider.dependencies
        assert ready.urn in step.dependencies, "the deploy user and its home exist"
        assert droplet.urn in step.property_dependencies["triggers"], "a new droplet gets the keys again"
        assert step.inputs["stdin"] == authorized_keys(run.cfg.ssh_public_keys)
        conn = step.inputs["connection"]
        assert conn["user"] == "deploy" and not {"privateKey", "password"} & set(conn), "the agent's key"


def test_the_step_sends_public_keys_only():
    for stack in ("prod", "staging", "dev"):
        for step in recorded(stack).of_type(COMMAND):
            text = step.inputs["create"] + step.inputs.get("stdin", "")
            assert "PRIVATE KEY" not in text and harness.SECRET_MARK not in text


# ------------------------------------------------------------------ one deploy key per stack


def _md5(key: str) -> str:
    import hashlib

    digest = hashlib.md5(base64.b64decode(key.split()[1]), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def test_no_key_is_shared_between_stacks_and_each_attaches_its_own():
    """A stack's key unlocks that stack only: a leaked staging key (or its CI secret) is no
    way into prod. The DigitalOcean key each stack attaches by fingerprint is one of its own."""
    from tests.conftest import STACKS

    blobs = {stack: {k.split()[1] for k in realprog.stack_cfg(stack).ssh_public_keys} for stack in STACKS}
    assert len(STACKS) >= 3
    for a in STACKS:
        for b in STACKS:
            assert a == b or not blobs[a] & blobs[b], f"{a} and {b} share a key"
    for stack in STACKS:
        cfg = realprog.stack_cfg(stack)
        assert set(cfg.ssh_key_fingerprints) <= {_md5(k) for k in cfg.ssh_public_keys}, stack
