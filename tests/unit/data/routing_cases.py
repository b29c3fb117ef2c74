#!/usr/bin/python3
"""routing_cases.py: writes routing_cases.json, the routing table test_openapi.c checks against.

Every expected answer comes from the installed Starlette's own Router (tests/e2e/
starlette_routes.py): once with the routes as the app declares them (convertors included), once
with the routes as its OpenAPI document names them (path_format: every parameter a plain
"{name}"), which is all httplat learns from the document. Run it again after changing the
routes or the cases; tests/e2e/test_routes.py checks that the file still agrees with Starlette.
"""
import inspect
import json
import os
import re
import sys
import uuid
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))

from fastapi import FastAPI  # noqa: E402
from starlette.routing import Route, Router  # noqa: E402

import starlette_routes  # noqa: E402

PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")

# (path as the app declares it, methods), in registration order
ROUTES = [
    ("/", ["GET"]),
    ("/items/{item_id}", ["GET"]),
    ("/items/special", ["GET"]),          # shadowed for GET by the route above
    ("/items/special", ["POST"]),         # same path, another method
    ("/users/me", ["GET"]),
    ("/users/{user_id:int}", ["GET"]),
    ("/users/{name}", ["GET"]),
    ("/files/{file_path:path}", ["GET"]),
    ("/files/{fid}", ["DELETE"]),
    ("/prices/{amount:float}", ["GET"]),
    ("/objects/{oid:uuid}", ["GET"]),
    ("/objects/{name}/meta", ["GET"]),
    ("/reports/{year:int}-{month:int}.csv", ["GET"]),
    ("/slash/", ["GET"]),
    ("/noslash", ["GET"]),
    ("/items/{item_id}", ["PUT"]),        # a second method on an earlier path
    ("/multi", ["GET", "POST"]),
    ("/mixed/{a}/x/{rest:path}", ["GET"]),
    ("/dots/{name}.json", ["GET"]),
    ("/v{version:int}/status", ["GET"]),
    ("/{weird}brace{x", ["GET"]),         # not a parameter: literal text
]

CASES = [
    ("GET", "/"), ("HEAD", "/"), ("POST", "/"),
    ("GET", "/items/42"), ("GET", "/items/q1a00007"), ("GET", "/items/special"),
    ("POST", "/items/special"), ("DELETE", "/items/special"), ("PUT", "/items/7"),
    ("HEAD", "/items/7"), ("get", "/items/7"), ("PATCH", "/items/7"),
    ("GET", "/items/"), ("GET", "/items"), ("GET", "/items/7/"), ("GET", "/items//"),
    ("GET", "/items/a%2Fb"), ("GET", "/items/%7Bx%7D"), ("GET", "/items/x%0A"),
    ("GET", "/users/me"), ("GET", "/users/12"), ("GET", "/users/bob"), ("GET", "/users/-1"),
    ("GET", "/users/12/"), ("GET", "/users/"),
    ("GET", "/files/a"), ("GET", "/files/a/b/c.txt"), ("GET", "/files/"), ("GET", "/files"),
    ("DELETE", "/files/a"), ("DELETE", "/files/a/b"), ("GET", "/files/a%2Fb"),
    ("GET", "/prices/12"), ("GET", "/prices/12.5"), ("GET", "/prices/12."), ("GET", "/prices/.5"),
    ("GET", "/prices/1e3"),
    ("GET", "/objects/550e8400-e29b-41d4-a716-446655440000"),
    ("GET", "/objects/550E8400-E29B-41D4-A716-446655440000"),
    ("GET", "/objects/thing/meta"), ("GET", "/objects/thing"),
    ("GET", "/reports/2024-05.csv"), ("GET", "/reports/2024-5x.csv"), ("GET", "/reports/x-1.csv"),
    ("GET", "/slash/"), ("GET", "/slash"), ("GET", "/slash//"), ("GET", "/noslash"),
    ("GET", "/noslash/"), ("GET", "/noslash//"),
    ("GET", "/multi"), ("POST", "/multi"), ("PUT", "/multi"), ("HEAD", "/multi"),
    ("GET", "/mixed/a/x/b/c"), ("GET", "/mixed/a/x/"), ("GET", "/mixed/a/y/b"),
    ("GET", "/dots/report.json"), ("GET", "/dots/a.b.json"), ("GET", "/dots/.json"),
    ("GET", "/v2/status"), ("GET", "/vx/status"), ("GET", "/v/status"),
    ("GET", "/{weird}brace{x"), ("GET", "/%7Bweird%7Dbrace%7Bx"),
    ("GET", "/nothing/here"), ("GET", "/api/v1/items/42"), ("GET", "/openapi.json"),
    ("GET", ""), ("GET", "//"),
]


def endpoint(path=""):
    """An endpoint declaring the path's parameters, typed as its convertors: FastAPI then
    writes their schemas (integer, number, string/uuid) into the document."""
    types = {"int": int, "float": float, "uuid": uuid.UUID, "str": str, "path": str}

    async def ep(**kwargs):
        return None
    ep.__signature__ = inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=types[conv or "str"])
        for name, conv in PARAM.findall(path)])
    return ep


def answers(routes):
    router = Router(routes=[Route(p, endpoint(), methods=m) for p, m in routes])
    out = []
    for method, path in CASES:
        kind, route, status = starlette_routes.route_of(router, method, path)
        out.append({"kind": kind, "route": route, "status": status})
    return out


def build():
    app = FastAPI(root_path="/api/v1")
    for i, (p, m) in enumerate(ROUTES):
        app.add_api_route(p, endpoint(p), methods=m, name=f"r{i}")
    doc = app.openapi()
    doc["servers"] = [{"url": "/api/v1"}]  # what FastAPI serves when asked through its root_path
    declared = answers(ROUTES)
    # the document's view: path_format keys in document order, methods merged per key
    from_doc = answers([(p, [k.upper() for k in ops]) for p, ops in doc["paths"].items()])
    cases = []
    for (method, path), a, d in zip(CASES, declared, from_doc):
        cases.append({"method": method, "path": path, "app": a, "doc": d})
    return {"routes": [{"path": p, "methods": m} for p, m in ROUTES], "openapi": doc,
            "cases": cases}


def main():
    warnings.simplefilter("ignore")  # FastAPI's duplicate operation id for /multi
    data = build()
    with open(os.path.join(HERE, "routing_cases.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
