"""The road network as GeoJSON: every road once, rounded, and thinned past the limit."""

from __future__ import annotations

from geo.geojson import network_geojson


def test_network_geojson_draws_each_road_once_with_rounded_coordinates(road_network):
    roads = network_geojson(road_network)
    pairs = {(min(u, v), max(u, v)) for u, v in road_network.graph.edges() if u != v}
    assert roads["edges"] == len(pairs) and roads["thinned"] is False
    first = roads["features"][0]["geometry"]["coordinates"]
    assert all(len(str(x).split(".")[-1]) <= 5 for x, _ in first)


def test_network_geojson_keeps_the_longest_roads_and_says_thinned_past_the_limit(road_network):
    full = network_geojson(road_network)
    thin = network_geojson(road_network, max_edges=100)
    assert thin["thinned"] is True and thin["edges"] == len(thin["features"]) == 100
    assert full["edges"] > 100
