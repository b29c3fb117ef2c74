"""routes_app.py: a FastAPI app whose routes are hard to name from paths alone.

String ids (/model/jobs/q1a00007), a {name:path} route, two methods on one path, a route an
earlier one shadows, an int convertor, a trailing-slash route and root_path set: the tests
compare httplat's `route` with what Starlette's own router picks (tests/e2e/starlette_routes.py).

Environment:
  ROUTES_APP_OPENAPI=0       the app serves no OpenAPI document (openapi_url=None)
  ROUTES_APP_EXTRA=FILE      one more "GET /PATH" route per line of FILE, read at import: a
                             worker that restarts (gunicorn --max-requests) picks up new ones
  ROUTES_APP_ROOT_PATH=/api  FastAPI's root_path (default /api)
  ROUTES_APP_IMPORT_S=N      sleep N seconds at import (an app slow to start listening)
"""
import asyncio
import os
import time

from fastapi import FastAPI, HTTPException, Request, Response

ROOT_PATH = os.environ.get("ROUTES_APP_ROOT_PATH", "/api")
OPENAPI = os.environ.get("ROUTES_APP_OPENAPI", "1") != "0"

app = FastAPI(root_path=ROOT_PATH, openapi_url="/openapi.json" if OPENAPI else None,
              docs_url=None, redoc_url=None)


async def nap(ms):
    if ms:
        await asyncio.sleep(ms / 1000.0)


@app.get("/model/jobs/{tok}")
async def job_get(tok: str, ms: int = 0):
    await nap(ms)
    return {"tok": tok}


@app.delete("/model/jobs/{tok}")
async def job_delete(tok: str):
    return Response(status_code=204)


@app.post("/model/render/{job_id}")
async def render(job_id: str, ms: int = 0, fail: int = 0):
    """The quiet API of the alert tests: one request now and then, slow, sometimes failing."""
    await nap(ms)
    if fail:
        raise RuntimeError("renderer crashed")  # -> 500
    return Response(status_code=201, content=b'{"ok": true}', media_type="application/json")


@app.get("/user/profile/me")
async def profile_me():
    return {"me": True}


@app.get("/user/profile/{user_id}")
async def profile(user_id: str):
    if user_id.startswith("gone"):
        raise HTTPException(status_code=404, detail="no such user")  # a handler's 404
    return {"id": user_id}


@app.get("/user/profile/special")
async def profile_special():  # shadowed by /user/profile/{user_id}: never reached
    return {"special": True}


@app.get("/files/{file_path:path}")
async def files(file_path: str):
    return {"path": file_path}


@app.get("/data/items/{item_id:int}")
async def item(item_id: int):
    return {"id": item_id}


@app.get("/data/items/{name}/meta")
async def item_meta(name: str):
    return {"name": name}


@app.get("/data/list/")
async def data_list():
    return [1, 2, 3]


@app.get("/data/sleep")
async def data_sleep(ms: int = 0):
    await nap(ms)
    return {"slept_ms": ms}


@app.get("/data/echo")
async def echo_get():
    return {"method": "GET"}


@app.post("/data/echo")
async def echo_post(request: Request):
    return {"received": len(await request.body())}


def _extra_routes():
    path = os.environ.get("ROUTES_APP_EXTRA")
    if not path or not os.path.exists(path):
        return
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                continue
            method, template = parts

            async def extra(request: Request, template=template):
                return {"template": template, "params": request.path_params}
            app.add_api_route(template, extra, methods=[method], name="extra " + template)


_extra_routes()
time.sleep(float(os.environ.get("ROUTES_APP_IMPORT_S", "0")))
