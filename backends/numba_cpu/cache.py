"""The disk cache: generated modules as real files, so numba's `cache=True` can keep their
machine code and a second process compiling the same graph skips LLVM.

An entry is `{cache_dir}/numba/sg_{key}.py`, where the key hashes the optimized graph
(`graph_hash`: ops, types, static shapes, constants), the generated source, and the
versions of numba, symgraph and this backend's own files (so an edited kernel never
loads stale machine code). The file starts with a checksum of its text: a truncated or
corrupt entry fails the check and is rewritten. Files are written to a temporary name
and then linked or renamed into place, so two processes compiling at once never see a
half-written module. When the cache directory is not writable the module is compiled in
memory (`exec`, no numba cache) after one warning.

numba keeps the machine code in `__pycache__/*.nbi` (index) and `*.nbc` (data) files and
unpickles them when it loads. Each one numba writes is sealed: `{file}.seal` holds an
HMAC-SHA256 of its name and bytes, keyed by a per-user secret (`{cache_dir}/numba-cache.key`,
mode 0600). Before numba may read such a file, a file without a seal, or whose seal does not
match, is deleted, so numba compiles again (`guard`; docs/reliability.md, the trust model).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import hmac
import io
import linecache
import os
import shutil
import sys
import threading
import types
import warnings
from typing import Any, Iterator

import numba

import symgraph
from symgraph.config import config
from symgraph.diskcache import seal, secret, source_salt, write_atomically
from symgraph.graph import Graph, graph_hash

_HERE = os.path.dirname(os.path.abspath(__file__))
_warned = False
_keys: dict[str, bytes] = {}  # generated module's path -> the secret sealing its numba files


def _backend_salt() -> str:
    """Versions, and the text of every file that shapes the generated code."""
    files = sorted(glob.glob(os.path.join(_HERE, "**", "*.py"), recursive=True))
    files.append(os.path.join(os.path.dirname(_HERE), "scalar_code.py"))
    return source_salt(f"{numba.__version__} {symgraph.__version__} {sys.version}", files)


SALT = _backend_salt()


# -- the backend's own kernels (rowops.py, runtime.py, ...) -----------------------------------

def _is_kernel_file(path: str) -> bool:
    path = os.path.abspath(path)
    return path.startswith(_HERE + os.sep) and not os.path.basename(path).startswith("sg_")


class _Salted:
    """A numba cache locator for this backend's own kernels, stamped with `SALT` instead of
    the defining file's modification time and size.

    Why: a kernel's cached machine code includes the functions it calls from other files
    (vecmath.py's exp inside rowops.py's softmax, ...). numba's own stamp would keep
    serving it after an edit of those files alone; SALT covers every file of the backend."""

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if not _is_kernel_file(py_file):
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]

    def get_source_stamp(self) -> str:
        return SALT


def _install_kernel_locators() -> None:
    """Put the salted locators first, in numba's order: NUMBA_CACHE_DIR, beside the
    source, the user-wide cache directory. The classes are found with or without the
    leading underscore older numbas gave them; a numba without them keeps its own."""
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    bases = [getattr(caching, name, None) or getattr(caching, f"_{name}", None)
             for name in ("UserProvidedCacheLocator", "InTreeCacheLocator",
                          "UserWideCacheLocator")]
    if classes is None or None in bases:
        return
    if not any(issubclass(c, _Salted) for c in classes):
        classes[:0] = [type(f"Salted{base.__name__.lstrip('_')}", (_Salted, base), {})
                       for base in bases]


_install_kernel_locators()


def checksum(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def entry_text(source: str) -> str:
    """The file's text: a checksum line, then the source."""
    return f"# symgraph-checksum: {checksum(source)}\n{source}"


def is_valid(text: str) -> bool:
    """Whether a cache file's text is intact (its first line is the checksum of the rest)."""
    first, _, rest = text.partition("\n")
    return first == f"# symgraph-checksum: {checksum(rest)}"


def cache_key(graph: Graph, source: str) -> str:
    digest = hashlib.sha256(f"{graph_hash(graph)} {SALT} {checksum(source)}".encode())
    return digest.hexdigest()[:40]


