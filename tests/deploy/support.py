"""Reading the deploy kit as Docker and compose would, without either: there is no engine in CI.

Dockerfiles go through the official BuildKit parser (the `dockerfile` package), compose.yaml
through PyYAML plus the two interpolation forms it uses, `.dockerignore` through Docker's
matching rules (last matching pattern wins; a pattern matching a folder covers what is in it).
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dockerfile
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
STARTUP_SECONDS = 30

_INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}"
)
_EXAMPLE_LINE = re.compile(r"^(?P<commented>#?)(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


# compose.yaml


def compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


def compose() -> dict[str, Any]:
    """compose.yaml as compose sees it before interpolation (anchors and merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load(compose_text())
    return loaded


def interpolated_names(text: str) -> dict[str, str | None]:
    """Each variable compose.yaml interpolates, with its operator (":-", ":?" or None)."""
    found: dict[str, str | None] = {}
    for match in _INTERPOLATION.finditer(text):
        found.setdefault(match["name"], match["op"])
    return found


class MissingVariable(Exception):
    """A `${NAME:?message}` whose variable is unset or empty: compose refuses to start."""


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Substitute `${NAME}`, `${NAME:-default}` and `${NAME:?error}` as compose does."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        given = variables.get(match["name"], "")
        if given:
            return given
        if match["op"] == ":?":
            raise MissingVariable(f"{match['name']}: {match['arg']}")
        return match["arg"] or ""

    return _INTERPOLATION.sub(substitute, value)


def leanplan_environment(
    service: Mapping[str, Any], variables: Mapping[str, str]
) -> dict[str, str]:
    """The environment a leanplan container gets, as strings (compose passes them so)."""
    environment = interpolate(service["environment"], variables)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


# env.example


@dataclass(frozen=True)
class ExampleLine:
    name: str
    value: str
    commented: bool


def env_example() -> list[ExampleLine]:
    lines = []
    for text in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _EXAMPLE_LINE.match(text)
        if match:
            lines.append(ExampleLine(match["name"], match["value"], bool(match["commented"])))
    return lines


def example_variables() -> dict[str, str]:
    """What `cp env.example .env` gives compose: the uncommented assignments."""
    return {line.name: line.value for line in env_example() if not line.commented}


# Dockerfiles


@dataclass
class Stage:
    image: str
    name: str | None
    commands: list[dockerfile.Command] = field(default_factory=list)

    def all(self, cmd: str) -> list[dockerfile.Command]:
        return [command for command in self.commands if command.cmd == cmd]

    def runs(self) -> list[str]:
        return [" ".join(command.value) for command in self.all("RUN")]

    def env(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for command in self.all("ENV"):
            pairs |= dict(zip(command.value[::2], command.value[1::2], strict=True))
        return pairs


def stages(path: Path) -> list[Stage]:
    """The build stages, with ARGs declared before the first FROM substituted into images."""
    build_args: dict[str, str] = {}
    found: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: build_args.get(m[1], m[0]), command.value[0])
            name = command.value[2] if len(command.value) == 3 else None
            found.append(Stage(image, name))
        elif not found and command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            build_args[name] = default
        elif found:
            found[-1].commands.append(command)
    return found


# .dockerignore


def _pattern(text: str) -> re.Pattern[str]:
    """Go's filepath.Match, plus `**` for any number of folders, as Docker's patternmatcher."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            char = text[i]
            out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
            i += 1
    return re.compile(out + r"\Z")


def dockerignore(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(is an exception `!`, pattern) in file order."""
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        cleaned = line.removeprefix("!").strip().strip("/")
        rules.append((negated, _pattern(cleaned)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves `relative` (a path inside the context) out of the build context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negated, pattern in rules:
        if any(pattern.match(candidate) for candidate in candidates):
            result = not negated
    return result


# Processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.communicate()[0].decode()) from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer in {STARTUP_SECONDS} s") from None
            time.sleep(0.1)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:  # the process ended while we looked
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found
