"""``ray://NAME`` targets without a cluster: target syntax, the caller's-node preference, and life without Ray."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sdk._errors import InputError
from sdk._fleet import Member, fleet_name, weighted_addresses

REPO_ROOT = Path(__file__).resolve().parents[2]


def members(*placements: tuple[str, str]) -> list[Member]:
    return [Member(address, node) for address, node in placements]


def test_replicas_on_the_callers_node_take_about_half_of_the_rotation():
    three = members(("10.0.0.1:5", "a"), ("10.0.0.2:5", "b"), ("10.0.0.3:5", "c"))
    assert weighted_addresses(three, "a", None) == ["10.0.0.1:5", "10.0.0.1:5", "10.0.0.2:5", "10.0.0.3:5"]
    six = members(*[(f"10.0.0.{i}:5", "a" if i < 2 else f"n{i}") for i in range(6)])
    rotation = weighted_addresses(six, "a", None)
    local = [address for address in rotation if address in ("10.0.0.0:5", "10.0.0.1:5")]
    assert len(local) == 4 and len(rotation) == 8  # two local replicas, twice each, against four remote


def test_without_a_local_replica_or_only_local_ones_every_replica_counts_once():
    three = members(("10.0.0.1:5", "a"), ("10.0.0.2:5", "b"), ("10.0.0.3:5", "c"))
    assert sorted(weighted_addresses(three, "elsewhere", None)) == sorted(m.address for m in three)
    local = members(("10.0.0.1:5", "a"), ("10.0.0.1:6", "a"))
    assert weighted_addresses(local, "a", None) == ["10.0.0.1:5", "10.0.0.1:6"]


def test_outside_ray_the_callers_node_is_found_by_its_ip():
    three = members(("10.0.0.1:5", "a"), ("10.0.0.2:5", "b"), ("10.0.0.3:5", "c"))
    assert weighted_addresses(three, None, "10.0.0.2").count("10.0.0.2:5") == 2


def test_a_ray_target_names_a_fleet_and_nothing_else():
    assert fleet_name("ray://rewards") == "rewards"
    assert fleet_name("127.0.0.1:50051") is None and fleet_name(["ray://a", "b:1"]) is None
    with pytest.raises(InputError, match="RAY_ADDRESS"):
        fleet_name("ray://10.0.0.1:10001")  # a Ray Client address, not a fleet


def test_ray_target_without_ray_installed_simulated_by_hiding_ray_gives_clear_error():
    """A fresh interpreter in which ``import ray`` fails (a meta-path finder hides it, as if not installed)."""
    script = textwrap.dedent(
        """
        import sys

        class NoRay:
            def find_spec(self, name, path=None, target=None):
                if name == "ray" or name.startswith("ray."):
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, NoRay())
        from sdk import AsyncVerifierClient, RemoteReward, VerifierClient, VerifierError

        VerifierClient("127.0.0.1:1").close()  # other targets never touch ray
        assert "ray" not in sys.modules
        for make in (lambda: VerifierClient("ray://rewards"), lambda: AsyncVerifierClient("ray://rewards")):
            try:
                make()
            except VerifierError as error:
                print(error)
            else:
                raise SystemExit("no error for a ray:// target without ray")
        print(RemoteReward("math", target="ray://rewards")(completions=["4"], answer=["4"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    for message in lines[:2]:
        assert "ray:// target needs Ray" in message and "pip install" in message
    assert lines[2] == "[None]"  # a reward function never raises into the trainer: the sample is unscored
    assert "needs Ray" in done.stderr  # ... and it says why in the log
