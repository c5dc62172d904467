"""What ``verifier fleet up`` asks for, checked before anything starts: placement, per-replica flags, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk import InputError, VerifierError
from verifier_server.fleet.controller import FleetSpec
from verifier_server.fleet.manage import fleet_spec


def test_one_replica_per_node_by_default_or_per_cpus_when_asked():
    assert FleetSpec("f").replicas_on(node_cpus=16) == 1
    assert FleetSpec("f", replicas_per_node=2).replicas_on(node_cpus=16) == 2
    assert FleetSpec("f", cpus_per_replica=4).replicas_on(node_cpus=16) == 4
    assert FleetSpec("f", cpus_per_replica=4).replicas_on(node_cpus=2) == 1  # a small node still gets one
    assert FleetSpec("f", replicas_per_node=2, cpus_per_replica=4).replicas_on(node_cpus=16) == 2


def test_replicas_size_their_workers_and_keep_their_own_registry_unless_shared():
    assert FleetSpec("f", cpus_per_replica=4).server_args() == ["--workers", "4", "--registry-url", ""]
    assert FleetSpec("f", fans_out=False).server_args() == []


def test_the_config_is_checked_where_the_fleet_is_started(tmp_path: Path):
    shared = tmp_path / "shared.toml"
    shared.write_text('registry_url = "postgresql://verifier@db/registry"\ndrain_timeout_s = 5.0\n')
    spec = fleet_spec("rewards", shared)
    assert not spec.fans_out and "postgresql://" in spec.config_toml
    assert spec.stop_timeout_s > 5.0  # a replica may drain as long as its config says, and then some
    assert fleet_spec("rewards").fans_out

    typo = tmp_path / "typo.toml"
    typo.write_text("drain_timeout = 5\n")
    with pytest.raises(VerifierError, match="drain_timeout"):
        fleet_spec("rewards", typo)
    with pytest.raises(VerifierError, match="cannot read"):
        fleet_spec("rewards", tmp_path / "missing.toml")
    tls = tmp_path / "tls.toml"
    tls.write_text('tls_cert_file = "/etc/cert.pem"\ntls_key_file = "/etc/key.pem"\n')
    with pytest.raises(VerifierError, match="TLS"):
        fleet_spec("rewards", tls)
    with pytest.raises(InputError):
        fleet_spec("no/slashes")
    with pytest.raises(VerifierError, match="at least 1"):
        fleet_spec("rewards", replicas_per_node=0)
