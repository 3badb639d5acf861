"""Geo commands: positions kept as sorted-set scores (see ``geohash``).

GEOADD, GEOPOS, GEODIST, GEOHASH, and the searches GEORADIUS,
GEORADIUSBYMEMBER (and their _RO forms), GEOSEARCH and GEOSEARCHSTORE, with
Redis 7.0's argument checks in its order, its box-by-box search order (the
order of an unsorted reply), COUNT (which sorts ASC unless ANY), STORE and
STOREDIST.  Distances print with ``%.4f``, coordinates as Redis' "human" long
doubles (``%.17Lf`` without trailing zeros).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import geohash
from ..reply import SYNTAX, CommandError, bulk, integer
from ..table import command
from ..zset import ZSet
from .args import to_float, to_int
from .sortedsets import get_zset, store_zset, zadd

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []

_UNITS = {b"M": 1.0, b"KM": 1000.0, b"FT": 0.3048, b"MI": 1609.34}
_BAD_UNIT = CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
_NO_MEMBER = CommandError("ERR could not decode requested zset member")


def _lonlat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    lon, lat = to_float(lon_arg), to_float(lat_arg)
    if not (geohash.LONG_MIN <= lon <= geohash.LONG_MAX
            and geohash.LAT_MIN <= lat <= geohash.LAT_MAX):
        raise CommandError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _unit(arg: bytes) -> float:
    factor = _UNITS.get(arg.upper())
    if factor is None:
        raise _BAD_UNIT
    return factor


def _human(value: float, resp3: bool) -> bytes:
    """addReplyHumanLongDouble: %.17Lf, trailing zeros (and point) dropped; a
    bulk string in RESP2, a double in RESP3."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    if text == b"-0":
        text = b"0"
    return b",%s\r\n" % text if resp3 else bulk(text)


def _distance_reply(meters: float) -> bytes:
    return bulk(b"%.4f" % meters)


@command("GEOADD")
def geoadd(c: Client, args: list[bytes]) -> bytes:
    at = 2
    nx = xx = False
    while at < len(args):
        option = args[at].upper()
        if option == b"NX":
            nx = True
        elif option == b"XX":
            xx = True
        elif option != b"CH":
            break
        at += 1
    if (len(args) - at) % 3 or (nx and xx):
        raise SYNTAX
    argv = [b"ZADD", *args[1:at]]
    for i in range(at, len(args), 3):
        lon, lat = _lonlat(args[i], args[i + 1])
        argv += (b"%d" % geohash.score(lon, lat), args[i + 2])
    return zadd(c, argv)


@command("GEOPOS")
def geopos(c: Client, args: list[bytes]) -> bytes:
    zs = get_zset(c.db, args[1])
    null = b"_\r\n" if c.resp3 else b"*-1\r\n"
    parts = []
    for member in args[2:]:
        score = None if zs is None else zs.scores.get(member)
        if score is None:
            parts.append(null)
            continue
        lon, lat = geohash.decode(score)
        parts.append(b"*2\r\n" + _human(lon, c.resp3) + _human(lat, c.resp3))
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


