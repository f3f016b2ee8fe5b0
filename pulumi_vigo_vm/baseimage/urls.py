"""A source URL as it may be shown: where a URL can carry a secret, and its redacted form.

Why: a presigned URL (S3's ``X-Amz-Signature``, GCS's ``X-Goog-Signature``, Azure's SAS
``sig=``, any token in a query) is a credential for as long as it is valid. The full URL is
needed in exactly one place, the request; everywhere else (error text, log lines, the
digest record on the hypervisor, a command line other users can list) it is shown
redacted. Which query parameters are secret cannot be known, so every query is treated as
one, and so is userinfo (refused at ``check`` anyway). Pure: strings in, strings out.
"""

from __future__ import annotations

import urllib.parse

__all__ = ["REDACTED", "carries_secret", "scrubbed", "shown"]

REDACTED = "<redacted>"


def carries_secret(url: str) -> bool:
    """Whether ``url`` has a part that can hold a credential (a query or userinfo)."""
    parts = urllib.parse.urlsplit(url)
    return bool(parts.query) or "@" in parts.netloc


def shown(url: str) -> str:
    """``url`` with its query and userinfo replaced by :data:`REDACTED` (no spaces: the
    digest record's grammar reads it as one word); the fragment, never sent, dropped."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = REDACTED if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def scrubbed(text: str, url: str) -> str:
    """``text`` (a library's or a command's message) with every spelling of ``url``'s
    secret parts redacted: libraries quote the URL, its request line or just its query."""
    parts = urllib.parse.urlsplit(url)
    secrets = [url, parts.query, parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""]
    text = text.replace(url, shown(url))
    for secret in filter(None, secrets):
        for spelling in {secret, urllib.parse.unquote(secret), urllib.parse.quote(secret)}:
            text = text.replace(spelling, REDACTED)
    return text
