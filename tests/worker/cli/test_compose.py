"""docker-compose.yml cannot be run here (no Docker engine), so check what can be checked:
it parses, every command it gives the project's image is a real ``crmsync`` command or a
module of the installed package, each queue has its pool of workers, and a value set in
``.env`` reaches the containers (Compose's own precedence, modelled below)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.core import TyperGroup

from worker.cli import app
from worker.embedded import ACTOR_MODULES
from worker.jobs.queues import QUEUES, parse_queues
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
WORKER_POOLS = {"worker-realtime", "worker-bulk", "worker-categorize"}


def _compose() -> dict[str, Any]:
    # safe_load resolves the YAML merge keys (<<: *crmsync) as Compose does.
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def _our_services() -> dict[str, list[str]]:
    compose = _compose()
    assert set(compose["services"]) >= {"postgres", "redis", "migrate"}
    return {
        name: service["command"]
        for name, service in compose["services"].items()
        if service.get("image") == "crmsync:latest"
    }


def resolve(arguments: list[str]) -> str:
    """The full name of the ``crmsync`` command these words name, found by walking the
    Typer app's command tree. Fails if a word is not a command, the words stop at a group
    (which would only print help), or the options and values do not parse as that command
    would parse them (nothing is run)."""
    command = typer.main.get_command(app)
    path = ["crmsync"]
    words = list(arguments)
    while isinstance(command, TyperGroup):
        if not words:
            raise AssertionError(f"{' '.join(path)} names a group, not a command")
        word = words.pop(0)
        found = command.get_command(typer.Context(command, info_name=path[-1]), word)
        if found is None:
            raise AssertionError(f"{' '.join(path)}: No such command {word!r}")
        command, path = found, [*path, word]
    try:
        command.make_context(" ".join(path), words)
    except typer.TyperException as error:
        raise AssertionError(f"{' '.join([*path, *words])}: {error.format_message()}") from None
    return " ".join(path)


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
    with pytest.raises(AssertionError, match="Invalid value for '--processes'"):
        resolve(["worker", "--processes", "many"])
    assert resolve(["db", "upgrade"]) == "crmsync db upgrade"
    assert resolve(["sandbox", "serve", "--public-host", "sandbox"]) == "crmsync sandbox serve"


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


def test_each_queue_has_its_own_pool_of_workers() -> None:
    pools: dict[str, tuple[str, ...]] = {}
    for name, command in _our_services().items():
        if resolve(command) == "crmsync worker":
            pools[name] = parse_queues(_option(command, "--queues"))
    assert set(pools) == WORKER_POOLS
    consumed = [queue for queues in pools.values() for queue in queues]
    assert sorted(consumed) == sorted(QUEUES)  # every queue, each by one pool only


def test_workers_put_back_their_jobs_before_the_grace_period_ends() -> None:
    """Past stop_grace_period Docker kills the worker: it must be done before then (its
    own shutdown timeout, from .env or the default), with time left to put jobs back."""
    services = _compose()["services"]
    for name in WORKER_POOLS:
        configured = _environment(services[name]).get("CRMSYNC_WORKER_SHUTDOWN_TIMEOUT_S")
        timeout_s = (
            float(interpolate(configured, REQUIRED))
            if configured
            else Settings.model_fields["worker_shutdown_timeout_s"].default
        )
        assert timeout_s + 5 <= _seconds(services[name]["stop_grace_period"]), name


# ---- what the image runs --------------------------------------------------------------


def _wheel_packages() -> set[str]:
    """The packages the wheel (and so the image) installs; bench/ and tests/ are not."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])


