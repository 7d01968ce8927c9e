"""The deployment files agree with the code they run (issue 9).

The stack itself is checked by `deploy/check_stack.py` against a running `docker compose`
(docs/reliability.md, section 3): it needs a Docker engine, so it is not part of this
suite. What can be checked without one is checked here, once per change: the two defects
that first run found were both of this kind (a CLI option misspelt in docker-compose.yml,
and a volume mounted on a directory the image did not make for its user).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml

from publisher.cli import app as publisher_app

# Typer carries its own copy of click (typer._click): its Context, found through a command.
Context = type(typer.main.get_command(publisher_app).make_context("publisher", ["db", "upgrade"]))

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILES = [ROOT / "docker-compose.yml", ROOT / "deploy" / "offline" / "compose.yml"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def app_services(spec: dict) -> dict[str, dict]:
    """The services built from our Dockerfile (the others are PostgreSQL and nginx)."""
    return {name: svc for name, svc in spec["services"].items() if "build" in svc}


def publisher_invocations(text: str) -> list[list[str]]:
    """Every `publisher ...` command in a shell command line, as its argument list."""
    lexer = shlex.shlex(text.replace("$$", "$"), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    calls, words = [], []
    for token in [*lexer, ";"]:
        if token in ("&&", "||", ";", "|"):
            while words and words[0] in ("if", "then", "else", "elif", "do", "exec"):
                words = words[1:]
            if words[:2] == ["sh", "-c"]:
                calls += publisher_invocations(words[2])
            elif words[:1] == ["publisher"]:
                calls.append(words[1:])
            words = []
        else:
            words.append(token)
    return calls


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for name, svc in app_services(compose()).items():
        cmd = svc.get("command", "")
        cmd = " ".join(cmd) if isinstance(cmd, list) else cmd
        found += [(f"docker-compose.yml {name}", args) for args in publisher_invocations(cmd)]
    cmd_line = re.search(r'^CMD \["sh", "-c", "(.*)"\]$', DOCKERFILE, re.M).group(1).replace('\\"', '"')
    found += [("Dockerfile CMD", args) for args in publisher_invocations(cmd_line)]
    return found


def test_the_deployment_runs_publisher_commands():
    where = {w.split()[-1] for w, _ in commands()}
    assert {"init", "scheduler", "CMD"} <= where, where


@pytest.mark.parametrize("where,args", commands(), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_every_publisher_command_of_the_deployment_parses(where, args):
    """Parsed by the publisher's own CLI (click's parser, nothing run): an unknown command or
    option, or a missing argument, fails here rather than in a container."""
    group = typer.main.get_command(publisher_app)
    ctx = Context(group, info_name="publisher")
    words = list(args)
    while hasattr(group, "resolve_command"):  # a group: down to the command
        name, group, words = group.resolve_command(ctx, words)
        ctx = Context(group, info_name=name, parent=ctx)
    try:
        group.make_context(ctx.info_name, words, parent=ctx.parent)
    except Exception as exc:  # noqa: BLE001 - typer's own click: UsageError, NoSuchOption...
        pytest.fail(f"{where}: publisher {' '.join(args)}: {exc}")


def test_a_wrong_option_would_be_caught():
    """The check above fails on the defect it is there for."""
    group = typer.main.get_command(publisher_app)
    ctx = Context(group, info_name="publisher")
    _, demo, rest = group.resolve_command(ctx, ["demo", "--workdir", "var/demo", "--database", "x"])
    with pytest.raises(Exception, match="No such option: --database"):
        demo.make_context("demo", rest, parent=ctx)


def test_every_volume_of_the_api_is_a_directory_its_user_owns_in_the_image():
    """A named volume takes its owner from the image's directory; a directory the image
    lacks is made by Docker, owned by root, and the API (an unprivileged user) cannot
    write it."""
    made = re.search(r"^RUN useradd .*?(mkdir -p (?P<dirs>[^&]+)) && chown -R (?P<user>\w+) (?P<owned>\S+)$",
                     DOCKERFILE, re.M)
    assert made, "the Dockerfile makes the app's directories and gives them to its user"
    assert re.search(rf"^USER {made['user']}$", DOCKERFILE, re.M)
    dirs, owned = made["dirs"].split(), made["owned"]
    mounts = [v.split(":")[1] for svc in app_services(compose()).values() for v in svc.get("volumes", [])]
    assert mounts, "the API keeps its response cache on a volume"
    for mount in mounts:
        assert mount in dirs and mount.startswith(owned + "/"), (mount, dirs, owned)


def test_the_offline_images_replace_only_images():
    """deploy/offline/compose.yml swaps the base images and changes nothing else."""
    offline = yaml.safe_load(COMPOSE_FILES[1].read_text(encoding="utf-8"))
    spec = compose()
    assert set(offline["services"]) == set(spec["services"])
    for name, svc in offline["services"].items():
        assert set(svc) <= {"image", "build"}, (name, svc)
        if "build" in svc:
            assert set(svc["build"]["args"]) == {"PYTHON_IMAGE"}
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
