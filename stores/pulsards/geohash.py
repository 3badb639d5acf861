"""Redis' geohash arithmetic (geohash.c, geohash_helper.c), bit for bit.

A position is stored as the score of a sorted-set member: its 52-bit geohash
(26 bits of latitude in the even positions, 26 of longitude in the odd ones,
over Web Mercator's latitude range ±85.05112878).  Searches cover the area
with the box of the centre and its eight neighbours at a precision estimated
from the radius, exactly as Redis does, so that members come out in Redis'
order (box by box, by score within a box).  Distances use Redis' haversine
and Earth radius; ``math``'s sin/cos/asin are the C library's.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["LAT_MAX", "LAT_MIN", "LONG_MAX", "LONG_MIN", "STEP_MAX", "Box", "areas",
           "decode", "distance", "encode", "lat_distance", "standard_hash"]

STEP_MAX: Final = 26
LAT_MIN: Final = -85.05112878
LAT_MAX: Final = 85.05112878
LONG_MIN: Final = -180.0
LONG_MAX: Final = 180.0
EARTH_RADIUS: Final = 6372797.560856
MERCATOR_MAX: Final = 20037726.37
D_R: Final = math.pi / 180.0
_ALPHABET: Final = b"0123456789bcdefghjkmnpqrstuvwxyz"
_U64: Final = (1 << 64) - 1

# A geohash: (bits, step).
Hash = tuple[int, int]
# (longitude min, longitude max, latitude min, latitude max)
Box = tuple[float, float, float, float]


def _interleave(lat: int, lon: int) -> int:
    bits = 0
    for i in range(32):
        bits |= ((lat >> i) & 1) << (2 * i) | ((lon >> i) & 1) << (2 * i + 1)
    return bits


def _deinterleave(bits: int) -> tuple[int, int]:
    lat = lon = 0
    for i in range(32):
        lat |= ((bits >> (2 * i)) & 1) << i
        lon |= ((bits >> (2 * i + 1)) & 1) << i
    return lat, lon


def encode(longitude: float, latitude: float, step: int = STEP_MAX,
           lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> Hash:
    """geohashEncode (the caller checked the ranges)."""
    lat_offset = (latitude - lat_min) / (lat_max - lat_min) * (1 << step)
    long_offset = (longitude - LONG_MIN) / (LONG_MAX - LONG_MIN) * (1 << step)
    # interleave64() takes uint32_t: C truncates the doubles.
    return _interleave(int(lat_offset) & 0xFFFFFFFF, int(long_offset) & 0xFFFFFFFF), step


def area(hash_: Hash, lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> Box:
    """geohashDecode: the box a geohash stands for."""
    bits, step = hash_
    ilat, ilon = _deinterleave(bits)
    lat_scale = lat_max - lat_min
    long_scale = LONG_MAX - LONG_MIN
    size = 1 << step
    return (LONG_MIN + (ilon * 1.0 / size) * long_scale,
            LONG_MIN + ((ilon + 1) * 1.0 / size) * long_scale,
            lat_min + (ilat * 1.0 / size) * lat_scale,
            lat_min + ((ilat + 1) * 1.0 / size) * lat_scale)


def decode(score: float) -> tuple[float, float]:
    """The (longitude, latitude) a member's score stands for: its box's centre."""
    lon_min, lon_max, lat_min, lat_max = area((int(score), STEP_MAX))
    lon = min(max((lon_min + lon_max) / 2, LONG_MIN), LONG_MAX)
    lat = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return lon, lat


def score(longitude: float, latitude: float) -> int:
    """The sorted-set score of a position (geohashAlign52Bits of a full hash)."""
    return _align(encode(longitude, latitude))


def _align(hash_: Hash) -> int:
    bits, step = hash_
    return (bits << (52 - step * 2)) & _U64


def standard_hash(score_: float) -> bytes:
    """GEOHASH's 11 characters: the position re-encoded over latitudes ±90."""
    lon, lat = decode(score_)
    bits, _ = encode(lon, lat, STEP_MAX, -90.0, 90.0)
    out = bytearray()
    for i in range(11):
        index = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        out.append(_ALPHABET[index])
    return bytes(out)


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance: haversine, in meters."""
    v = math.sin((lon2 * D_R - lon1 * D_R) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r, lat2r = lat1 * D_R, lat2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * math.asin(math.sqrt(a))


# ----------------------------------------------------------------- searching
_LON_BITS: Final = 0xAAAAAAAAAAAAAAAA  # the odd positions
_LAT_BITS: Final = 0x5555555555555555  # the even positions


def _move(hash_: Hash, d: int, mine: int, other: int) -> Hash:
    """geohash_move_x/_y: one box along the coordinate whose bits are ``mine``
    (the other coordinate's bits are set to 1 so that the carry crosses them)."""
    bits, step = hash_
    width = 64 - step * 2
    own, rest = bits & mine, bits & other
    zz = other >> width
    own = own + (zz + 1) if d > 0 else (own | zz) - (zz + 1)
    return (own & _U64 & (mine >> width)) | rest, step


def _move_x(hash_: Hash, d: int) -> Hash:
    return _move(hash_, d, _LON_BITS, _LAT_BITS)


def _move_y(hash_: Hash, d: int) -> Hash:
    return _move(hash_, d, _LAT_BITS, _LON_BITS)


def _neighbors(hash_: Hash) -> list[Hash]:
    """north, south, east, west, north-east, north-west, south-east, south-west."""
    return [_move_y(hash_, 1), _move_y(hash_, -1), _move_x(hash_, 1), _move_x(hash_, -1),
            _move_y(_move_x(hash_, 1), 1), _move_y(_move_x(hash_, -1), 1),
            _move_y(_move_x(hash_, 1), -1), _move_y(_move_x(hash_, -1), -1)]


def _steps(range_meters: float, lat: float) -> int:
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def bounding_box(lon: float, lat: float, half_width: float, half_height: float) -> Box:
    """geohashBoundingBox, in meters from the centre."""
    lat_delta = (half_height / EARTH_RADIUS) / D_R
    top = (half_width / EARTH_RADIUS / math.cos((lat + lat_delta) * D_R)) / D_R
    bottom = (half_width / EARTH_RADIUS / math.cos((lat - lat_delta) * D_R)) / D_R
    delta = bottom if lat < 0 else top
    return lon - delta, lon + delta, lat - lat_delta, lat + lat_delta


def areas(lon: float, lat: float, half_width: float, half_height: float,
          radius: float) -> list[tuple[int, int] | None]:
    """The score ranges [min, max) of the nine boxes to search, in Redis'
    order (centre, N, S, E, W, NE, NW, SE, SW); None for a box left out."""
    min_lon, max_lon, min_lat, max_lat = bounding_box(lon, lat, half_width, half_height)
    steps = _steps(radius, lat)
    centre = encode(lon, lat, steps)
    neighbors = _neighbors(centre)
    north, south, east, west = (area(h) for h in neighbors[:4])
    if steps > 1 and (north[3] < max_lat or south[2] > min_lat or east[1] < max_lon
                      or west[0] > min_lon):
        steps -= 1
        centre = encode(lon, lat, steps)
        neighbors = _neighbors(centre)
    boxes: list[Hash | None] = [centre, *neighbors]
    if steps >= 2:
        c_lon_min, c_lon_max, c_lat_min, c_lat_max = area(centre)
        drop = set()
        if c_lat_min < min_lat:
            drop |= {2, 7, 8}  # south, south-east, south-west
        if c_lat_max > max_lat:
            drop |= {1, 5, 6}  # north, north-east, north-west
        if c_lon_min < min_lon:
            drop |= {4, 6, 8}  # west, north-west, south-west
        if c_lon_max > max_lon:
            drop |= {3, 5, 7}  # east, north-east, south-east
        boxes = [None if i in drop else box for i, box in enumerate(boxes)]
    ranges: list[tuple[int, int] | None] = []
    last = 0
    for i, box in enumerate(boxes):
        # A zeroed box is skipped; so is one equal to the box searched last
        # (not to the centre: Redis compares only once it moved past it).
        if box is None or box == (0, 0):
            ranges.append(None)
            continue
        previous = boxes[last]
        if last and previous is not None and box == previous:
            ranges.append(None)
            continue
        ranges.append((_align(box), _align((box[0] + 1, box[1]))))
        last = i
    return ranges
