"""The one downloader: atomic, retried, sha256-pinned, bounded by one deadline, optionally validated.

`download()` writes a URL to a file; `fetch_bytes()` reads a small page (an index listing) into memory.
Both share one transfer loop:

- one overall deadline (seconds) covers the connects, every retry, its back-off pause and the body:
  each socket operation waits at most min(remaining, 30) s and the remaining time is checked between
  chunks, so a server that never answers or trickles bytes fails within the deadline;
- connection errors, timeouts, short bodies, HTTP 5xx, 408 and 429 are retried with a growing pause;
  other HTTP 4xx, local-file URL errors, a sha256 mismatch and a failed `validate` are not;
- the body goes to a temp file beside `dest` (rifebuild.core.files.atomic_path) that is renamed onto
  `dest` only after the whole body arrived, matched its pin and passed `validate(temp_path)`;
- progress is a tqdm bar on stderr (a rule that tees stderr to its log keeps it there too).

Every failure is a DownloadError: one sentence with the URL, the reason and `advice` (what to do).
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from rifebuild.core.errors import DownloadError
from rifebuild.core.files import atomic_path

CHUNK = 1 << 16
SOCKET_TIMEOUT = 30.0  # the most one connect or read may wait (less when the deadline is nearer)
ADVICE = "check the network and the URL, or download the file elsewhere and use that local copy"


class _Failure(Exception):
    """One failed attempt: `reason` is a short phrase; `retry` says whether another attempt may help."""

    def __init__(self, reason: str, retry: bool, deadline: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.deadline = reason, retry, deadline


def download(url: str, dest: Path | str, sha256: str | None = None, deadline: float = 600,
             retries: int = 3, progress: bool = True, validate: Callable[[Path], object] | None = None, *,
             advice: str = ADVICE, pin_name: str = "the sha256 pin", deadline_name: str | None = None,
             backoff: float = 1.0, headers: dict[str, str] | None = None) -> Path:
    """Fetch `url` into `dest`; nothing is left at `dest` unless the whole body arrived, matched
    `sha256` (if given) and passed `validate(temp_path)` (which raises a RifeBuildError, kept as is,
    to reject the file). `pin_name` and `deadline_name` name the config keys of the pin and the
    deadline in the messages."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the folder {dest.parent} for {url} ({_os_reason(exc)}); "
                            "fix its permissions or choose another path") from None
    want = sha256.strip().lower() if sha256 else None

    def attempt(end: float) -> Path:
        digest = hashlib.sha256()
        writing = True  # an OSError while writing is about the local file (network ones are _Failure by now)
        try:
            with atomic_path(dest) as tmp:
                with open(tmp, "wb") as out:
                    def sink(chunk: bytes) -> None:
                        out.write(chunk)
                        digest.update(chunk)

                    _transfer(url, headers, end, sink, dest.name if progress else None)
                got = digest.hexdigest()
                if want and got != want:
                    raise DownloadError(
                        f"{url}: the downloaded file has sha256 {got}, but {pin_name} pins {want}, so it was not "
                        f"kept; the file changed upstream or the pin is wrong: check the source, then fix {pin_name}")
                if validate is not None:
                    writing = False
                    validate(tmp)
                    writing = True  # the rename onto dest follows
        except OSError as exc:
            if not writing:
                raise
            raise DownloadError(f"cannot write {dest} while downloading {url} ({_os_reason(exc)}); free disk "
                                "space or fix the folder's permissions") from None
        return dest

    return _with_retries(url, attempt, deadline, retries, backoff, advice, deadline_name)


def fetch_bytes(url: str, headers: dict[str, str] | None = None, deadline: float = 120, retries: int = 3, *,
                advice: str = ADVICE, backoff: float = 1.0) -> tuple[bytes, str]:
    """The body and Content-Type of a small resource (an index page), with download()'s retries and deadline."""

    def attempt(end: float) -> tuple[bytes, str]:
        buffer = io.BytesIO()
        content_type = _transfer(url, headers, end, buffer.write, None)
        return buffer.getvalue(), content_type

    return _with_retries(url, attempt, deadline, retries, backoff, advice)


