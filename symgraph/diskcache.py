"""Files under `config.cache_dir` that must survive crashes, races and tampering.

Small tools the caches share (the optimized graphs of `symgraph/rewrite/store.py`,
the numba backend's generated modules and machine code):

- `source_salt`: a stamp of the code a cache entry depends on.
- `write_atomically`: a file appears whole or not at all. It is written under a temporary
  name, then linked (first writer wins) or renamed (replace) into place.
- `secret`: this user's key, 32 random bytes in `{cache_dir}/numba-cache.key` (mode 0600).
- `write_sealed` / `read_sealed`: a file that starts with an HMAC-SHA256 of its name and
  payload under that key. A truncated, corrupt or forged file reads as missing, so what
  is unpickled from the cache was written by this user's own symgraph.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from typing import Iterable

SECRET_NAME = "numba-cache.key"  # its first user named it; kept so existing caches stay valid
SEAL_SIZE = 64  # hex digits of an HMAC-SHA256


def source_salt(versions: str, paths: Iterable[str]) -> str:
    """A hash of `versions` and the text of every file in `paths`: a cache stamped with it
    goes stale when any of that code changes, not only when a version does."""
    digest = hashlib.sha256(versions.encode())
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def write_atomically(path: str, data: str | bytes, replace: bool, mode: int = 0o666) -> None:
    """Write `data` aside (a new file of `mode`, before the umask), then move it into place:
    replacing what is there, or else linking it only where no file is there yet."""
    temp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    try:
        if replace:
            os.replace(temp, path)
            return
        try:
            os.link(temp, path)  # fails if another process got there first: keep theirs
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def secret(root: str) -> bytes:
    """This user's key for sealing cache files: 32 random bytes in a file of mode 0600 in the
    cache root, created once (atomically: written aside, then linked into place). Raises
    PermissionError for a key file another user owns or others can read."""
    path = os.path.join(root, SECRET_NAME)
    if not os.path.exists(path):  # another process may make one first: theirs is kept
        os.makedirs(root, mode=0o700, exist_ok=True)
        write_atomically(path, secrets.token_bytes(32), replace=False, mode=0o600)
    info = os.stat(path)
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
        raise PermissionError(f"{path} is owned by another user or readable by others, so the "
                              "cache it keys is not trusted")
    with open(path, "rb") as handle:
        key = handle.read()
    if len(key) != 32:
        raise PermissionError(f"{path} is not a symgraph cache key (32 bytes); delete it")
    return key


def seal(key: bytes, path: str, data: bytes) -> str:
    """The HMAC of a file's name and bytes (the name: a file cannot stand in for another)."""
    name = os.path.basename(path).encode()
    return hmac.new(key, name + b"\0" + data, hashlib.sha256).hexdigest()


def write_sealed(key: bytes, path: str, data: bytes) -> None:
    """Write `data` to `path` atomically, preceded by its seal, replacing what is there."""
    write_atomically(path, seal(key, path, data).encode() + b"\n" + data, replace=True)


def read_sealed(key: bytes, path: str) -> bytes | None:
    """The payload of a sealed file, or None when it is missing or its seal does not match
    (truncated, corrupt, or not written with this key)."""
    try:
        with open(path, "rb") as handle:
            blob = handle.read()
    except FileNotFoundError:
        return None
    recorded, data = blob[:SEAL_SIZE], blob[SEAL_SIZE + 1:]
    if blob[SEAL_SIZE:SEAL_SIZE + 1] != b"\n":
        return None
    if not hmac.compare_digest(recorded, seal(key, path, data).encode()):
        return None
    return data
