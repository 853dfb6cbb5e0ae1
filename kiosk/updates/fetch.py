"""Fetchers for python-tuf's ngclient: over the dealer link (mTLS + a signed request each time), or plain HTTP (a
mirror, the tests). Both can start at a byte offset, so an interrupted bundle download resumes where it stopped."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import urlsplit

import httpx
from tuf.api.exceptions import DownloadError, DownloadHTTPError
from tuf.ngclient.fetcher import FetcherInterface

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.identity import LinkError

TIMEOUT = 30.0


class RangeFetcher(FetcherInterface):
    """A fetcher whose downloads may start at an offset (HTTP Range)."""

    @abc.abstractmethod
    def _open(self, url: str, headers: dict[str, str]) -> AbstractContextManager[httpx.Response]:
        """A streamed GET of `url`."""

    def _fetch(self, url: str) -> Iterator[bytes]:
        return self.fetch_from(url, 0)

    def fetch_from(self, url: str, start: int) -> Iterator[bytes]:
        """The body of `url` from byte `start` on, in pieces; a status other than 200/206 raises
        DownloadHTTPError (404 ends ngclient's search for a newer root)."""
        headers = {"Range": f"bytes={start}-"} if start else {}
        try:
            with self._open(url, headers) as reply:
                if reply.status_code not in (200, 206):
                    raise DownloadHTTPError(f"{url}: HTTP {reply.status_code}", reply.status_code)
                if start and reply.status_code == 200:
                    raise DownloadError(f"{url}: the server ignored the byte range")
                yield from reply.iter_bytes()  # as received: a cut connection keeps what came
        except (httpx.HTTPError, LinkError) as exc:
            raise DownloadError(f"{url}: {exc}") from exc


class HttpFetcher(RangeFetcher):
    """Plain HTTP(S) with httpx (a repository mirror; the attack tests' loopback server)."""

    def __init__(self) -> None:
        self._client = httpx.Client(timeout=TIMEOUT)

    def _open(self, url: str, headers: dict[str, str]) -> AbstractContextManager[httpx.Response]:
        return self._client.stream("GET", url, headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class LinkFetcher(RangeFetcher):
    """Over the terminal's authenticated link: each GET mutually authenticated and signed (RFC 9421)."""

    def __init__(self, link: DealerLink) -> None:
        self.link = link

    def _open(self, url: str, headers: dict[str, str]) -> AbstractContextManager[httpx.Response]:
        return self._stream(urlsplit(url).path, headers)

    @contextmanager
    def _stream(self, path: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        with self.link.stream(path, headers) as reply:
            yield reply

    def close(self) -> None:
        """The link belongs to its owner: nothing to close here."""
