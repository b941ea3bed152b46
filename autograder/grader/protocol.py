"""Framing for the private pipes between the judge and a runner.

Judge -> runner frames carry a pickle (the runner trusts the judge). Runner -> judge frames carry a
small JSON header and raw payload bytes that the judge only ever loads with
`framework.load_sanitized` (torch's weights_only loader): the judge never unpickles anything the
student's process wrote.

Request ids: every judge -> runner request carries a fresh id from `new_request_id` (128 random bits)
and every reply echoes it in its header. The judge takes only the reply that carries the id of the
request it is waiting for and drops every other frame (one the student's code wrote into the reply
pipe, a stale reply to a request that timed out), so a forged frame cannot be read as the answer to a
later request. Student code runs inside the runner and can read the id of the request being served
(from the runner's frames or memory); that lets it answer the current request, which its own return
value does anyway. Ids of later requests do not exist yet when its code runs, and are unguessable.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import struct
import time
from collections.abc import Callable

__all__ = [
    "MAX_FRAME",
    "ChannelClosed",
    "ChannelTimeout",
    "ProtocolError",
    "new_request_id",
    "write_frame",
    "read_frame",
    "pack_reply",
    "unpack_reply",
]

MAX_FRAME = 512 * 1024 * 1024
_LEN = struct.Struct(">Q")
_HDR = struct.Struct(">I")
ID_BYTES = 16


def new_request_id() -> str:
    """A fresh, unpredictable id for one request (hex, 128 bits from `secrets`)."""
    return secrets.token_hex(ID_BYTES)


class ChannelClosed(EOFError):
    """The other end closed the pipe (the runner died or exited)."""


class ChannelTimeout(TimeoutError):
    """No complete frame arrived before the deadline."""


class ProtocolError(ValueError):
    """A malformed frame (garbage written to the reply pipe)."""


def write_frame(fd: int, body: bytes) -> None:
    """Write one length-prefixed frame to a blocking fd."""
    data = _LEN.pack(len(body)) + body
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None, alive: Callable[[], bool] | None = None) -> bytes:
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        if deadline is not None or alive is not None:
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                raise ChannelTimeout("deadline passed")
            ready, _, _ = select.select([fd], [], [], min(wait, 0.5))
            if not ready:
                if alive is not None and not alive():
                    raise ChannelClosed("the other process exited")
                continue
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None, alive: Callable[[], bool] | None = None) -> bytes:
    """Read one frame; `deadline` is a time.monotonic() value (None: wait forever); `alive` is polled."""
    (length,) = _LEN.unpack(_read_exact(fd, _LEN.size, deadline, alive))
    if length > MAX_FRAME:
        raise ProtocolError(f"frame of {length} bytes exceeds the limit")
    return _read_exact(fd, length, deadline, alive)


def pack_reply(header: dict, payload: bytes = b"") -> bytes:
    """Runner side: JSON header + payload."""
    head = json.dumps(header).encode()
    return _HDR.pack(len(head)) + head + payload


def unpack_reply(body: bytes) -> tuple[dict, bytes]:
    """Judge side: parse a reply without unpickling anything."""
    if len(body) < _HDR.size:
        raise ProtocolError("reply too short")
    (n,) = _HDR.unpack(body[: _HDR.size])
    if n > len(body) - _HDR.size:
        raise ProtocolError("reply header length is wrong")
    try:
        header = json.loads(body[_HDR.size : _HDR.size + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"reply header is not JSON ({err})") from None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise ProtocolError("reply header has no kind")
    return header, body[_HDR.size + n :]
