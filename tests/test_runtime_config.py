"""A node's run configuration is checked up front, and every mistake is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcomm.errors import UsageError
from emcomm.node.config import config_from_flags, default_link_id, load_config

GOOD = """
id = "relay1"
listen = "tcp://127.0.0.1:7001"
telemetry = "tcp://127.0.0.1:7002"
data_dir = "r1"
seed = 3
seen_ids_max = 5000

[[neighbour]]
id = "cc"
endpoint = "tcp://127.0.0.1:7101"
kind = "hts"
[neighbour.overrides]
rate_up_bps = 2000000

[[neighbour]]
id = "cc"
endpoint = "tcp://127.0.0.1:7101"
kind = "beidou"
"""


def test_a_good_node_toml_is_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text(GOOD)
    cfg = load_config(tmp_path / "node.toml")
    assert cfg.node_id == "relay1" and cfg.data_dir == tmp_path / "r1" and cfg.seed == 3
    assert cfg.seen_ids_max == 5000
    assert [n.link_id for n in cfg.neighbours] == ["cc-relay1/hts", "cc-relay1/beidou"]
    assert cfg.neighbours[0].profile.rate_up_bps == 2_000_000
    assert cfg.api_endpoint == f"ipc://{tmp_path / 'r1' / 'api.sock'}"


def test_both_ends_derive_the_same_link_id() -> None:
    assert default_link_id("a", "b", "leo") == default_link_id("b", "a", "leo") == "a-b/leo"


@pytest.mark.parametrize("text, words", [
    ('id = "a"', "missing 'listen'"),
    ('id = "a"\nlisten = "localhost:7"', "endpoint like"),
    ('id = "a b"\nlisten = "tcp://127.0.0.1:7001"', "id must be 1–64 letters"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\ncolour = 1', "unknown key(s) colour"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\n[[neighbour]]\nid = "b"\nendpoint = "tcp://127.0.0.1:2"\nkind = "pigeon"',
     "unknown link kind 'pigeon'"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\n[[neighbour]]\nid = "a"\nendpoint = "tcp://127.0.0.1:2"\nkind = "hts"',
     "its own neighbour"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\n[[neighbour]]\nid = "b"\nendpoint = "tcp://127.0.0.1:2"\nkind = "hts"\n'
     '[neighbour.overrides]\nloss = 2.0', "loss must be below 1"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\ntelemetry = "tcp://127.0.0.1:7001"', "different endpoints"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:99999"', "outside 1..65535"),
    ('id = "a"\nlisten = [', "not valid TOML"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\nseen_ids_max = 0', "seen_ids_max must be a whole number"),
    ('id = "a"\nlisten = "tcp://127.0.0.1:7001"\nseen_ids_max = 1.5', "seen_ids_max must be a whole number"),
])
def test_bad_node_toml_is_refused_with_what_to_fix(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "node.toml").write_text(text)
    with pytest.raises(UsageError) as err:
        load_config(tmp_path / "node.toml")
    assert words in str(err.value)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_neighbour_flags_are_parsed_and_checked(tmp_path: Path) -> None:
    cfg = config_from_flags("a", "tcp://127.0.0.1:7001", ["b=tcp://127.0.0.1:7002:tiantong", "c=ipc:///tmp/c.sock:leo"],
                            str(tmp_path))
    assert [(n.id, n.endpoint, n.profile.kind.value) for n in cfg.neighbours] == [
        ("b", "tcp://127.0.0.1:7002", "tiantong"), ("c", "ipc:///tmp/c.sock", "leo")]
    with pytest.raises(UsageError, match="ID=ENDPOINT:KIND"):
        config_from_flags("a", "tcp://127.0.0.1:7001", ["b-tcp"], str(tmp_path))


def test_a_data_dir_too_long_for_a_unix_socket_asks_for_an_api_endpoint(tmp_path: Path) -> None:
    cfg = config_from_flags("a", "tcp://127.0.0.1:7001", [], str(tmp_path / ("x" * 120)))
    with pytest.raises(UsageError, match="--api"):
        _ = cfg.api_endpoint
