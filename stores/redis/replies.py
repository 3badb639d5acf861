"""Reply conversions of the client methods, keyed by command name.

``store.execute`` returns replies as the server sent them; the client's
methods (``client.hgetall`` ...) pass them through the converter registered
here, which sees the reply and the command's arguments (``WITHSCORES``
changes a reply's shape).  RESP2 and RESP3 shapes give the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

Converter = Callable[[Any, Sequence[Any]], Any]


def _word(arg: Any) -> str:
    return (arg.decode("latin-1") if isinstance(arg, bytes) else str(arg)).upper()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def to_bool(reply: Any, args: Sequence[Any] = ()) -> Any:
    """``1``/``0`` and ``OK`` to ``True``/``False``; ``None`` stays ``None``."""
    if reply is None:
        return None
    if isinstance(reply, bytes | str):
        return _text(reply) in ("OK", "PONG") or reply
    return bool(reply)


def ok_or_value(reply: Any, args: Sequence[Any] = ()) -> Any:
    """``OK`` to ``True``; anything else (``SET ... GET``'s old value, nil) as is."""
    if reply == b"OK" or reply == "OK":
        return True
    return reply


def to_float(reply: Any, args: Sequence[Any] = ()) -> float | None:
    return None if reply is None else float(reply)


def to_floats(reply: Any, args: Sequence[Any] = ()) -> list[float | None]:
    return [None if r is None else float(r) for r in reply]


def to_int(reply: Any, args: Sequence[Any] = ()) -> int | None:
    return None if reply is None else int(reply)


def pairs_to_dict(reply: Any, args: Sequence[Any] = ()) -> dict[Any, Any]:
    if isinstance(reply, dict):
        return reply
    it = iter(reply)
    return dict(zip(it, it, strict=True))


def to_set(reply: Any, args: Sequence[Any] = ()) -> set[Any]:
    return set(reply)


def _scored(reply: Any) -> list[tuple[Any, float]]:
    if not reply:
        return []
    if isinstance(reply[0], list):  # RESP3: [[member, score], ...]
        return [(m, float(s)) for m, s in reply]
    it = iter(reply)
    return [(m, float(s)) for m, s in zip(it, it, strict=True)]


def with_scores(reply: Any, args: Sequence[Any]) -> Any:
    """``WITHSCORES`` replies to ``[(member, score), ...]``."""
    if reply is None or not any(_word(a) == "WITHSCORES" for a in args):
        return reply
    return _scored(reply)


def popped_scores(reply: Any, args: Sequence[Any]) -> Any:
    """ZPOPMIN/ZPOPMAX: ``[(member, score), ...]``."""
    if reply and not isinstance(reply[0], list) and len(args) <= 2 and len(reply) == 2:
        return [(reply[0], float(reply[1]))]
    return _scored(reply)


def blocking_zpop(reply: Any, args: Sequence[Any]) -> Any:
    """BZPOPMIN/BZPOPMAX: ``(key, member, score)`` or ``None`` on timeout."""
    if reply is None:
        return None
    key, member, score = reply
    return key, member, float(score)


def mpop_scores(reply: Any, args: Sequence[Any]) -> Any:
    """ZMPOP/BZMPOP: ``(key, [(member, score), ...])``."""
    if reply is None:
        return None
    key, items = reply
    return key, _scored(items)


def hrandfield(reply: Any, args: Sequence[Any]) -> Any:
    if reply is None or not any(_word(a) == "WITHVALUES" for a in args):
        return reply
    if reply and isinstance(reply[0], list):
        return [tuple(p) for p in reply]
    it = iter(reply)
    return list(zip(it, it, strict=True))


def scan(reply: Any, args: Sequence[Any]) -> tuple[int, list[Any]]:
    cursor, items = reply
    return int(cursor), items


def hscan(reply: Any, args: Sequence[Any]) -> tuple[int, dict[Any, Any]]:
    cursor, items = reply
    return int(cursor), pairs_to_dict(items)


def zscan(reply: Any, args: Sequence[Any]) -> tuple[int, list[tuple[Any, float]]]:
    cursor, items = reply
    return int(cursor), _scored(items)


def geopos(reply: Any, args: Sequence[Any] = ()) -> list[tuple[float, float] | None]:
    """GEOPOS: ``[(lon, lat), None, ...]`` (RESP2 sends text, RESP3 doubles)."""
    return [None if p is None else (float(p[0]), float(p[1])) for p in reply]


def geo_search(reply: Any, args: Sequence[Any]) -> Any:
    """GEOSEARCH/GEORADIUS ``WITH*`` items: distance and coordinates as floats.

    Each item is ``[member, dist?, hash?, (lon, lat)?]`` in that order (the
    server's); RESP2 sends coordinates as text, RESP3 as doubles.
    """
    words = {_word(a) for a in args}
    with_dist, with_hash = "WITHDIST" in words, "WITHHASH" in words
    if reply is None or not (with_dist or with_hash or "WITHCOORD" in words):
        return reply
    items = []
    for member, *rest in reply:
        item: list[Any] = [member]
        if with_dist:
            item.append(float(rest.pop(0)))
        if with_hash:
            item.append(int(rest.pop(0)))
        if rest:
            item.append((float(rest[0][0]), float(rest[0][1])))
        items.append(item)
    return items


def streams(reply: Any, args: Sequence[Any] = ()) -> dict[Any, Any] | None:
    """XREAD/XREADGROUP: ``{stream: [[id, [field, value, ...]], ...]}`` or ``None``.

    RESP3 sends a map, RESP2 a list of ``[stream, entries]`` pairs.
    """
    if reply is None or isinstance(reply, dict):
        return reply
    return {stream: entries for stream, entries in reply}


def zadd(reply: Any, args: Sequence[Any]) -> Any:
    """ZADD: a count, or with ``INCR`` the new score as a float (text in RESP2)."""
    if any(_word(a) == "INCR" for a in args[2:]):
        return to_float(reply)
    return reply


def dicts(reply: Any, args: Sequence[Any] = ()) -> list[dict[Any, Any]]:
    """XINFO GROUPS/CONSUMERS: a list of dicts (RESP3 maps, RESP2 flat pairs)."""
    return [pairs_to_dict(item) for item in reply]


def time_reply(reply: Any, args: Sequence[Any]) -> tuple[int, int]:
    return int(reply[0]), int(reply[1])


def _info_value(value: str) -> Any:
    if "," in value and "=" in value:
        return {k: _info_value(v) for k, _, v in (p.partition("=") for p in value.split(","))}
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def info(reply: Any, args: Sequence[Any] = ()) -> dict[str, Any]:
    """INFO text to a flat ``{field: value}`` dict with numbers converted."""
    result: dict[str, Any] = {}
    for line in _text(reply).splitlines():
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep:
            result[key] = _info_value(value)
    return result


def client_list(reply: Any, args: Sequence[Any] = ()) -> list[dict[str, str]]:
    return [client_info(line) for line in _text(reply).splitlines() if line]


def client_info(reply: Any, args: Sequence[Any] = ()) -> dict[str, str]:
    return dict(p.partition("=")[::2] for p in _text(reply).split())


def numsub(reply: Any, args: Sequence[Any]) -> list[tuple[Any, int]]:
    if isinstance(reply, dict):
        return list(reply.items())
    it = iter(reply)
    return list(zip(it, it, strict=True))


_BOOL = ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "SETNX", "HSETNX", "MSETNX",
         "MOVE", "RENAMENX", "SISMEMBER", "SMOVE", "HEXISTS", "COPY", "PING",
         "SCRIPT|FLUSH", "FLUSHDB", "FLUSHALL", "SWAPDB", "MSET", "RENAME", "SETEX", "PSETEX",
         "LSET", "LTRIM", "HMSET", "PFMERGE", "RESTORE", "CONFIG|SET", "CONFIG|RESETSTAT",
         "CLIENT|SETNAME", "XGROUP|CREATE", "XGROUP|SETID", "FUNCTION|FLUSH",
         "FUNCTION|DELETE", "SCRIPT|KILL", "CLIENT|PAUSE", "CLIENT|UNPAUSE")
