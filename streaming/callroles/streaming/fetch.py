"""Recording URI -> local path or bytes, only from allowed roots and hosts, within limits.

Events carry a URI, never audio. The worker reads the recording itself, so the URI is checked
before anything is opened: a path must resolve (symlinks followed) inside an allowed root, an
http(s) URL must name an allowed host, and no more than ``max_bytes`` are ever read.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from yarl import URL

from callroles.base.errors import InputError
from callroles.streaming.settings import StreamingSettings

log = logging.getLogger(__name__)


class FetchError(InputError):
    """The recording could not be fetched (network error, HTTP status)."""

    code = "fetch_failed"
    stage = "fetch"


class UriSchemeError(FetchError):
    code = "uri_scheme"


class UriNotAllowedError(FetchError):
    code = "uri_not_allowed"


class RecordingMissingError(FetchError):
    code = "recording_missing"


class RecordingTooLargeError(FetchError):
    code = "recording_too_large"


def local_path(uri: str) -> Path | None:
    """The local path a URI names (plain path or file://), or None for http(s)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise UriNotAllowedError(f"file URI on another host is not allowed: {uri}")
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # "C:" drive letters are paths, not schemes
        raise UriSchemeError(
            f"unsupported URI scheme {parts.scheme!r} in {uri} (use a path, file:// or http(s)://)"
        )
    return Path(uri)


def check_path(path: Path, settings: StreamingSettings) -> Path:
    """Resolve and check a local recording path against allowed roots and the size limit."""
    roots = [Path(r).resolve() for r in settings.allowed_roots]
    if not path.is_absolute():
        path = (roots[0] if roots else Path.cwd()) / path
    real = path.resolve()
    if roots and not any(real.is_relative_to(root) for root in roots):
        raise UriNotAllowedError(
            f"{path} is outside the allowed roots ({', '.join(map(str, roots))}); "
            "set CALLROLES_ALLOWED_ROOTS to admit it"
        )
    if not real.is_file():
        raise RecordingMissingError(f"no recording at {path}")
    size = real.stat().st_size
    if size > settings.max_bytes:
        raise RecordingTooLargeError(
            f"{path} has {size} bytes, above max_bytes={settings.max_bytes}"
        )
    return real


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Exact host names or shell patterns such as ``*.pbx.example.com``."""
    host = host.lower()
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)


MAX_REDIRECTS = 5


def _check_url(url: str, settings: StreamingSettings) -> None:
    """An http(s) URL on an allowed host, else UriSchemeError / UriNotAllowedError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UriSchemeError(f"unsupported URI scheme {parts.scheme!r} in {url} (use http(s)://)")
    host = parts.hostname or ""
    if not host_allowed(host, settings.allowed_hosts):
        raise UriNotAllowedError(
            f"host {host!r} is not in the allowed hosts; set CALLROLES_ALLOWED_HOSTS to admit it"
        )


async def fetch_http(url: str, settings: StreamingSettings) -> bytes:
    """Download at most ``max_bytes`` from an allowed host, with a timeout.

    Redirects are followed by hand (at most MAX_REDIRECTS) so every hop is checked against
    the allowed hosts: an allowed server must not be able to send the worker elsewhere.
    """
    _check_url(url, settings)
    timeout = aiohttp.ClientTimeout(total=settings.fetch_timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _hop in range(MAX_REDIRECTS + 1):
                async with session.get(url, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location")
                        if not location:
                            raise FetchError(
                                f"GET {url} answered HTTP {resp.status} without a Location"
                            )
                        url = str(resp.url.join(URL(location)))
                        _check_url(url, settings)
                        continue
                    return await _read_body(resp, url, settings)
            raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise FetchError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


async def _read_body(resp: Any, url: str, settings: StreamingSettings) -> bytes:
    if resp.status == 404:
        raise RecordingMissingError(f"no recording at {url} (HTTP 404)")
    if resp.status >= 400:
        raise FetchError(f"GET {url} answered HTTP {resp.status}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        total += len(chunk)
        if total > settings.max_bytes:
            raise RecordingTooLargeError(f"{url} is larger than max_bytes={settings.max_bytes}")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(uri: str, settings: StreamingSettings) -> Path | bytes:
    """The recording named by ``uri``: a checked local Path, or the downloaded bytes."""
    path = local_path(uri)
    if path is not None:
        return check_path(path, settings)
    return await fetch_http(uri, settings)


def warn_if_open(settings: StreamingSettings) -> None:
    """Say once at start-up when any local path may be read (development default)."""
    if not settings.allowed_roots:
        log.warning(
            "CALLROLES_ALLOWED_ROOTS is empty: this worker reads recordings from any local path "
            "(pid %d); set it in production",
            os.getpid(),
        )