def installed_module(module: str) -> bool:
    """Whether ``module`` is in the standard library or a file of the installed package."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return True
    if top not in _wheel_packages():
        return False
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def check_program(words: list[str]) -> None:
    """A command line run inside the image: ``crmsync ...``, ``python -m <module>`` or
    ``python -c <code>`` whose imports the image has."""
    program, *arguments = words
    if program == "crmsync":
        resolve(arguments)
    elif program in ("python", "python3") and arguments[:1] == ["-m"]:
        assert installed_module(arguments[1]), f"{arguments[1]} is not in the image"
    elif program in ("python", "python3") and arguments[:1] == ["-c"]:
        for node in ast.walk(ast.parse(arguments[1])):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            for module in names:
                assert installed_module(module), f"{module} is not in the image"
    else:
        raise AssertionError(f"{program}: not a program the image provides")


def test_every_program_the_compose_file_runs_in_the_image_exists_there() -> None:
    services = _compose()["services"]
    checked = 0
    for name in _our_services():
        service = services[name]
        entrypoint = service.get("entrypoint", ["crmsync"])
        assert isinstance(entrypoint, list), f"{name}: use the list form of entrypoint"
        check_program([*entrypoint, *service["command"]])
        test = (service.get("healthcheck") or {}).get("test")
        if test:
            assert test[0] == "CMD", f"{name}: a healthcheck in the list form, no shell"
            check_program(test[1:])
        checked += 1
    assert checked >= len(WORKER_POOLS) + 3
    # crmsync worker runs `python -m dramatiq` on these modules: they must be installed.
    assert all(installed_module(module) for module in ACTOR_MODULES)


def test_the_program_check_rejects_what_the_image_lacks() -> None:
    assert installed_module("worker.scheduler") and installed_module("urllib.request")
    assert not installed_module("bench.stack")  # not shipped in the wheel
    assert not installed_module("worker.no_such_module")
    with pytest.raises(AssertionError, match=r"bench\.soak is not in the image"):
        check_program(["python", "-m", "bench.soak"])
    with pytest.raises(AssertionError, match=r"tests\.services is not in the image"):
        check_program(["python", "-c", "from tests.services import in_ci"])
    with pytest.raises(AssertionError, match="not a program"):
        check_program(["curl", "-f", "http://127.0.0.1:8080/readyz"])
    with pytest.raises(AssertionError, match="No such command"):
        check_program(["crmsync", "workers"])


def test_the_image_copies_exactly_the_packages_the_wheel_installs() -> None:
    build = _stages((ROOT / "Dockerfile").read_text())[-2]
    copied = {line.split()[1] for line in build if re.fullmatch(r"COPY (\w+) \1", line)}
    assert copied == _wheel_packages()


# ---- environment precedence ----------------------------------------------------------
#
# Compose gives a container its `environment:` entries over its `env_file` entries, and
# substitutes ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and ${VAR?error} in
# the file from the shell and the project's .env first. So a setting in .env reaches the
# container when the service reads .env as an env_file and any `environment:` entry for
# that variable interpolates that same variable: the check below substitutes a value
# for it as .env would and requires that value to come out.

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Unset(Exception):
    """A ${VAR:?message} whose variable is not set: Compose refuses to start."""


def interpolate(text: str, variables: dict[str, str]) -> str:
    """``text`` with Compose's variable substitution applied (nested defaults included)."""
    value, end = _interpolate(text, 0, variables, inside=False)
    assert end == len(text), f"unbalanced braces in {text!r}"
    return value


def _interpolate(text: str, at: int, variables: dict[str, str], *, inside: bool) -> tuple[str, int]:
    out: list[str] = []
    while at < len(text):
        char = text[at]
        if inside and char == "}":
            return "".join(out), at
        if char != "$":
            out.append(char)
            at += 1
        elif text.startswith("$$", at):
            out.append("$")
            at += 2
        elif text.startswith("${", at):
            value, at = _braced(text, at + 2, variables)
            out.append(value)
        else:
            name = _NAME.match(text, at + 1)
            assert name, f"a lone $ in {text!r}"
            out.append(variables.get(name.group(), ""))
            at = name.end()
    assert not inside, f"unclosed ${{ in {text!r}"
    return "".join(out), at