def ensure_file(path: str, text: str) -> str:
    """Make `path` hold `text`. Returns "valid" (it did already), "created" (it was
    missing) or "repaired" (it held a truncated, corrupt or foreign text)."""
    status = "created"
    for _ in range(3):
        try:
            with open(path, encoding="utf-8") as handle:
                existing = handle.read()
        except FileNotFoundError:
            existing = None
        except (UnicodeDecodeError, ValueError):
            existing = ""
        if existing == text:
            return "valid" if status == "created" and existing is not None else status
        if existing is not None:
            status = "repaired"  # never trust it, even when its own checksum holds
        write_atomically(path, text, replace=existing is not None)
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return status
    raise OSError(f"could not write the cache entry {path}")


_import_lock = threading.Lock()


def _import_file(name: str, path: str, text: str) -> types.ModuleType:
    """Import the entry once per process, from `text`, the file's checked contents, compiled
    under its path (tracebacks and numba's cache read the file). Not through the import
    system, which would write a bytecode file beside it that nothing checks: a truncated
    one broke every later process. The module enters `sys.modules` (where numba's cache
    finds it) only once it has run: threads compiling the same new graph at once never see
    a half-initialized module (found by test_faults: "has no attribute 'entry'")."""
    with _import_lock:
        if name in sys.modules:
            return sys.modules[name]
        module = _run(name, path, text)
        sys.modules[name] = module
        return module


def _run(name: str, filename: str, text: str) -> types.ModuleType:
    """A module `name` made by running `text`, compiled under `filename`."""
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(text, filename, "exec"), module.__dict__)
    return module


def _exec_in_memory(name: str, source: str) -> types.ModuleType:
    filename = f"<symgraph generated {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return _run(name, filename, source)


def load(graph: Graph, source: str) -> tuple[types.ModuleType, str | None, str]:
    """The generated module, imported from the disk cache, or compiled in memory when the
    cache directory cannot be written. Returns (module, path or None, entry status: see
    `ensure_file`, or "memory")."""
    global _warned
    key = cache_key(graph, source)
    name = f"sg_{key}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None):
        module = sys.modules[name]
        return module, module.__file__, "valid"
    directory = os.path.join(config.cache_dir, "numba")
    path = os.path.join(directory, f"{name}.py")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _check_private(directory)
        _keys[path] = secret(config.cache_dir)
        status = ensure_file(path, entry_text(source))
    except OSError as error:
        if not _warned:
            _warned = True
            warnings.warn(f"symgraph: the cache directory {config.cache_dir!r} cannot be "
                          f"used ({error}); compiling in memory without a disk cache. "
                          "Set SYMGRAPH_CACHE_DIR to a writable directory.", stacklevel=4)
        return _exec_in_memory(name, source), None, "memory"
    module = _import_file(name, path, entry_text(source))
    for value in vars(module).values():  # inner graphs' functions, compiled with `entry`
        if _defined_in(value, path):  # not the kernels it imports: they keep their own cache
            guard(value)
    return module, path, status


def _defined_in(value: Any, path: str) -> bool:
    """Whether `value` is a numba dispatcher of a function written in the file `path`."""
    code = getattr(getattr(value, "py_func", None), "__code__", None)
    return hasattr(value, "_cache") and code is not None and code.co_filename == path


def _check_private(directory: str) -> None:
    """Refuse a cache directory another user could write: numba unpickles its index files,
    so only a directory that this user alone can write is trusted (see
    docs/reliability.md). Raises PermissionError, which makes `load` compile in memory."""
    if not hasattr(os, "getuid"):
        return
    for folder in (directory, os.path.join(directory, "__pycache__")):
        if not os.path.isdir(folder):
            continue
        info = os.stat(folder)
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise PermissionError(f"{folder} is owned by another user or writable by group or "
                                  "others, so its cached code is not trusted")


def forget(path: str) -> None:
    """Delete numba's cached machine code for the module at `path` (used after a failed
    load, e.g. a corrupt index)."""
    base = os.path.splitext(os.path.basename(path))[0]
    for stale in glob.glob(os.path.join(os.path.dirname(path), "__pycache__", f"{base}.*")):
        try:
            os.unlink(stale)
        except OSError:
            pass


