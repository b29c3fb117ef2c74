"""app.py: FastAPI test/demo app with the data, model and user APIs and known behaviours.

Every endpoint's latency and status are known, so tests can compare what httplat
recorded with what the app did.
"""
import asyncio
import time

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse, StreamingResponse

app = FastAPI()


@app.get("/data/items/{item_id}")
async def data_item(item_id: int):
    return {"id": item_id, "name": f"item-{item_id}"}


@app.delete("/data/items/{item_id}")
async def data_item_delete(item_id: int):
    return Response(status_code=204)


@app.get("/data/sleep")
async def data_sleep(ms: int = 0):
    await asyncio.sleep(ms / 1000.0)
    return {"slept_ms": ms}


@app.post("/data/upload")
async def data_upload(request: Request):
    body = await request.body()
    return {"received": len(body)}


@app.get("/data/big")
async def data_big(kb: int = 256):
    return PlainTextResponse("x" * (kb * 1024))


@app.get("/data/stream")
async def data_stream(chunks: int = 5, ms: int = 10):
    async def gen():
        for i in range(chunks):
            await asyncio.sleep(ms / 1000.0)
            yield f"chunk {i}\n".encode()
    return StreamingResponse(gen(), media_type="text/plain")


@app.get("/data/sync")
def data_sync(ms: int = 0):
    time.sleep(ms / 1000.0)  # runs in the threadpool
    return {"slept_ms": ms}


@app.get("/data/block")
async def data_block(ms: int = 300):
    time.sleep(ms / 1000.0)  # CPU-bound work in the event loop: every other request waits
    return {"blocked_ms": ms}


@app.post("/model/generate")
async def model_generate(ms: int = 1200):
    await asyncio.sleep(ms / 1000.0)  # "generating a 3D model"
    return Response(status_code=201, content=b'{"model": "ok"}', media_type="application/json")


@app.get("/model/{model_id}/mesh")
async def model_mesh(model_id: int, ms: int = 0):
    await asyncio.sleep(ms / 1000.0)
    return {"id": model_id, "vertices": 1024}


@app.get("/model/crash")
async def model_crash():
    raise RuntimeError("mesh generator crashed")  # -> 500


@app.get("/model/unavailable")
async def model_unavailable():
    raise HTTPException(status_code=503, detail="GPU pool exhausted")


@app.get("/model/gateway")
async def model_gateway():
    raise HTTPException(status_code=502, detail="upstream renderer failed")


@app.get("/user/login")
async def user_login():
    raise HTTPException(status_code=401, detail="bad credentials")


@app.get("/user/admin")
async def user_admin():
    raise HTTPException(status_code=403, detail="forbidden")


@app.get("/user/profile/{user_id}")
async def user_profile(user_id: int):
    if user_id >= 1000:
        raise HTTPException(status_code=404, detail="no such user")
    return {"id": user_id}


@app.post("/user/signup")
async def user_signup(request: Request):
    data = await request.body()
    if not data:
        raise HTTPException(status_code=400, detail="empty body")
    return Response(status_code=201, content=b"{}", media_type="application/json")


@app.get("/user/old-profile")
async def user_old_profile():
    return RedirectResponse("/user/profile/1", status_code=301)


@app.get("/status/{code}")
async def status(code: int, ms: int = 0):
    await asyncio.sleep(ms / 1000.0)
    return Response(status_code=code, content=b"" if code in (204, 304) else b"s")


@app.head("/data/head")
async def data_head():
    return Response(headers={"content-length": "1234"})


@app.get("/health")
async def health():
    return {"ok": True}