@command("GEODIST")
def geodist(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 5:
        raise SYNTAX
    factor = _unit(args[4]) if len(args) == 5 else 1.0
    zs = get_zset(c.db, args[1])
    if zs is None:
        return c.nil
    first, second = zs.scores.get(args[2]), zs.scores.get(args[3])
    if first is None or second is None:
        return c.nil
    return _distance_reply(geohash.distance(*geohash.decode(first),
                                            *geohash.decode(second)) / factor)


@command("GEOHASH")
def geohash_(c: Client, args: list[bytes]) -> bytes:
    zs = get_zset(c.db, args[1])
    parts = []
    for member in args[2:]:
        score = None if zs is None else zs.scores.get(member)
        parts.append(c.nil if score is None else bulk(geohash.standard_hash(score)))
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


# ------------------------------------------------------------------ searching
class _Search:
    """A search's shape and options, read as georadiusGeneric reads them."""

    def __init__(self) -> None:
        self.lon = self.lat = 0.0
        self.radius: float | None = None  # BYRADIUS / GEORADIUS, in the unit
        self.width = self.height = 0.0  # BYBOX, in the unit
        self.factor = 1.0
        self.withdist = self.withhash = self.withcoord = self.any = False
        self.sort = 0  # 1 ASC, -1 DESC
        self.count = 0
        self.store: bytes | None = None
        self.storedist = False


def _distance_args(search: _Search, value: bytes, unit: bytes) -> None:
    radius = to_float(value, CommandError("ERR need numeric radius"))
    if radius < 0:
        raise CommandError("ERR radius cannot be negative")
    search.radius = radius
    search.factor = _unit(unit)


def _member_position(zs: ZSet, member: bytes) -> tuple[float, float]:
    score = zs.scores.get(member)
    if score is None:
        raise _NO_MEMBER
    return geohash.decode(score)


def _search(c: Client, args: list[bytes], source: int, kind: str, store: bool) -> bytes:
    """kind: "coords" (GEORADIUS), "member" (GEORADIUSBYMEMBER) or "search"."""
    name = args[0].decode("utf-8", "replace")
    zs = get_zset(c.db, args[source])
    search = _Search()
    if kind == "coords":
        base = 6
        search.lon, search.lat = _lonlat(args[2], args[3])
        _distance_args(search, args[4], args[5])
    elif kind == "member":
        base = 5
        if zs is not None:
            search.lon, search.lat = _member_position(zs, args[2])
            _distance_args(search, args[3], args[4])
    else:
        base = 3 if store else 2
        if store:
            search.store = args[1]
    frommember = fromloc = byradius = bybox = False
    i, n = base, len(args)
    while i < n:
        word = args[i].upper()
        left = n - i - 1
        if word == b"WITHDIST":
            search.withdist = True
        elif word == b"WITHHASH":
            search.withhash = True
        elif word == b"WITHCOORD":
            search.withcoord = True
        elif word == b"ANY":
            search.any = True
        elif word == b"ASC":
            search.sort = 1
        elif word == b"DESC":
            search.sort = -1
        elif word == b"COUNT" and left >= 1:
            search.count = to_int(args[i + 1])
            if search.count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif word in (b"STORE", b"STOREDIST") and left >= 1 and kind != "search" \
                and store:
            search.store, search.storedist = args[i + 1], word == b"STOREDIST"
            i += 1
        elif word == b"STOREDIST" and kind == "search" and store:
            search.storedist = True
        elif word == b"FROMMEMBER" and left >= 1 and kind == "search" and not fromloc:
            if zs is not None:
                search.lon, search.lat = _member_position(zs, args[i + 1])
            frommember = True
            i += 1
        elif word == b"FROMLONLAT" and left >= 2 and kind == "search" and not frommember:
            search.lon, search.lat = _lonlat(args[i + 1], args[i + 2])
            fromloc = True
            i += 2
        elif word == b"BYRADIUS" and left >= 2 and kind == "search" and not bybox:
            _distance_args(search, args[i + 1], args[i + 2])
            byradius = True
            i += 2
        elif word == b"BYBOX" and left >= 3 and kind == "search" and not byradius:
            width = to_float(args[i + 1], CommandError("ERR need numeric width"))
            height = to_float(args[i + 2], CommandError("ERR need numeric height"))
            if width < 0 or height < 0:
                raise CommandError("ERR height or width cannot be negative")
            search.width, search.height = width, height
            search.factor = _unit(args[i + 3])
            bybox = True
            i += 3
        else:
            raise SYNTAX
        i += 1
    if search.store is not None and (search.withdist or search.withhash or search.withcoord):
        what = "GEOSEARCHSTORE" if kind == "search" else "STORE option in GEORADIUS"
        raise CommandError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and "
                           "WITHCOORD options")
    if kind == "search" and not (frommember or fromloc):
        raise CommandError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified "
                           f"for {name}")
    if kind == "search" and not (byradius or bybox):
        raise CommandError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if search.any and not search.count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    if zs is None:
        if search.store is not None:
            c.db.delete(search.store)
            return b":0\r\n"
        return b"*0\r\n"
    if search.count and not search.sort and not search.any:
        search.sort = 1
    found = _points(zs, search)
    if not found and search.store is None:
        return b"*0\r\n"
    if search.sort:
        found.sort(key=lambda point: point[1], reverse=search.sort < 0)
    chosen = found[:search.count] if search.count else found
    if search.store is not None:
        return _store(c, search, chosen)
    return _reply(search, chosen, c.resp3)