_SCORED = ("ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZUNION", "ZINTER",
           "ZDIFF", "ZRANDMEMBER")

CONVERTERS: Final[dict[str, Converter]] = {
    **dict.fromkeys(_BOOL, to_bool),
    **dict.fromkeys(_SCORED, with_scores),
    **dict.fromkeys(("SMEMBERS", "SINTER", "SUNION", "SDIFF"), to_set),
    **dict.fromkeys(("HGETALL", "CONFIG|GET", "XINFO|STREAM"), pairs_to_dict),
    **dict.fromkeys(("INCRBYFLOAT", "HINCRBYFLOAT", "ZINCRBY", "ZSCORE", "GEODIST"), to_float),
    **dict.fromkeys(("ZPOPMIN", "ZPOPMAX"), popped_scores),
    **dict.fromkeys(("BZPOPMIN", "BZPOPMAX"), blocking_zpop),
    **dict.fromkeys(("ZMPOP", "BZMPOP"), mpop_scores),
    **dict.fromkeys(("SCAN", "SSCAN"), scan),
    "SET": ok_or_value,
    "ZMSCORE": to_floats,
    "HRANDFIELD": hrandfield,
    "HSCAN": hscan,
    "ZSCAN": zscan,
    **dict.fromkeys(("GEOSEARCH", "GEORADIUS", "GEORADIUS_RO", "GEORADIUSBYMEMBER",
                     "GEORADIUSBYMEMBER_RO"), geo_search),
    **dict.fromkeys(("XREAD", "XREADGROUP"), streams),
    **dict.fromkeys(("XINFO|GROUPS", "XINFO|CONSUMERS"), dicts),
    "ZADD": zadd,
    "GEOPOS": geopos,
    "TIME": time_reply,
    "INFO": info,
    "CLIENT|LIST": client_list,
    "CLIENT|INFO": client_info,
    "PUBSUB|NUMSUB": numsub,
}


