"""The single-droplet volume: a DigitalOcean Volume attached to the droplet at its
creation, mounted by the droplet's own boot, bound into the processes that need it, archived
to the backups bucket; protected (and kept) in prod, disposable in staging."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.config import ConfigError
from components.config.process import RESERVED_NAMES
from components.droplets.servers import ready_script
from components.render.cloudinit import VOLUME_MOUNT_OPTIONS
from testing import harness
from tests.conftest import recorded, recorded_with
from tests.graph.test_secrets import plain_leaks

DO = "digitalocean:index/"
VOLUME, DROPLET, PROJECT = DO + "volume:Volume", DO + "droplet:Droplet", DO + "project:Project"
BUCKET = DO + "spacesBucket:SpacesBucket"
CONTAINER = "docker:index/container:Container"
ON = {"enabled": True, "sizeGb": 20, "path": "/app/data"}
# prod runs two droplets; a volume is for a single-droplet stack (whose first droplet then
# also carries the archiver: prod's one droplet gets the next size up).
SINGLE = {"app.replicas": 1}
PROD_SINGLE = {**SINGLE, "app.dropletSize": "s-4vcpu-8gb"}


def _run(stack: str, volume: dict | None = None, preview: bool = False, **more) -> harness.Run:
    single = PROD_SINGLE if stack == "prod" else SINGLE
    return recorded_with(stack, {**single, "volume": volume or ON, **more}, preview)


def _container(run: harness.Run, suffix: str) -> harness.Resource:
    (found,) = [c for c in run.of_type(CONTAINER) if c.name.endswith(suffix)]
    return found


def _binds(container: harness.Resource) -> list[tuple[str, str, bool]]:
    return [
        (v.get("hostPath"), v.get("containerPath"), bool(v.get("readOnly")))
        for v in container.inputs.get("volumes") or []
        if v.get("hostPath", "").startswith("/mnt/")
    ]


# Where DigitalOcean itself auto-mounts a pre-formatted volume on Ubuntu (volume-nyc1-01 ->
# /mnt/volume_nyc1_01): one path whoever mounts it first.
MOUNT = "/mnt/example_com_{stack}_data"
DATA = MOUNT + "/data"  # what the containers get: not the root, whose lost+found is root's
# staging's droplet (2048 MB) exactly full: web 448 twice (a release swaps it), beat 128,
# worker 384, proxy 128, host 256, backup dump 256.
WEB_FITS = 448


# ------------------------------------------------------------------ protected in prod, disposable in staging


def test_prods_volume_is_protected_and_kept_even_if_its_resource_is_deleted():
    (volume,) = _run("prod").of_type(VOLUME)
    assert volume.protect and volume.retain_on_delete
    assert volume.inputs["name"] == "example-com-prod-data"
    assert volume.inputs["size"] == 20 and volume.inputs["initialFilesystemType"] == "ext4"


def test_stagings_volume_is_disposable():
    (volume,) = _run("staging").of_type(VOLUME)
    assert not volume.protect and not volume.retain_on_delete
    assert volume.inputs["name"] == "example-com-staging-data"


def test_no_volume_unless_configured():
    for stack in ("dev", "staging", "prod"):
        run = recorded(stack)
        assert run.of_type(VOLUME) == []
        assert all(not d.inputs.get("volumeIds") for d in run.of_type(DROPLET))
        assert all(not _binds(c) for c in run.of_type(CONTAINER))


# ------------------------------------------------------------------ attached at creation, mounted at boot


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_droplet_is_created_with_the_volume_and_deleted_before_its_replacement(stack):
    run = _run(stack)
    (volume,) = run.of_type(VOLUME)
    (droplet,) = run.of_type(DROPLET)
    assert droplet.inputs["volumeIds"] == [volume.id]
    assert volume.urn in droplet.property_dependencies["volumeIds"]
    # A volume attaches to one droplet at a time: a replacement must free it first.
    assert droplet.delete_before_replace
    # Deleting it detaches the volume: the droplet is shut down first, so ext4 is clean.
    assert droplet.inputs["gracefulShutdown"] is True
    (plain,) = recorded(stack if stack == "staging" else "staging").of_type(DROPLET)
    assert not plain.delete_before_replace  # without a volume, replacements keep create-first
    assert "gracefulShutdown" not in plain.inputs


def test_the_boot_mounts_the_volume_by_its_name_and_the_schema_accepts_it(tmp_path):
    if shutil.which("cloud-init") is None:
        pytest.skip("cloud-init is not installed (CI installs it)")
    (droplet,) = _run("staging", {**ON, "owner": "1000:1000"}).of_type(DROPLET)
    user_data = droplet.inputs["userData"]
    doc = yaml.safe_load(user_data)
    point = MOUNT.format(stack="staging")
    assert doc["mounts"] == [
        ["/dev/disk/by-id/scsi-0DO_Volume_example-com-staging-data", point, "ext4", VOLUME_MOUNT_OPTIONS, "0", "2"]
    ]
    assert "nofail" in VOLUME_MOUNT_OPTIONS.split(",")  # a missing volume never blocks the boot
    data = DATA.format(stack="staging")
    assert f"mountpoint -q {point} && mkdir -p {data} && chown 1000:1000 {data}" in doc["runcmd"]
    # Every boot: docker (and the containers it restarts) waits for the mount, or stays down.
    (dropin,) = [f for f in doc["write_files"] if f["path"].startswith("/etc/systemd/system/docker.service.d/")]
    assert dropin["content"] == f"[Unit]\nRequiresMountsFor={point}\n"
    path = tmp_path / "user-data.yaml"
    path.write_text(user_data)
    done = subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_an_owner_the_boot_changes_no_ownership():
    (droplet,) = _run("staging").of_type(DROPLET)
    runcmd = yaml.safe_load(droplet.inputs["userData"])["runcmd"]
    assert runcmd[-1] == f"mountpoint -q {MOUNT.format(stack='staging')} && mkdir -p {DATA.format(stack='staging')}"


def _fake_bin(tmp_path: Path, mounted: bool, cloud_init: int = 0) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {
        "cloud-init": f"exit {cloud_init}",
        "docker": "echo 27.5.1",
        "mountpoint": f'echo "$@" >> {tmp_path}/mountpoint.calls; exit {0 if mounted else 1}',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}


@pytest.mark.parametrize("mounted", [True, False])
def test_the_droplet_is_ready_only_once_its_volume_is_mounted(tmp_path, mounted):
    (ready,) = [c for c in _run("staging").of_type("command:remote:Command") if c.name.endswith("-ready")]
    script = ready.inputs["create"]
    assert script == ready_script(MOUNT.format(stack="staging"))
    done = subprocess.run(["sh", "-c", script], env=_fake_bin(tmp_path, mounted), capture_output=True, text=True)
    assert (tmp_path / "mountpoint.calls").read_text().split() == ["-q", MOUNT.format(stack="staging")]
    if mounted:
        assert done.returncode == 0 and done.stdout.strip() == "27.5.1"
    else:
        assert done.returncode == 1
        assert f"volume not mounted at {MOUNT.format(stack='staging')}" in done.stderr


@pytest.mark.parametrize(("cloud_init", "ready"), [(1, False), (2, True)])
def test_readiness_fails_on_a_failed_boot_and_passes_a_degraded_one(tmp_path, cloud_init, ready):
    """cloud-init exits 1 when a module failed (the volume's runcmd line among them) and 2 when
    it finished with warnings (deprecations)."""
    script = ready_script(MOUNT.format(stack="staging"))
    env = _fake_bin(tmp_path, mounted=True, cloud_init=cloud_init)
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert (done.returncode == 0) is ready
    assert (tmp_path / "mountpoint.calls").exists() is ready


# ------------------------------------------------------------------ who sees it


def test_every_process_sees_the_volume_at_its_path_by_default():
    run = _run("staging")
    bind = (DATA.format(stack="staging"), "/app/data", False)
    web = next(c for c in run.of_type(CONTAINER) if c.name.endswith("-app-0-web"))
    for container in (web, _container(run, "-app-0-migrate"), _container(run, "-app-0-worker")):
        assert _binds(container) == [bind], container.name
    for container in (_container(run, "-app-0-proxy"), _container(run, "-app-0-probe")):
        assert _binds(container) == [], container.name


def test_only_the_processes_named_see_it():
    run = _run("staging", {**ON, "processes": ["worker"]})
    web = next(c for c in run.of_type(CONTAINER) if c.name.endswith("-app-0-web"))
    assert _binds(web) == [] and _binds(_container(run, "-app-0-migrate")) == []
    assert _binds(_container(run, "-app-0-worker")) == [(DATA.format(stack="staging"), "/app/data", False)]


def test_scheduled_jobs_run_with_the_volume_bound():
    jobs = {"sweep": {"schedule": "0 * * * *", "command": ["python", "sweep.py"]}}
    roomy = {"app.dropletSize": "s-2vcpu-4gb"}
    with_volume = _run("staging", **{"app.jobs": jobs}, **roomy)
    assert _binds(_container(with_volume, "-jobs-sweep")) == [(DATA.format(stack="staging"), "/app/data", False)]
    without = _run("staging", {**ON, "processes": ["web"]}, **{"app.jobs": jobs}, **roomy)
    assert _binds(_container(without, "-jobs-sweep")) == []


def test_a_volume_change_gives_web_a_new_release_name():
    """web is replaced side by side: a new bind must come with a new container name, so the
    bind is among what renames web (the RandomId's keepers; a keeper change replaces it)."""

    def spec(run):
        (release_id,) = [r for r in run.of_type("random:index/randomId:RandomId") if r.name.endswith("-web-release")]
        return json.loads(release_id.inputs["keepers"]["spec"])

    assert "volume" not in spec(recorded_with("staging", SINGLE))
    assert spec(_run("staging"))["volume"] == f"{DATA.format(stack='staging')}:/app/data"
    assert "volume" not in spec(_run("staging", {**ON, "processes": ["worker"]}))


# ------------------------------------------------------------------ backed up, listed, secret-free


def test_the_volume_is_archived_read_only_to_the_backups_bucket_with_the_dumps_retention():
    run = _run("prod")
    archiver = _container(run, "-backups-volume")
    # `docker logs volume-backup` (README) finds it; no process may take the name (config).
    assert archiver.inputs["name"] == "volume-backup" and "volume-backup" in RESERVED_NAMES
    # The data read-only; the archive (written whole before its upload) on the volume too,
    # outside the data: never on the droplet's root disk.
    assert _binds(archiver) == [
        (DATA.format(stack="prod"), "/backup/volume", True),
        (MOUNT.format(stack="prod") + "/.backup-tmp", "/tmp", False),
    ]
    assert "envs" in archiver.secret_paths
    env = dict(line.split("=", 1) for line in archiver.inputs["envs"])
    (key,) = [k for k in run.of_type(DO + "spacesKey:SpacesKey") if k.name.endswith("-backups-key")]
    assert env["AWS_ACCESS_KEY_ID"] == key.outputs["accessKey"]
    assert env["AWS_SECRET_ACCESS_KEY"] == key.outputs["secretKey"]
    (bucket,) = [b for b in run.of_type(BUCKET) if b.name.endswith("-backups-bucket")]
    assert env["AWS_S3_BUCKET_NAME"] == bucket.inputs["name"] and env["AWS_S3_PATH"] == "volume"
    assert env["AWS_ENDPOINT"] == "nyc3.digitaloceanspaces.com"
    assert env["BACKUP_CRON_EXPRESSION"] == run.cfg.backups.schedule
    rules = {r["prefix"]: r for r in bucket.inputs["lifecycleRules"]}
    assert set(rules) == {"postgres/", "volume/"}
    days = run.cfg.backups.retention_days
    assert rules["volume/"]["expiration"]["days"] == days == rules["volume/"]["noncurrentVersionExpiration"]["days"]


def test_without_backups_nothing_archives_the_volume():
    run = _run("staging", **{"backups.enabled": False})
    assert not [c for c in run.of_type(CONTAINER) if c.name.endswith("-backups-volume")]
    assert run.of_type(VOLUME)


def test_the_project_lists_the_volume():
    run = _run("prod")
    (volume,) = run.of_type(VOLUME)
    (project,) = run.of_type(PROJECT)
    assert volume.outputs["volumeUrn"] in project.inputs["resources"]


def test_no_secret_reaches_user_data_or_a_plain_input():
    run = _run("prod")
    (droplet,) = run.of_type(DROPLET)
    assert "userData" not in droplet.secret_paths
    assert plain_leaks(run) == []


# ------------------------------------------------------------------ config


def _problems(stack: str, overrides: dict) -> str:
    with pytest.raises(ConfigError) as info:
        harness.run(stack, overrides)
    assert info.value.recorded == []
    return str(info.value)


def test_a_volume_needs_a_single_droplet():
    message = _problems("prod", {"volume": ON})
    assert "webstack:volume.enabled = True" in message and "app.replicas = 2" in message


def test_volume_processes_must_exist():
    message = _problems("staging", {"volume": {**ON, "processes": ["web", "wroker"]}})
    assert "webstack:volume.processes = 'wroker'" in message and "one of web, release, jobs, beat, worker" in message


def test_a_protected_volume_needs_backups():
    message = _problems("prod", {**PROD_SINGLE, "volume": ON, "backups.enabled": False})
    assert "webstack:backups.enabled = False" in message and "volume.enabled" in message


def test_volume_settings_without_the_volume_are_refused():
    message = _problems("staging", {"volume": {"owner": "1000:1000"}})
    assert "webstack:volume.enabled = False" in message


@pytest.mark.parametrize(
    ("volume", "key", "allowed"),
    [
        ({**ON, "sizeGb": 0}, "webstack:volume.sizeGb", "1"),
        ({**ON, "path": "data"}, "webstack:volume.path", "absolute path"),
        ({**ON, "path": "/etc"}, "webstack:volume.path", "not a system directory"),
        ({**ON, "path": "/usr/local/data"}, "webstack:volume.path", "not a system directory"),
        ({**ON, "path": "/app/../etc"}, "webstack:volume.path", "no '.' or '..'"),
        ({**ON, "owner": "deploy"}, "webstack:volume.owner", "uid:gid"),
    ],
)
def test_bad_volume_values_name_their_key(volume, key, allowed):
    message = _problems("staging", {"volume": volume})
    assert key in message and allowed in message


def test_a_schedule_the_archivers_cron_would_refuse_is_refused():
    """Both backup containers parse `backups.schedule` with robfig/cron: @reboot is not one of
    its descriptors, and the container would restart forever unnoticed."""
    message = _problems("staging", {"volume": ON, "backups.schedule": "@reboot"})
    assert "webstack:backups.schedule = '@reboot'" in message
    assert recorded_with("staging", {**SINGLE, "volume": ON, "backups.schedule": "@weekly"}).of_type(VOLUME)


def test_the_archiver_counts_in_the_memory_budget():
    """A web size that just fits staging's droplet without the archiver does not with it."""
    fits = {**SINGLE, "app.webMemoryMb": WEB_FITS}
    assert recorded_with("staging", fits).of_type(DROPLET)
    message = _problems("staging", {**fits, "volume": ON})
    assert "volume backup 128" in message and "webstack:app.dropletSize" in message


def test_pdf_smaller_shares_its_upload_folder_between_web_worker_and_cleanup_as_its_guide_does():
    """Guide: docker-compose mounts /var/app/uploads on app and celery-worker; the 3 AM
    maintenance sweeps it."""
    run = harness.run("examples/pdf-smaller")
    point = "/mnt/pdfsmaller_site_pdf_smaller_data/data"
    (volume,) = run.of_type(VOLUME)
    assert volume.protect and volume.inputs["name"] == "pdfsmaller-site-pdf-smaller-data"
    web = next(c for c in run.of_type(CONTAINER) if c.name.endswith("-app-0-web"))
    env = dict(line.split("=", 1) for line in web.inputs["envs"])
    assert env["UPLOAD_FOLDER"] == "/var/app/uploads"
    bind = [(point, "/var/app/uploads", False)]
    assert _binds(web) == _binds(_container(run, "-app-0-worker")) == bind
    assert _binds(_container(run, "-app-0-beat")) == [] == _binds(_container(run, "-app-0-migrate"))
    assert _binds(_container(run, "-jobs-cleanup")) == bind
