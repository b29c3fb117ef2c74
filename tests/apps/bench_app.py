"""bench_app.py: FastAPI app for `make bench`: a cheap JSON endpoint and a known sleep.

HTTPLAT_BENCH_MW picks the in-app instrumentation to compare httplat with:
"none" (default), "batched" or "naive" (see inapp_mw.py); HTTPLAT_BENCH_PG is
the libpq conninfo those two write to.
"""
import asyncio
import os

from fastapi import FastAPI

import inapp_mw

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int):
    return {"id": item_id, "name": "item", "price": 9.5}


@app.get("/sleep/{seq}")
async def sleep(seq: int, ms: float = 0.0):
    await asyncio.sleep(ms / 1000.0)
    return {"seq": seq, "slept_ms": ms}


app = inapp_mw.wrap(app, os.environ.get("HTTPLAT_BENCH_MW", "none"),
                    os.environ.get("HTTPLAT_BENCH_PG", ""))