# ----------------------------------------------------------- namespace strips
def _strip_first(reply: Any, strip: Callable[[Any], Any]) -> Any:
    if reply is None:
        return None
    return (strip(reply[0]), *reply[1:]) if isinstance(reply, tuple) else [
        strip(reply[0]), *reply[1:]]


def _strip_streams(reply: Any, strip: Callable[[Any], Any]) -> Any:
    if reply is None:
        return None
    if isinstance(reply, dict):
        return {strip(k): v for k, v in reply.items()}
    return [[strip(k), v] for k, v in reply]


def _strip_scan(reply: Any, strip: Callable[[Any], Any]) -> Any:
    cursor, keys = reply
    return [cursor, [strip(k) for k in keys]]


def _strip_all(reply: Any, strip: Callable[[Any], Any]) -> Any:
    return [strip(k) for k in reply]


def _strip_numsub(reply: Any, strip: Callable[[Any], Any]) -> Any:
    if isinstance(reply, dict):
        return {strip(k): v for k, v in reply.items()}
    return [strip(v) if i % 2 == 0 else v for i, v in enumerate(reply)]


_KEY_REPLIES: Final[dict[str, Callable[[Any, Callable[[Any], Any]], Any]]] = {
    **dict.fromkeys(("BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "LMPOP", "BLMPOP", "ZMPOP",
                     "BZMPOP"), _strip_first),
    **dict.fromkeys(("XREAD", "XREADGROUP"), _strip_streams),
    "SCAN": _strip_scan,
    "KEYS": _strip_all,
    "PUBSUB|CHANNELS": _strip_all,
    "PUBSUB|NUMSUB": _strip_numsub,
}


def strip_keys(name: str, reply: Any, strip: Callable[[Any], Any]) -> Any:
    """Remove a namespace prefix (via ``strip``) from key names in ``reply``."""
    fn = _KEY_REPLIES.get(name)
    if fn is None or isinstance(reply, Exception):
        return reply
    return fn(reply, strip)