def _with_retries(url, attempt, deadline: float, retries: int, backoff: float, advice: str,
                  deadline_name: str | None = None):
    end = time.monotonic() + deadline
    failure: _Failure | None = None
    for n in range(1, max(1, retries) + 1):
        try:
            return attempt(end)
        except _Failure as exc:
            failure = exc
        if failure.deadline:
            break
        if not failure.retry:
            raise DownloadError(f"could not download {url} ({failure.reason}); {advice}") from None
        if n < retries:
            pause = backoff * 2 ** (n - 1)
            if time.monotonic() + pause >= end:
                failure = _Failure(f"{failure.reason}, and no time was left to try again", retry=False, deadline=True)
                break
            time.sleep(pause)
    assert failure is not None
    if failure.deadline:
        fix = f"raise {deadline_name} if the network is just slow, or {advice}" if deadline_name else advice
        raise DownloadError(f"could not download {url} within the {deadline:g} s deadline ({failure.reason}); "
                            f"{fix}") from None
    tries = "1 attempt" if retries <= 1 else f"{retries} attempts"
    raise DownloadError(f"could not download {url} ({failure.reason}; {tries}); {advice}") from None


def _transfer(url: str, headers: dict[str, str] | None, end: float, sink: Callable[[bytes], object],
              desc: str | None) -> str:
    """One attempt: stream the body into `sink`; returns the Content-Type. Network trouble is a _Failure;
    an OSError from `sink` (the local file) propagates as is."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        response = urllib.request.urlopen(request, timeout=_timeout(end, 0, None))
    except urllib.error.HTTPError as exc:
        exc.close()
        retry = exc.code >= 500 or exc.code in (408, 429)
        raise _Failure(f"HTTP {exc.code} {exc.reason}".strip(), retry=retry) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise _network_failure(exc, end, 0, None) from None
    received = 0
    with response, _bar(desc, response) as bar:
        total = _content_length(response)
        sock = _socket_of(response)
        read = getattr(response, "read1", None) or response.read
        while True:
            timeout = _timeout(end, received, total)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(timeout)
            try:
                chunk = read(CHUNK)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise _network_failure(exc, end, received, total) from None
            if not chunk:
                break
            sink(chunk)
            received += len(chunk)
            bar.update(len(chunk))
        if total is not None and received < total:
            raise _Failure(f"the connection closed after {_size(received)} of {_size(total)}", retry=True)
        return response.headers.get("Content-Type", "") if response.headers else ""


def _timeout(end: float, received: int, total: int | None) -> float:
    remaining = end - time.monotonic()
    if remaining <= 0:
        raise _Failure(_progress_phrase(received, total), retry=False, deadline=True)
    return min(remaining, SOCKET_TIMEOUT)


def _progress_phrase(received: int, total: int | None) -> str:
    if received == 0:
        return "no data arrived"
    return f"{_size(received)} of {_size(total) if total else 'an unknown size'} arrived"


def _network_failure(exc: BaseException, end: float, received: int, total: int | None) -> _Failure:
    if time.monotonic() >= end:
        return _Failure(_progress_phrase(received, total), retry=False, deadline=True)
    if isinstance(exc, http.client.IncompleteRead):
        got = received + len(exc.partial)
        size = f" of {_size(got + exc.expected)}" if exc.expected is not None else ""
        return _Failure(f"the connection closed after {_size(got)}{size}", retry=True)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _Failure(f"no answer for {SOCKET_TIMEOUT:g} s after {_size(received)}" if received
                        else "the server did not answer", retry=True)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                           ssl.SSLCertVerificationError)):
        return _Failure(_os_reason(reason), retry=False)  # a local path or a bad certificate will not heal
    if isinstance(reason, ValueError) or str(reason).startswith("unknown url type"):
        return _Failure(f"not a usable URL: {_os_reason(reason)}", retry=False)
    return _Failure(_os_reason(reason) if isinstance(reason, BaseException) else str(reason), retry=True)


def _os_reason(exc: BaseException | str) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _content_length(response) -> int | None:
    try:
        value = int(response.headers.get("Content-Length") or 0)
    except (TypeError, ValueError, AttributeError):
        return None
    return value or None


def _socket_of(response) -> socket.socket | None:
    """The socket under an http.client response (to bound each read by the remaining time), if any."""
    fp = getattr(response, "fp", None)
    raw = getattr(fp, "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


@contextlib.contextmanager
def _bar(desc: str | None, response):
    if desc is None:
        yield _NoBar()
        return
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    with tqdm(total=_content_length(response), unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
              file=sys.stderr, mininterval=0.2 if interactive else 10.0, dynamic_ncols=interactive) as bar:
        yield bar


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _size(n: float) -> str:
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"