def _braced(text: str, at: int, variables: dict[str, str]) -> tuple[str, int]:
    name = _NAME.match(text, at)
    assert name, f"no variable name at {text[at:]!r}"
    at = name.end()
    operator = re.compile(r":?[-?]").match(text, at)
    if operator is None:
        assert text[at] == "}", f"unknown substitution in {text!r}"
        return variables.get(name.group(), ""), at + 1
    argument, end = _interpolate(text, operator.end(), variables, inside=True)
    value = variables.get(name.group())
    missing = value is None or (operator.group().startswith(":") and value == "")
    if missing and operator.group().endswith("?"):
        raise Unset(f"{name.group()}: {argument}")
    return (argument if missing else value or ""), end + 1


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    entries = service.get("environment") or {}
    if isinstance(entries, list):  # the ["NAME=value", "NAME"] form
        entries = dict(
            entry.partition("=")[::2] if "=" in entry else (entry, None) for entry in entries
        )
    return {name: None if value is None else str(value) for name, value in entries.items()}


def _reads_dotenv(service: dict[str, Any]) -> bool:
    env_files = service.get("env_file") or []
    env_files = [env_files] if isinstance(env_files, str | dict) else env_files
    paths = [entry if isinstance(entry, str) else entry.get("path") for entry in env_files]
    return ".env" in paths


REQUIRED = {"POSTGRES_PASSWORD": "pw", "CRMSYNC_ENCRYPTION_KEY": "key"}


def dotenv_losers(service: dict[str, Any]) -> list[str]:
    """The CRMSYNC_* variables of ``service`` whose value in .env would not reach it."""
    if not _reads_dotenv(service):
        return ["(no env_file .env)"]
    losers = []
    for name, value in _environment(service).items():
        if not name.startswith("CRMSYNC_") or value is None:
            continue  # a bare name passes the shell's value through
        from_dotenv = f"value-of-{name}-from-dotenv"
        if interpolate(value, {**REQUIRED, name: from_dotenv}) != from_dotenv:
            losers.append(name)
    return losers


def test_a_setting_in_dotenv_reaches_every_crmsync_container() -> None:
    services = _compose()["services"]
    ours = {name: services[name] for name in _our_services()}
    assert {*WORKER_POOLS, "webhooks", "scheduler", "sandbox"} <= set(ours)
    assert {name: dotenv_losers(service) for name, service in ours.items()} == {
        name: [] for name in ours
    }


def test_the_precedence_check_catches_a_plain_value() -> None:
    dotenv = {"env_file": [{"path": ".env", "required": False}]}
    assert dotenv_losers({**dotenv, "environment": {"CRMSYNC_LOG_LEVEL": "INFO"}}) == [
        "CRMSYNC_LOG_LEVEL"
    ]
    assert dotenv_losers({**dotenv, "environment": ["CRMSYNC_TENANT=${OTHER:-a}"]}) == [
        "CRMSYNC_TENANT"
    ]
    assert dotenv_losers({"environment": {}}) == ["(no env_file .env)"]
    assert dotenv_losers({**dotenv, "environment": ["CRMSYNC_X=${CRMSYNC_X:-${Y:-a}}"]}) == []


def test_the_database_url_is_built_from_the_postgres_variables_in_dotenv() -> None:
    services = _compose()["services"]
    worker = _environment(services["worker-bulk"])
    postgres = _environment(services["postgres"])
    dotenv = {
        "POSTGRES_USER": "sync",
        "POSTGRES_PASSWORD": "s3cret",
        "POSTGRES_DB": "crm",
        "CRMSYNC_ENCRYPTION_KEY": "key",
    }
    url = interpolate(worker["CRMSYNC_DATABASE_URL"] or "", dotenv)
    assert url == "postgresql+psycopg://sync:s3cret@postgres:5432/crm"
    assert {name: interpolate(value or "", dotenv) for name, value in postgres.items()} == {
        "POSTGRES_USER": "sync",
        "POSTGRES_PASSWORD": "s3cret",
        "POSTGRES_DB": "crm",
    }
    # No password written in the file: without one in .env, Compose refuses to start.
    without = {name: value for name, value in dotenv.items() if name != "POSTGRES_PASSWORD"}
    with pytest.raises(Unset, match="POSTGRES_PASSWORD"):
        interpolate(postgres["POSTGRES_PASSWORD"] or "", without)
    with pytest.raises(Unset, match="POSTGRES_PASSWORD"):
        interpolate(worker["CRMSYNC_DATABASE_URL"] or "", without)


