"""LCS: the dynamic-programming table and reply walk ported from Redis' t_string.c."""

from __future__ import annotations

from array import array

from ..reply import integer, map_reply

__all__ = ["lcs_reply"]


def lcs_reply(a: bytes, b: bytes, want_len: bool, want_idx: bool, with_len: bool,
              min_len: int, resp3: bool) -> bytes:
    """The encoded reply of ``LCS`` on strings ``a`` and ``b``."""
    alen, blen = len(a), len(b)
    width = blen + 1
    table = array("I", bytes(4 * (alen + 1) * width))
    for i in range(1, alen + 1):
        ai = a[i - 1]
        row, prev = i * width, (i - 1) * width
        for j in range(1, width):
            if ai == b[j - 1]:
                table[row + j] = table[prev + j - 1] + 1
            else:
                up, left = table[prev + j], table[row + j - 1]
                table[row + j] = up if up > left else left
    idx = table[alen * width + blen]
    if want_len:
        return integer(idx)
    result = bytearray(idx)
    matches: list[bytes] = []
    astart, aend, bstart, bend = alen, 0, 0, 0
    i, j = alen, blen
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if astart == alen:
                astart = aend = i - 1
                bstart = bend = j - 1
            elif astart == i and bstart == j:
                astart -= 1
                bstart -= 1
            else:
                emit = True
            if astart == 0 or bstart == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if table[(i - 1) * width + j] > table[i * width + j - 1]:
                i -= 1
            else:
                j -= 1
            if astart != alen:
                emit = True
        if emit:
            match_len = aend - astart + 1
            if min_len == 0 or match_len >= min_len:
                parts = [b"*2\r\n:%d\r\n:%d\r\n" % (astart, aend),
                         b"*2\r\n:%d\r\n:%d\r\n" % (bstart, bend)]
                if with_len:
                    parts.append(b":%d\r\n" % match_len)
                matches.append(b"*%d\r\n" % len(parts) + b"".join(parts))
            astart = alen
    if want_idx:
        body = b"*%d\r\n%s" % (len(matches), b"".join(matches))
        return map_reply([(b"$7\r\nmatches\r\n", body),
                          (b"$3\r\nlen\r\n", integer(table[alen * width + blen]))], resp3)
    return b"$%d\r\n%s\r\n" % (len(result), bytes(result))
