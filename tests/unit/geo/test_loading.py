from __future__ import annotations

import bz2
import shutil

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from geo import loading
from geo.errors import GeoError, NetworkLoadError
from geo.loading import load_road_network
from geo.profile import SpeedProfile

from .conftest import BUNDLED, JINGAN, OSM_DIR

OSM_FILES = sorted(OSM_DIR.glob("*.osm")) + sorted(OSM_DIR.glob("*.osm.bz2"))


def test_osm_dir_holds_test_extracts():
    assert len(OSM_FILES) >= 2


@pytest.mark.parametrize("path", OSM_FILES, ids=lambda p: p.name)
def test_load_road_network_reads_every_test_extract_offline(path):
    network = load_road_network(path)
    assert network.node_count > 100
    _assert_courier_network(network)


def test_load_road_network_reads_bundled_graphml(district):
    assert 1500 < district.node_count < 1970  # motorway-only nodes and off-SCC nodes dropped
    _assert_courier_network(district)


def test_load_road_network_reads_bz2_osm(tmp_path, jingan):
    target = tmp_path / "jingan.osm.bz2"
    target.write_bytes(bz2.compress(JINGAN.read_bytes()))
    assert load_road_network(target).node_count == jingan.node_count


def test_travel_times_come_from_the_speed_profile(jingan):
    fast = load_road_network(JINGAN, profile=SpeedProfile(name="fast", speed_kmh=36.0))
    for _u, _v, data in jingan.graph.edges(data=True):
        if data.get("maxspeed") is None:
            assert data["travel_time"] == pytest.approx(data["length"] / 5.0)  # 18 km/h
    assert fast.csr.sum() < jingan.csr.sum()


def test_load_road_network_uses_cache_on_restart(tmp_path, monkeypatch):
    source = tmp_path / "jingan.osm"
    shutil.copy(JINGAN, source)
    first = load_road_network(source, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("network-*.pickle"))) == 1

    def no_rebuild(*_args, **_kwargs):
        raise AssertionError("rebuilt instead of using the cache")

    monkeypatch.setattr(loading, "read_raw_graph", no_rebuild)
    second = load_road_network(source, cache_dir=tmp_path / "cache")
    assert second.node_count == first.node_count
    np.testing.assert_array_equal(second.lat, first.lat)
    # another profile is another cache entry, so it rebuilds
    with pytest.raises(AssertionError, match="rebuilt"):
        load_road_network(source, cache_dir=tmp_path / "cache", profile=SpeedProfile(speed_kmh=9))


def test_load_road_network_rejects_missing_file(tmp_path):
    with pytest.raises(NetworkLoadError) as info:
        load_road_network(tmp_path / "nope.graphml")
    assert info.value.code == "bad_road_network"
    assert isinstance(info.value, GeoError)


def test_load_road_network_rejects_unknown_kind(tmp_path):
    path = tmp_path / "roads.shp"
    path.write_text("x")
    with pytest.raises(NetworkLoadError, match="not one of"):
        load_road_network(path)


@pytest.mark.parametrize(
    "text",
    ["this is not xml", "<osm version='0.6'><node id='1' lat='1' lon='1'/></osm>", "<html/>"],
)
def test_load_road_network_rejects_unusable_osm(tmp_path, text):
    path = tmp_path / "bad.osm"
    path.write_text(text)
    with pytest.raises(NetworkLoadError):
        load_road_network(path)


def test_load_road_network_rejects_garbage_graphml(tmp_path):
    path = tmp_path / "bad.graphml"
    path.write_text("<graphml><nope")
    with pytest.raises(NetworkLoadError):
        load_road_network(path)


def test_loaded_network_has_no_motorways(district):
    raw = loading.read_raw_graph(BUNDLED)
    raw_highways = {str(d.get("highway")) for *_e, d in raw.edges(data=True)}
    assert any("motorway" in h for h in raw_highways)
    kept = {str(d.get("highway")) for *_e, d in district.graph.edges(data=True)}
    assert not any("motorway" in h for h in kept)


def _assert_courier_network(network):
    n = network.node_count
    assert sorted(network.graph.nodes) == list(range(n))
    count, _labels = connected_components(network.csr, directed=True, connection="strong")
    assert count == 1
    assert network.csr.shape == (n, n)
    assert (network.csr.data > 0).all()
    assert network.lat.shape == network.lon.shape == (n,)
    highways = {str(d.get("highway")) for *_e, d in network.graph.edges(data=True)}
    assert not any(h in ("motorway", "footway", "steps") for h in highways)


def test_saved_courier_graph_loads_again_with_osm_ids(tmp_path, jingan):
    path = tmp_path / "jingan.graphml"
    loading.save_graph(jingan.graph, path)
    again = load_road_network(path)
    assert again.node_count == jingan.node_count
    assert sorted(again.osmid.tolist()) == sorted(jingan.osmid.tolist())
    assert again.osmid.max() > jingan.node_count  # real OSM ids, not positions
