"""Where a store lives: a local folder, or a URL that fsspec and zarr write (``s3://…``, ``gs://…``).

A path or a ``file://`` URL is a local folder (``Path``); any other URL becomes a
``Remote``: the URL plus its storage options. Credentials and endpoint come from the
backend's own environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, …, read on every machine that touches the store, workers
included); ``--storage-option KEY=VALUE`` adds options that travel with each task.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from xorsweep.errors import UserError

#: storage options given on the command line (``--storage-option``), for every Remote made here
_DEFAULT_OPTIONS: dict = {}


def set_storage_options(pairs) -> dict:
    """``KEY=VALUE`` strings (a value is read as JSON when it parses: ``anon=true``) as the
    storage options of every URL store opened afterwards."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--storage-option {pair!r}: write KEY=VALUE, e.g. endpoint_url=http://127.0.0.1:9000")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    _DEFAULT_OPTIONS.clear()
    _DEFAULT_OPTIONS.update(out)
    return out


@dataclass(frozen=True)
class Remote:
    """A store at a URL. Picklable: a Dask task carries it (with its options) to a worker."""

    url: str
    options: tuple = ()  # sorted (key, value) pairs

    def __str__(self):
        return self.url

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def protocol(self) -> str:
        return self.url.split("://", 1)[0]

    @cached_property
    def _fs_root(self):
        import fsspec

        try:
            return fsspec.url_to_fs(self.url, **dict(self.options))
        except ImportError as e:
            extra = " (pip install 'xorsweep[s3]', on every worker too)" if self.protocol in ("s3", "s3a") else ""
            raise UserError(f"store {self.url}: no filesystem for {self.protocol}:// here: {e}{extra}") from None
        except ValueError as e:
            raise UserError(f"store {self.url}: {e}") from None

    @property
    def fs(self):
        return self._fs_root[0]

    def key(self, *parts) -> str:
        """The backend's path of an object under the store (no parts: the store's prefix)."""
        return "/".join((self._fs_root[1].rstrip("/"),) + parts)

    @property
    def sibling_lock(self) -> str:
        """``<store>.lock`` beside the store (outside its prefix), as for a local store."""
        return self.key() + ".lock"

    def zarr_store(self, read_only=False):
        from zarr.storage import FsspecStore

        self._fs_root  # a missing backend (s3fs not installed, e.g. on a worker): one line
        return FsspecStore.from_url(self.url, storage_options=dict(self.options) or None, read_only=read_only)

    def __getstate__(self):
        return {"url": self.url, "options": self.options}

    def __setstate__(self, state):
        object.__setattr__(self, "url", state["url"])
        object.__setattr__(self, "options", state["options"])


def as_location(path):
    """A Remote for a URL (``file://`` gives a local path), else ``path`` unchanged."""
    if isinstance(path, Remote) or not isinstance(path, str) or "://" not in path:
        return path
    scheme, rest = path.split("://", 1)
    if scheme == "file":
        return rest
    if not scheme.replace("+", "").replace("-", "").isalnum():
        return path
    url = path.rstrip("/")
    if not rest.strip("/") or "/" not in rest.strip("/"):
        raise UserError(f"store {path}: give a bucket and a name, e.g. {scheme}://bucket/sweep.zarr")
    return Remote(url, tuple(sorted(_DEFAULT_OPTIONS.items())))


def is_remote(path) -> bool:
    return isinstance(as_location(path), Remote)


def backend_error(loc: Remote, e: BaseException) -> UserError:
    """One line for a failure of the backend (no bucket, no credentials, unreachable)."""
    name = type(e).__name__
    text = " ".join(str(e).split())[:200]
    if isinstance(e, FileNotFoundError):
        bucket = loc.key().split("/", 1)[0]
        hint = f"does bucket {bucket!r} exist?"
    elif "Credentials" in name or "credentials" in text.lower():
        hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile) on this machine and every worker"
    elif isinstance(e, PermissionError) or "AccessDenied" in text or "Forbidden" in text:
        hint = "the credentials may not read or write there"
    else:
        hint = "check the URL, AWS_ENDPOINT_URL and the network"
    return UserError(f"store {loc.url}: cannot reach it ({name}: {text}); {hint}")

