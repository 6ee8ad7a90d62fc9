"""docker-compose.yml cannot be run here (no Docker engine), so check what can be checked:
it parses, and every command it gives the project's image is a real ``crmsync`` command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from worker.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _our_services() -> dict[str, list[str]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) >= {"postgres", "redis", "migrate"}
    return {
        name: service["command"]
        for name, service in compose["services"].items()
        if service.get("image") == "crmsync:latest"
    }


def resolve(arguments: list[str]) -> str:
    """The usage line of the command these words name. Fails if a word is not a command,
    an option does not parse, or the words stop at a group (which would only print help)."""
    result = CliRunner().invoke(app, [*arguments, "--help"])
    if result.exit_code != 0:
        raise AssertionError(f"crmsync {' '.join(arguments)}: {result.output.strip()}")
    usage = next(line for line in result.output.splitlines() if line.strip().startswith("Usage:"))
    if "COMMAND [ARGS]" in usage:
        raise AssertionError(f"crmsync {' '.join(arguments)} names a group, not a command")
    return usage


def test_every_compose_command_is_a_real_crmsync_command() -> None:
    services = _our_services()
    assert "migrate" in services
    for name, command in services.items():
        assert isinstance(command, list), f"{name}: use the list form of command"
        resolve(command)


def test_the_check_rejects_commands_that_do_not_exist() -> None:
    with pytest.raises(AssertionError, match="No such command"):
        resolve(["db", "migrate-everything"])
    with pytest.raises(AssertionError, match="names a group"):
        resolve(["customers"])
    with pytest.raises(AssertionError, match="No such option"):
        resolve(["db", "upgrade", "--no-such-flag"])
    assert "crmsync db upgrade" in resolve(["db", "upgrade"]) or "db upgrade" in resolve(
        ["db", "upgrade"]
    )


def test_the_dockerfile_installs_from_the_lock_and_runs_crmsync() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert 'ENTRYPOINT ["crmsync"]' in dockerfile
    for package in ("customers", "worker", "sandbox"):
        assert f"COPY {package} {package}" in dockerfile


def _stages(dockerfile: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split at each FROM."""
    text = re.sub(r"\\\n", " ", dockerfile)
    lines = [line.strip() for line in text.splitlines()]
    stages: list[list[str]] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_the_image_runs_only_the_installed_package_as_an_unprivileged_user() -> None:
    runtime = _stages((ROOT / "Dockerfile").read_text())[-1]
    copies = [line for line in runtime if line.upper().startswith("COPY ")]
    assert copies and all(line.startswith("COPY --from=build ") for line in copies), copies
    assert not any(re.search(r"\buv (sync|pip)\b", line) for line in runtime)
    users = [line.split()[1] for line in runtime if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users
    assert 'ENTRYPOINT ["crmsync"]' in runtime