# -- sealing numba's own cache files ----------------------------------------------------------

def _verify(key: bytes, path: str) -> None:
    """Delete numba's cache file `path` unless its seal matches its bytes (numba then finds
    no file and compiles)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return
    except OSError:  # not a file (a directory in its place): as good as corrupt
        data = None
    try:
        with open(f"{path}.seal", encoding="ascii") as handle:
            recorded = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if data is not None and hmac.compare_digest(recorded, seal(key, path, data)):
        return
    for stale in (path, f"{path}.seal"):
        if os.path.isdir(stale) and not os.path.islink(stale):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)


def guard(dispatcher: Any) -> None:
    """Make a numba dispatcher's disk cache verify every index/data file before numba
    unpickles it, and seal every file numba writes. A dispatcher whose cache looks
    different (another numba) loses its disk cache instead."""
    files = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    module_path = dispatcher.py_func.__code__.co_filename
    key = _keys.get(module_path)
    needed = ("_load_index", "_load_data", "_open_for_write", "_index_path", "_data_path")
    if files is None or key is None or not all(hasattr(files, n) for n in needed):
        from numba.core.caching import NullCache

        if getattr(dispatcher, "_cache", None) is not None:
            dispatcher._cache = NullCache()
        return
    if getattr(files, "_symgraph_sealed", False):
        return
    load_index, load_data, open_for_write = (files._load_index, files._load_data,
                                             files._open_for_write)

    def checked_load_index() -> Any:
        _verify(key, files._index_path)
        return load_index()

    def checked_load_data(name: str) -> Any:
        _verify(key, files._data_path(name))
        return load_data(name)

    @contextlib.contextmanager
    def sealed_open_for_write(path: str) -> Iterator[io.BytesIO]:
        buffer = io.BytesIO()
        yield buffer
        data = buffer.getvalue()
        with open_for_write(path) as handle:
            handle.write(data)
        write_atomically(f"{path}.seal", seal(key, path, data), replace=True)

    files._load_index = checked_load_index
    files._load_data = checked_load_data
    files._open_for_write = sealed_open_for_write
    files._symgraph_sealed = True
    _load_without_refresh(dispatcher._cache)


def start_threads_on_load(dispatcher: Any) -> None:
    """Start numba's thread pool before a parallel entry's cached machine code is loaded.

    Why: the parallel row kernels inside that code call the pool's functions, whose
    addresses numba registers with LLVM when it starts the pool: when it compiles parallel
    code or loads a parallel function's own cache, not when it loads a function that
    merely calls one (a parallel entry without loops of its own is compiled without
    parallel passes). Loaded before, the calls pointed nowhere: SIGSEGV on the first call.
    Lazily, on the parallel entry's first use: starting the pool costs ~25 ms, which a
    warm start that never runs in parallel does not pay."""
    numba_cache = getattr(dispatcher, "_cache", None)
    load = getattr(numba_cache, "load_overload", None)
    if load is None:
        return

    def load_overload(sig: Any, target_context: Any) -> Any:
        numba.get_num_threads()  # starts the pool (once per process) and links its symbols
        return load(sig, target_context)
    numba_cache.load_overload = load_overload


def _load_without_refresh(numba_cache: Any) -> None:
    """Load cached machine code without numba's refresh of the whole target context.

    numba's `Cache.load_overload` first refreshes the target context: it imports and
    installs every lowering registry (~0.25 s in a fresh process), which only compiling
    needs. Running machine code loaded from the cache needs numba's runtime (NRT)
    initialized, nothing more; numba's compiler still refreshes before any compile. A
    numba without the methods relied on here keeps its own behaviour."""
    if not all(hasattr(numba_cache, n) for n in ("_load_overload",
                                                "_guard_against_spurious_io_errors")):
        return
    from numba.core.runtime import rtsys

    def load_overload(sig: Any, target_context: Any) -> Any:
        rtsys.initialize(target_context)
        with numba_cache._guard_against_spurious_io_errors():
            return numba_cache._load_overload(sig, target_context)
        return None  # the guard swallowed an I/O error: numba compiles instead

    numba_cache.load_overload = load_overload
