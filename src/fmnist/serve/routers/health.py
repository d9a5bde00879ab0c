"""The probes: `/healthz` (alive, and which model) and `/readyz` (whether to send this replica traffic)."""

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fmnist import __version__
from fmnist.serve.dependencies import ServiceDep
from fmnist.serve.schemas import Health, Readiness
from fmnist.serve.settings import MAX_BATCH, MAX_K, MAX_UPLOAD_BYTES

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz(service: ServiceDep):
    """Whether the model is loaded, which model it is, and the class names it predicts."""
    settings, spec = service.settings, service.predictor.spec
    return {
        "status": "ok",
        "model": service.files.model.name,
        "model_sha256": service.sha256,
        "api_version": __version__,
        "process": os.getpid(),
        "classes": list(spec.labels),
        "input": {"size": spec.size, "channels": spec.channels, "preprocessing": spec.preprocessing},
        "catalogue_items": len(service.catalogue),
        "review": {
            "target_accuracy": float(settings.target_accuracy),
            "margin_threshold": service.predictor.rule.threshold,
            "image_limits": dict(service.predictor.rule.limits),
        },
        "limits": {"max_upload_bytes": MAX_UPLOAD_BYTES, "max_batch": MAX_BATCH, "max_k": MAX_K},
    }


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(service: ServiceDep):
    """Whether to send this replica traffic: 200 once the model is loaded, 503 from SIGTERM on."""
    if service.ready:
        return {"status": "ready"}
    return JSONResponse({"status": "shutting down"}, status_code=503, headers={"retry-after": "1"})
