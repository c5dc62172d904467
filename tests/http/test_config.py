"""``http_port`` comes from the TOML file, ``VERIFIER_HTTP_PORT`` or ``--http-port``, like every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier_server.config import load_config
from verifier_server.errors import InvalidArgument
from verifier_server.main import build_parser


def test_http_port_sources(tmp_path: Path):
    assert load_config(None, environ={}).http_port == -1  # off unless asked for
    toml = tmp_path / "server.toml"
    toml.write_text("http_port = 8080\n")
    assert load_config(str(toml), environ={}).http_port == 8080
    assert load_config(str(toml), environ={"VERIFIER_HTTP_PORT": "9000"}).http_port == 9000
    flags = vars(build_parser().parse_args(["--http-port", "0"]))
    assert load_config(str(toml), environ={"VERIFIER_HTTP_PORT": "9000"}, overrides=flags).http_port == 0


def test_a_bad_http_port_names_its_source():
    with pytest.raises(InvalidArgument, match="VERIFIER_HTTP_PORT"):
        load_config(None, environ={"VERIFIER_HTTP_PORT": "eighty"})
