"""starlette_routes.py: which route Starlette's own Router picks for a request, without running it.

route_of(router, method, raw_path) runs the installed starlette.routing.Router.__call__ on an
HTTP scope built as uvicorn builds it (path percent-decoded), with every route's handle()
replaced by a recorder, so the answer is the real router's: "full" (path and method),
"partial" (405), "redirect" (redirect_slashes, 307: the route the new URL reaches) or "none"
(404), and the route's path_format. The tests compare httplat's `route` with it.
"""
import asyncio
from urllib.parse import unquote

from starlette.routing import BaseRoute, Match, Router


def _scope(method, path, root_path=""):
    return {"type": "http", "method": method, "path": path, "root_path": root_path,
            "query_string": b"", "headers": [], "http_version": "1.1", "scheme": "http",
            "server": ("127.0.0.1", 80)}


def _routes(router):
    return [r for r in router.routes if isinstance(r, BaseRoute)]


def _route_once(router, method, path, root_path=""):
    """(kind, route or None, status) for one pass of the router."""
    seen = {}
    saved = []
    for route in _routes(router):
        def handle(scope, receive, send, route=route):
            seen["route"] = route
            seen["full"] = not getattr(route, "methods", None) or scope["method"] in route.methods

            async def nothing():
                return None
            return nothing()
        saved.append((route, route.__dict__.get("handle")))
        route.handle = handle
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def default(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})

    old_default = router.default
    router.default = default
    try:
        asyncio.run(router(_scope(method, path, root_path), receive, send))
    finally:
        router.default = old_default
        for route, h in saved:
            if h is None:
                del route.handle
            else:
                route.handle = h
    if "route" in seen:
        return ("full" if seen["full"] else "partial"), seen["route"], 200 if seen["full"] else 405
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    status = start["status"] if start else 0
    return "none", None, status


def route_of(router, method, raw_path, root_path=""):
    """("full" | "partial" | "redirect" | "none", path_format or None, status)."""
    path = unquote(raw_path.partition("?")[0])
    kind, route, status = _route_once(router, method, path, root_path)
    if status == 307:
        # redirect_slashes sent the client to the path with its trailing slash toggled: the
        # route is the first whose own matches() accepts that path, as in Router.__call__
        alt = dict(_scope(method, path, root_path))
        alt["path"] = path.rstrip("/") if path.endswith("/") else path + "/"
        for r in _routes(router):
            if r.matches(alt)[0] != Match.NONE:
                return "redirect", r.path_format, status
    if route is None:
        return "none", None, status
    return kind, route.path_format, status


def router_of(app):
    """The Router of a FastAPI / Starlette app (or a Router itself)."""
    return app if isinstance(app, Router) else app.router
