"""Geo commands on pulsards and the real Redis: the same replies, byte for byte.

Searches are compared unsorted too: the order then is Redis' box-by-box scan
(the centre box and its neighbours, by score within each), which pulsards
reproduces, along with which boxes are searched at which precision.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_agree import Script, agree

_EXPLORE = int(os.environ.get("FUZZ_EXAMPLES", "0"))
pytestmark = pytest.mark.timeout(120 + _EXPLORE // 20)

GEO: Script = [
    ("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2",
     "13.5", "37.8", "mid", "14.9", "37.1", "south"),
    ("GEOADD", "Sicily", "200", "10", "bad"), ("GEOADD", "Sicily", "10", "86", "bad"),
    ("GEOADD", "Sicily", "x", "10", "bad"), ("GEOADD", "Sicily", "10", "10"),
    ("GEOADD", "Sicily", "NX", "XX", "10", "10", "m"),
    ("GEOADD", "Sicily", "CH", "13.361389", "38.2", "Palermo", "1", "1", "new"),
    ("GEOADD", "Sicily", "XX", "13", "38", "nosuch"), ("GEOADD", "Sicily", "GT", "1", "1", "m"),
    ("ZRANGE", "Sicily", "0", "-1", "WITHSCORES"),
    ("GEOPOS", "Sicily", "Palermo", "Catania", "nosuch", "edge1"), ("GEOPOS", "nokey", "a"),
    ("GEODIST", "Sicily", "Palermo", "Catania"), ("GEODIST", "Sicily", "Palermo", "Catania", "km"),
    ("GEODIST", "Sicily", "Palermo", "Catania", "MI"),
    ("GEODIST", "Sicily", "Palermo", "nosuch"), ("GEODIST", "Sicily", "a", "b", "parsec"),
    ("GEODIST", "Sicily", "a", "b", "km", "extra"), ("GEODIST", "nokey", "a", "b"),
    ("GEOHASH", "Sicily", "Palermo", "Catania", "nosuch", "new"),
    *[("GEORADIUS", "Sicily", "15", "37", *args.split()) for args in (
        "200 km", "200 km WITHDIST", "200 km WITHCOORD WITHDIST WITHHASH ASC",
        "200 km DESC COUNT 2", "200 km COUNT 2 ANY", "200 km ANY", "200 km COUNT 0",
        "-1 km", "x km", "200 parsec", "500 mi STORE dst", "500 mi STOREDIST dst2",
        "500 mi STORE dst WITHDIST", "1 m STORE dst")],
    ("ZRANGE", "dst2", "0", "-1", "WITHSCORES"), ("EXISTS", "dst"),
    ("GEORADIUS", "nokey", "15", "37", "1", "m"),
    ("GEORADIUS", "nokey", "15", "37", "1", "m", "STORE", "dst2"), ("EXISTS", "dst2"),
    ("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "x"),
    ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST"),
    ("GEORADIUSBYMEMBER", "Sicily", "nosuch", "200", "km"),
    ("GEORADIUSBYMEMBER", "nokey", "nosuch", "200", "km"),
    ("GEORADIUSBYMEMBER_RO", "Sicily", "Catania", "300", "km", "ASC"),
    *[("GEOSEARCH", "Sicily", *args.split()) for args in (
        "FROMMEMBER Palermo BYRADIUS 200 km ASC WITHDIST",
        "FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD", "FROMLONLAT 15 37 BYBOX 400 400 km",
        "FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km", "BYRADIUS 200 km", "FROMLONLAT 15 37",
        "FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 1 km", "FROMLONLAT 15 37 BYBOX -1 1 km",
        "FROMLONLAT 15 37 BYBOX x 1 km", "FROMLONLAT 15 37 BYBOX 1 y km",
        "FROMLONLAT 15 37 BYRADIUS 200 km STORE x", "FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1 ANY",
        "FROMLONLAT 0 0 BYRADIUS 10000 km", "FROMLONLAT 14 38 BYRADIUS 5000 km",
        "FROMLONLAT 14 38 BYBOX 20000 20000 km")],
    ("GEOSEARCHSTORE", "dst3", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
     "STOREDIST"), ("ZRANGE", "dst3", "0", "-1", "WITHSCORES"),
    ("GEOSEARCHSTORE", "dst3", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
     "WITHDIST"),
    ("GEOSEARCHSTORE", "dst3", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("EXISTS", "dst3"), ("SET", "str", "v"), ("GEOADD", "str", "1", "1", "m"),
    ("GEOSEARCH", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"),
    ("GEOADD", "polar", "0", "84", "a", "90", "84.5", "b", "-179", "-84", "c", "179.9", "0", "d",
     "-179.9", "0.1", "e"),
    ("GEORADIUS", "polar", "0", "84", "500", "km", "WITHDIST"),
    ("GEORADIUS", "polar", "180", "0", "100", "km", "WITHDIST"),
    ("GEOSEARCH", "polar", "FROMLONLAT", "0", "-84", "BYBOX", "5000", "600", "km", "WITHDIST"),
]


def test_geo_commands_as_redis(both: tuple[redis.Redis, redis.Redis]) -> None:
    agree(both, GEO)


LON = st.floats(-180, 180, allow_nan=False).map(lambda v: f"{v:.6f}")
LAT = st.floats(-85.05, 85.05, allow_nan=False).map(lambda v: f"{v:.6f}")
UNIT = st.sampled_from(["m", "km", "mi", "ft"])
DISTANCE = st.sampled_from(["0", "1", "50", "300", "1000", "5000", "20000"])


@settings(max_examples=_EXPLORE or 60, derandomize=not _EXPLORE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_searches_as_redis(both: tuple[redis.Redis, redis.Redis], data: Any) -> None:
    """Random points, then searches by radius and by box from a random
    position, unsorted, sorted and counted: the same members in the same
    order, with the same distances, hashes and coordinates."""
    centre = data.draw(st.tuples(LON, LAT))
    points = data.draw(st.lists(st.tuples(
        st.one_of(LON, st.floats(-3, 3).map(lambda d: f"{float(centre[0]) + d:.6f}")),
        st.one_of(LAT, st.floats(-3, 3).map(
            lambda d: f"{min(max(float(centre[1]) + d, -85.05), 85.05):.6f}"))),
        min_size=1, max_size=30))
    points = [(lon, lat) for lon, lat in points if -180 <= float(lon) <= 180]
    script: Script = [("GEOADD", "g", *[v for i, (lon, lat) in enumerate(points)
                                        for v in (lon, lat, f"m{i}")])]
    for _ in range(data.draw(st.integers(1, 4))):
        shape = data.draw(st.sampled_from([
            ("BYRADIUS", data.draw(DISTANCE), data.draw(UNIT)),
            ("BYBOX", data.draw(DISTANCE), data.draw(DISTANCE), data.draw(UNIT))]))
        # No COUNT below the number of matches without ANY: Redis then sorts
        # with an unstable partial quicksort, and members at equal distances
        # (points mirrored around the centre) may come in either order.
        options = data.draw(st.lists(st.sampled_from(
            ["WITHDIST", "WITHHASH", "WITHCOORD", "ASC", "DESC", "COUNT 40", "COUNT 2 ANY"]),
            max_size=3, unique=True))
        words = [w for option in options for w in option.split()]
        script.append(("GEOSEARCH", "g", "FROMLONLAT", *centre, *shape, *words))
    script.append(("GEORADIUS", "g", *centre, data.draw(DISTANCE), "km", "WITHDIST"))
    for client in both:
        client.flushdb()
    agree(both, script)
