"""Answers shaped like EC2's: ``Server: EC2ws``, text/plain bodies, its small XHTML error page."""

from __future__ import annotations

from aiohttp import web

__all__ = ["text", "octets", "error"]

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}
_ERROR_PAGE = (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
    " <head>\n  <title>{code} - {reason}</title>\n </head>\n"
    " <body>\n  <h1>{code} - {reason}</h1>\n </body>\n</html>\n"
)


def text(body: str, status: int = 200, headers: dict | None = None) -> web.Response:
    hdrs = {"Server": "EC2ws"}
    if headers:
        hdrs.update(headers)
    return web.Response(text=body, status=status, content_type="text/plain", headers=hdrs)


def octets(body: bytes) -> web.Response:
    """user-data: the bytes as given at launch (binary and gzip included)."""
    return web.Response(body=body, content_type="application/octet-stream", headers={"Server": "EC2ws"})


def error(code: int, headers: dict | None = None) -> web.Response:
    hdrs = {"Server": "EC2ws", **(headers or {})}
    body = _ERROR_PAGE.format(code=code, reason=_REASONS[code])
    return web.Response(text=body, status=code, content_type="text/html", headers=hdrs)
