"""What `pulumi new <this repository's URL>` makes of the repository, offline.

Transcribed from the Pulumi CLI (github.com/pulumi/pulumi at 1b5949891b3c):
- pkg/cmd/pulumi/templates/project_templates.go `walkFiles`: every file of the repository is
  copied except the `.git` directory and a legacy `.pulumi.template.yaml`; `CopyTemplateFiles`
  and `transform`: in every text file (no zero byte in its first 8000 bytes) the placeholders
  PROJECT and DESCRIPTION, each written as a dollar sign and the word in braces, are replaced by
  the project's name and description. This file spells them in two pieces so that a project
  made from the template keeps it intact.
- pkg/cmd/pulumi/project/newcmd/new.go:307-311: the project's `name` becomes the name the user
  chose and the `template:` section is removed before Pulumi.yaml is saved (`Project.Validate`
  runs on save).
- pkg/cmd/pulumi/project/newcmd/config.go `resolveTemplateConfig`, `encryptTemplateConfig`,
  `SaveConfig`: each `template.config` key is parsed as written (`webstack:domain`), its answer
  (the default when none is typed) is stored as a plain string, and the answers are copied over
  the keys of the stack file `Pulumi.<stack>.yaml` if the repository already has one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from testing.harness import ROOT

LEGACY_MANIFEST = ".pulumi.template.yaml"
PROJECT, DESCRIPTION = "$" + "{PROJECT}", "$" + "{DESCRIPTION}"


def repository_files() -> list[str]:
    """The files a clone of the repository has (what `pulumi new` downloads): the tracked ones."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


def _transform(text: str, project: str, description: str) -> str:
    return text.replace(PROJECT, project).replace(DESCRIPTION, description)


def prompts() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["template"]["config"]


def new_project(dest: Path, name: str, description: str, stack: str, answers: dict[str, str]) -> Path:
    """Make the project `pulumi new` would make in `dest` with the typed `answers` (template key
    -> text; a prompt left out takes its default); returns the stack file's path."""
    for rel in repository_files():
        if Path(rel).name == LEGACY_MANIFEST or ".git" in Path(rel).parts:
            continue
        source, target = ROOT / rel, dest / _transform(rel, name, "")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        if not _is_binary(data):
            if rel.endswith(".yaml"):
                pname, pdesc = yaml.safe_dump(name).strip(), yaml.safe_dump(description).strip()
                pname, pdesc = pname.removesuffix("\n..."), pdesc.removesuffix("\n...")
            else:
                pname, pdesc = name, description
            data = _transform(data.decode(), pname, pdesc).encode()
        target.write_bytes(data)
        target.chmod(source.stat().st_mode & 0o777 | 0o600)
    project_file = dest / "Pulumi.yaml"
    project = yaml.safe_load(project_file.read_text())
    template = project.pop("template")
    project["name"] = name
    project_file.write_text(yaml.safe_dump(project, sort_keys=False))
    stack_file = dest / f"Pulumi.{stack}.yaml"
    doc = (yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None) or {}
    config = doc.setdefault("config", {}) or {}
    doc["config"] = config
    for key, spec in template["config"].items():
        value = answers.get(key, spec.get("default"))
        if value is None:
            raise ValueError(f"{key}: the prompt has no default, and no answer was given")
        config[key] = str(value)
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return stack_file
