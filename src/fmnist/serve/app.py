"""The ASGI app, `fmnist.serve.app:app`: the routers, the upload limit, the error statuses, start-up and shutdown.

`python -m fmnist.serve` runs it with uvicorn's own options, and any ASGI server serves `app`. Graceful shutdown
is the server's own. `/readyz` tells a load balancer whether to send traffic: it turns 503 at SIGTERM, and with
$FMNIST_DRAIN_SECONDS the app hands the signal on to the server only that many seconds later, so that the
balancer stops sending new requests before the server stops accepting them.
"""

import asyncio
import contextlib
import signal
import threading
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.datastructures import Headers
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from fmnist import __version__
from fmnist.core.images import InputError, TooLargeError
from fmnist.serve.dependencies import UnsupportedMediaType
from fmnist.serve.routers import catalogue, health, predictions
from fmnist.serve.service import Service
from fmnist.serve.settings import MAX_UPLOAD_BYTES, get_settings

STATIC = Path(__file__).parent.parent / "static"
# The status of each error that the core or the body parsing raises; a subclass takes the most specific one.
ERROR_STATUSES = {TooLargeError: 413, InputError: 400, UnsupportedMediaType: 415}


class UploadLimit:
    """ASGI middleware: refuse a request body over `limit` bytes before it is buffered or parsed, at once where
    Content-Length declares more, else at the chunk that crosses the limit. The refusal is the API's JSON error
    (FastAPI's own `max_body_size` answers a declared oversize in plain text)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            message = f"the upload is {int(declared):,} bytes; the limit is {self.limit:,} bytes"
            return await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # FastAPI passes an HTTPException from here on to its handler
                raise HTTPException(413, f"the upload is over the limit of {self.limit:,} bytes")
            return message

        await self.app(scope, counted, send)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    """Load the `Service` from the settings, watch the catalogue file, and drain at SIGTERM."""
    settings = get_settings()
    app.state.service = service = Service(settings)
    watcher = asyncio.create_task(service.watch_catalogue())
    drain_before_shutdown(service, settings.drain_seconds)
    yield
    service.ready = False
    watcher.cancel()


def drain_before_shutdown(service: Service, seconds: float) -> None:
    """At SIGTERM, turn `/readyz` to 503 at once and pass the signal on to the server's own handler (its
    graceful shutdown) `seconds` later. The server installed that handler before starting the app; it is
    chained with the standard `signal` API, nothing of the server's is replaced. Only in the main thread,
    where Python delivers signals (a test client or an embedding may run the app elsewhere)."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(signum, frame):
        service.ready = False
        loop.call_soon_threadsafe(loop.call_later, seconds, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


async def refuse(request: Request, error: Exception) -> JSONResponse:
    """The API's JSON error for an input that the core or the body parsing refused, with its HTTP status."""
    status = next(ERROR_STATUSES[kind] for kind in type(error).__mro__ if kind in ERROR_STATUSES)
    return JSONResponse(status_code=status, content={"detail": str(error)})


app = FastAPI(
    title="Fashion-MNIST classifier",
    version=__version__,
    description=(
        "Classify a product photo into the model's categories (Fashion-MNIST's ten clothing classes, or a "
        "shop's own: /healthz lists them), see which pixels the answer rests on (/explain), and find visually "
        "similar catalogue items. Send an image file (multipart field `file`, or the raw bytes with an image "
        'content type), or, to the Fashion-MNIST model, JSON `{"pixels": [[...28 numbers...], ... 28 rows]}` '
        "with values 0-255 (0 = background)."
    ),
    lifespan=lifespan,
    docs_url=None,  # served below from the package's own copy of Swagger UI, not from a CDN
    redoc_url=None,
    exception_handlers=dict.fromkeys(ERROR_STATUSES, refuse),
)
for router in (predictions.router, catalogue.router, health.router):
    app.include_router(router)
app.add_middleware(UploadLimit, limit=MAX_UPLOAD_BYTES)
app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.get("/", response_class=HTMLResponse)
async def demo_page():
    """The live demo: upload or drop a photo, see the top classes, the explanation and similar items."""
    return FileResponse(STATIC / "demo" / "index.html", media_type="text/html")


@app.get("/docs", include_in_schema=False)
async def interactive_docs():
    """The interactive OpenAPI page, with Swagger UI's files served by this app: it works offline."""
    return get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} - interactive docs",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
    )
