"""The live console (实时监控台) for supervisors and the social-media team, served by the
worker itself: ``GET /console`` is one self-contained page (``streams/console/index.html``:
inline CSS and JavaScript, no build step, nothing fetched from elsewhere), and ``GET /``
redirects to it.

The page holds no data, so it needs no token; its calls to ``/api/…`` do (see
:mod:`streams.api`). It is sent with a strict Content-Security-Policy: it may only talk to
the service that served it.
"""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web
from aiohttp.typedefs import Handler

CONSOLE_PATH = "/console"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the page's one inline script
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",  # fetch and EventSource to this service only
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",  # no clickjacking of the ack / silence buttons
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@functools.cache
def console_html() -> bytes:
    """The page, read once from the package data."""
    return resources.files("streams").joinpath("console", "index.html").read_bytes()


def install_console(app: web.Application) -> None:
    """Add ``GET /console`` and the ``GET /`` redirect to ``app``.

    ``/`` is a middleware, not a route: Faust's web server already routes ``/`` to its own
    placeholder index before the worker's hook runs, and aiohttp serves the first route
    that matches. The middleware runs first either way.
    """
    page = console_html()

    async def console(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8", headers=HEADERS)

    app.router.add_get(CONSOLE_PATH, console)
    app.middlewares.append(_root_to_console)


@web.middleware
async def _root_to_console(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/" and request.method in ("GET", "HEAD"):
        raise web.HTTPFound(CONSOLE_PATH)
    return await handler(request)
