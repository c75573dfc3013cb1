"""docker-compose.yml holds together: the three services, the shared artifact volume, the
API's healthcheck and restart policy, and every command is a real `vibemap` subcommand whose
flags parse. Static checks only: no Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibemap.cli import build_parser

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def _mounts(service: dict) -> dict[str, str]:
    """volume name -> container path, for the named volumes a service mounts."""
    out = {}
    for entry in service.get("volumes") or ():
        if isinstance(entry, str):
            source, target = entry.split(":")[:2]
        else:
            source, target = entry.get("source"), entry.get("target")
        out[source] = target
    return out


def _subcommands() -> set[str]:
    import argparse

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_services_exist(compose: dict) -> None:
    assert {"indexer", "api", "ui"} <= set(compose["services"])


def test_shared_volume_mounted_in_indexer_and_api(compose: dict) -> None:
    services = compose["services"]
    indexer, api = _mounts(services["indexer"]), _mounts(services["api"])
    shared = set(indexer) & set(api) & set(compose.get("volumes") or {})
    assert shared, (indexer, api)
    volume = shared.pop()
    # the API reads what the indexer wrote, at the same path, and only reads it
    api_entry = next(v for v in services["api"]["volumes"]
                     if (v if isinstance(v, str) else v.get("source", "")).startswith(volume))
    read_only = api_entry.endswith(":ro") if isinstance(api_entry, str) \
        else api_entry.get("read_only")
    assert read_only, api_entry
    out = services["indexer"]["command"][services["indexer"]["command"].index("--out") + 1]
    index = services["api"]["command"][services["api"]["command"].index("--index") + 1]
    assert out == index and out.startswith(indexer[volume] + "/") and \
        index.startswith(api[volume] + "/")


def test_api_has_a_health_check_on_health_and_a_restart_policy(compose: dict) -> None:
    api = compose["services"]["api"]
    test = api["healthcheck"]["test"]
    text = test if isinstance(test, str) else " ".join(test)
    assert "/health" in text and ":8000" in text
    assert api["restart"] in ("always", "unless-stopped", "on-failure")
    ui = compose["services"]["ui"]
    assert ui["depends_on"]["api"]["condition"] == "service_healthy"
    assert api["depends_on"]["indexer"]["condition"] == "service_completed_successfully"


def test_admin_token_comes_from_the_environment_not_the_file(compose: dict) -> None:
    env = compose["services"]["api"].get("environment") or {}
    token = env.get("VIBEMAP_ADMIN_TOKEN", "") if isinstance(env, dict) else ""
    assert token.startswith("${"), "the admin token must not be written in the compose file"


@pytest.mark.parametrize("service", ["indexer", "api", "ui"])
def test_every_command_is_a_vibemap_subcommand_whose_flags_parse(compose: dict,
                                                                 service: str) -> None:
    command = compose["services"][service]["command"]
    assert isinstance(command, list), "use the exec (list) form"
    assert command[0] == "vibemap" and command[1] in _subcommands(), command
    args = build_parser().parse_args(command[1:])  # SystemExit(2) on an unknown flag
    assert args.command == command[1]
    assert callable(getattr(args, "func", None))


def test_dockerfile_default_command_parses_too() -> None:
    import json

    lines = (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    assert cmd[0] == "vibemap" and cmd[1] in _subcommands()
    build_parser().parse_args(cmd[1:])