def _seconds(duration: str) -> float:
    """A Compose duration (``90s``, ``1m30s``, ``2m``) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(duration))
    assert parts and any(parts.groups()), f"not a duration: {duration!r}"
    hours, minutes, seconds = (float(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_long_running_services_get_time_to_finish_their_jobs() -> None:
    """Docker's default is 10 s between SIGTERM and SIGKILL; a job cut off there runs again."""
    services = _compose()["services"]
    long_running = [name for name in _our_services() if services[name].get("restart") != "no"]
    assert {*WORKER_POOLS, "webhooks", "scheduler"} <= set(long_running)
    grace = {name: _seconds(services[name].get("stop_grace_period", "0s")) for name in long_running}
    assert all(seconds >= 30 for seconds in grace.values()), grace


def _option(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Where each named volume of ``service`` is mounted (short syntax)."""
    pairs = (str(volume).split(":") for volume in service.get("volumes", []))
    return {target: source for source, target, *_ in pairs}


def test_the_sandbox_is_reached_by_a_name_its_certificate_covers() -> None:
    """The workers call the sandbox by its service name, over TLS: it must put that name in
    its certificate and URLs, and publish the certificate where the workers can read it."""
    services = _compose()["services"]
    command = services["sandbox"]["command"]
    assert _option(command, "--public-host") == "sandbox"
    ca_file = _option(command, "--ca-file")
    assert ca_file, "the sandbox must publish its certificate (--ca-file)"
    folder = str(Path(ca_file).parent)
    volume = _mounts(services["sandbox"]).get(folder)
    assert volume in _compose()["volumes"], f"{folder} is not a named volume of the sandbox"
    for name in (*WORKER_POOLS, "webhooks", "scheduler"):
        assert _mounts(services[name]).get(folder) == volume, name


# ---- the build context ------------------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: ``**`` spans folders, ``*`` and ``?`` do
    not, and a leading ``/`` means the same as none."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip().lstrip("/"))
    wildcards = {"**": ".*", "**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


def ignored(path: str, dockerignore: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern that
    matches it or a folder above it decides, and ``!`` lets it back in."""
    verdict = False
    prefixes = ["/".join(path.split("/")[: depth + 1]) for depth in range(path.count("/") + 1)]
    for line in dockerignore.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = _pattern(line.removeprefix("!"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            verdict = not negated
    return verdict


def test_the_build_context_leaves_out_secrets_and_history_but_not_the_sources() -> None:
    dockerignore = (ROOT / ".dockerignore").read_text()
    for secret in (".env", ".git", ".git/config", "data/crmsync.key", "data/crmsync.db", ".venv"):
        assert ignored(secret, dockerignore), secret
    copied = [
        source
        for line in re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text()).splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    ]
    assert "uv.lock" in copied and "worker" in copied
    for source in copied:
        assert not ignored(source, dockerignore), source
        assert not ignored(f"{source}/__init__.py", dockerignore), source


def test_the_dockerignore_reading_follows_docker() -> None:
    rules = ".git\n**/*.pyc\n/data\n*.md\n!README.md\n"
    assert ignored(".git/HEAD", rules) and ignored("worker/cli/x.pyc", rules)
    assert ignored("data/crmsync.db", rules) and ignored("NOTES.md", rules)
    assert not ignored("README.md", rules) and not ignored("worker/data/x", rules)
    assert not ignored("docs/NOTES.md", rules) and not ignored(".github/x", rules)
