"""Reading a message after DATA, bounded: kept up to the size limit, only counted beyond it.

aiosmtpd keeps one object per line (a 25 MB message of empty lines would take a gigabyte);
this keeps one buffer, un-dot-stuffs as it reads, drops the message once it is over the limit
but reads on to the final dot (the client gets its 552 after it, as RFC 5321 wants), and lets
the other sessions run when it has held the event loop for a while (a burst of short lines
could otherwise hold it for a second). Not at every line: each turn may hand the GIL to another
thread (the lab shares its process with the client it measures).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum

from probe.model.listener import WIRE_KEPT

YIELD_AFTER = 0.05  # seconds of reading before the other sessions get a turn


class DataEnd(enum.Enum):
    COMPLETE = "complete"
    TOO_BIG = "too-big"  # over the size limit: 552
    LINE_TOO_LONG = "line-too-long"  # a line over the reader's limit: 500, as aiosmtpd does


@dataclasses.dataclass(frozen=True)
class DataRead:
    content: bytes  # the message, empty unless COMPLETE
    size: int  # bytes received after un-dot-stuffing, counted past the limit too
    end: DataEnd
    wire: bytes = b""  # the first WIRE_KEPT octets as received, the final dot line included


async def read_data(reader: asyncio.StreamReader, max_size: int | None) -> DataRead:
    """Read up to the lone dot; the content is kept only while it fits in `max_size`."""
    body = bytearray()
    wire = bytearray()
    size = 0
    end = DataEnd.COMPLETE
    in_line = False  # the last piece ended inside an over-long line
    loop = asyncio.get_running_loop()
    turn = loop.time()
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as error:  # a line longer than the reader holds
            line = await reader.read(error.consumed)
            if end is DataEnd.COMPLETE:
                end = DataEnd.LINE_TOO_LONG
        if len(wire) < WIRE_KEPT:
            wire += line[: WIRE_KEPT - len(wire)]
        if not in_line:
            if line == b".\r\n":
                break
            if line.startswith(b"."):
                line = line[1:]
        in_line = not line.endswith(b"\r\n")
        size += len(line)
        if end is DataEnd.COMPLETE and max_size is not None and size > max_size:
            end = DataEnd.TOO_BIG
        if end is DataEnd.COMPLETE:
            body += line
        elif body:
            body = bytearray()
        if loop.time() - turn > YIELD_AFTER:
            await asyncio.sleep(0)
            turn = loop.time()
    content = bytes(body) if end is DataEnd.COMPLETE else b""
    return DataRead(content, size, end, bytes(wire))


CHUNK_PIECE = 64 * 1024  # octets of a BDAT chunk read at a time


async def read_chunk(reader: asyncio.StreamReader, octets: int, room: int | None) -> bytes | None:
    """A BDAT chunk of exactly `octets` (RFC 3030: they follow the command whatever its reply
    will be), read in pieces; None when it does not fit in `room` (it is read and dropped)."""
    kept = bytearray()
    fits = room is None or octets <= room
    left = octets
    while left:
        piece = await reader.readexactly(min(left, CHUNK_PIECE))
        left -= len(piece)
        if fits:
            kept += piece
    return bytes(kept) if fits else None