# (member, distance in meters, score, longitude, latitude)
Point = tuple[bytes, float, float, float, float]


def _points(zs: ZSet, search: _Search) -> list[Point]:
    factor = search.factor
    if search.radius is not None:
        radius = search.radius * factor
        half_w = half_h = radius
    else:
        half_w, half_h = search.width * factor / 2, search.height * factor / 2
        half_width, half_height = search.width / 2, search.height / 2
        radius = math.sqrt(half_width * half_width + half_height * half_height) * factor
    limit = search.count if search.any else 0
    found: list[Point] = []
    for span in geohash.areas(search.lon, search.lat, half_w, half_h, radius):
        if span is None:
            continue
        if found and limit and len(found) >= limit:
            break
        low, high = span
        for score, member in zs.slice(zs.position((float(low), b"")),
                                      zs.position((float(high), b""))):
            lon, lat = geohash.decode(score)
            if search.radius is not None:
                meters = geohash.distance(search.lon, search.lat, lon, lat)
                if meters > radius:
                    continue
            else:
                if geohash.lat_distance(lat, search.lat) > half_h \
                        or geohash.distance(lon, lat, search.lon, lat) > half_w:
                    continue
                meters = geohash.distance(search.lon, search.lat, lon, lat)
            found.append((member, meters, score, lon, lat))
            if limit and len(found) >= limit:
                break
    return found


def _reply(search: _Search, points: list[Point], resp3: bool) -> bytes:
    extras = search.withdist + search.withhash + search.withcoord
    parts = [b"*%d\r\n" % len(points)]
    for member, meters, score, lon, lat in points:
        if extras:
            parts.append(b"*%d\r\n" % (extras + 1))
        parts.append(b"$%d\r\n%s\r\n" % (len(member), member))
        if search.withdist:
            parts.append(_distance_reply(meters / search.factor))
        if search.withhash:
            parts.append(integer(int(score)))
        if search.withcoord:
            parts.append(b"*2\r\n" + _human(lon, resp3) + _human(lat, resp3))
    return b"".join(parts)


def _store(c: Client, search: _Search, points: list[Point]) -> bytes:
    assert search.store is not None
    zs = ZSet()
    for member, meters, score, _, _ in points:
        zs.add(member, meters / search.factor if search.storedist else score)
    return store_zset(c, search.store, zs)


@command("GEORADIUS")
def georadius(c: Client, args: list[bytes]) -> bytes:
    return _search(c, args, 1, "coords", True)


@command("GEORADIUS_RO")
def georadius_ro(c: Client, args: list[bytes]) -> bytes:
    return _search(c, args, 1, "coords", False)


@command("GEORADIUSBYMEMBER")
def georadiusbymember(c: Client, args: list[bytes]) -> bytes:
    return _search(c, args, 1, "member", True)


@command("GEORADIUSBYMEMBER_RO")
def georadiusbymember_ro(c: Client, args: list[bytes]) -> bytes:
    return _search(c, args, 1, "member", False)


@command("GEOSEARCH")
def geosearch(c: Client, args: list[bytes]) -> bytes:
    return _search(c, args, 1, "search", False)


@command("GEOSEARCHSTORE")
def geosearchstore(c: Client, args: list[bytes]) -> bytes:
    return _search(c, args, 2, "search", True)

