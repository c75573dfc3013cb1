"""The UI is a client of the HTTP API only: importing it (and its CLI subcommand) must not
load the model stack or the other packages of this repository."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

FORBIDDEN = ("sklearn", "faiss", "vibemap.indexer", "vibemap.recommender")

PROBE = """
import json, sys
import pkgutil, importlib, vibemap.ui
for mod in pkgutil.iter_modules(vibemap.ui.__path__):
    importlib.import_module('vibemap.ui.' + mod.name)
import vibemap.ui.app, vibemap.ui.client
vibemap.ui.app.build_app(vibemap.ui.client.ApiClient("http://127.0.0.1:9", timeout=0.1))
top = {".".join(n.split(".")[:2]) if n.startswith("vibemap.") else n.split(".")[0]
       for n in sys.modules}
print(json.dumps(sorted(top)))
"""


def test_ui_imports_no_model_code():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=180, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "gradio" in loaded and "httpx" in loaded  # the probe really imported the UI
    assert not loaded & set(FORBIDDEN), f"ui imports {sorted(loaded & set(FORBIDDEN))}"


def test_ui_subcommand_registers_its_flags():
    import argparse

    from vibemap.ui.commands import cmd_ui, register

    parser = argparse.ArgumentParser(prog="vibemap")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ui", "--api", "http://api:8000", "--port", "7861"])
    assert (args.api, args.host, args.port, args.func) == ("http://api:8000", "127.0.0.1", 7861,
                                                          cmd_ui)


def test_ui_subcommand_refuses_bad_flags_with_exit_2(capsys) -> None:
    import argparse

    import pytest

    from vibemap.ui.commands import register

    parser = argparse.ArgumentParser(prog="vibemap")
    register(parser.add_subparsers(dest="command"))
    for flags, message in ((["--port", "99999"], "--port: must be between 0 and 65535"),
                           (["--port", "x"], "--port: expected an integer"),
                           (["--timeout", "-1"], "--timeout: must be a number of seconds > 0"),
                           (["--timeout", "nan"], "--timeout: must be a number of seconds > 0"),
                           (["--api", "notaurl"], "--api: expected the API's http(s) URL"),
                           (["--api", "ftp://x"], "--api: expected the API's http(s) URL"),
                           (["--host", "999.1.1.1"], "--host: cannot listen on host")):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(["ui", *flags])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    args = parser.parse_args(["ui", "--api", "https://x.example:8443/", "--port", "0",
                              "--timeout", "0.5"])
    assert (args.api, args.port, args.timeout) == ("https://x.example:8443/", 0, 0.5)
