"""The catalogue's endpoints: its size and search engine, a page of its items, an item's thumbnail."""

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from fmnist.core.catalogue import Catalogue
from fmnist.serve.dependencies import ServiceDep
from fmnist.serve.schemas import CataloguePage, CatalogueSummary, Problem
from fmnist.serve.settings import MAX_LISTED

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


def item_with_thumbnail(catalogue: Catalogue, row: int) -> dict:
    """A catalogue item as the API lists it: id, title, class and thumbnail URL."""
    item = catalogue.item(row)
    return {**item, "thumbnail": f"/catalogue/items/{item['id']}/thumbnail.png"}


@router.get("", response_model=CatalogueSummary)
async def catalogue_summary(service: ServiceDep):
    """The catalogue's size, search engine and embedding size."""
    catalogue = service.catalogue
    return {"items": len(catalogue), "engine": catalogue.engine, "embedding_size": int(catalogue.vectors.shape[1])}


@router.get("/items", response_model=CataloguePage)
async def catalogue_items(
    service: ServiceDep,
    offset: int = Query(0, ge=0, description="the first item's position"),
    limit: int = Query(20, ge=1, le=MAX_LISTED, description=f"how many items, 1 to {MAX_LISTED}"),
):
    """A page of catalogue items in catalogue order: id, title, class and thumbnail URL."""
    catalogue = service.catalogue
    rows = range(min(offset, len(catalogue)), min(offset + limit, len(catalogue)))
    return {"total": len(catalogue), "offset": offset, "items": [item_with_thumbnail(catalogue, row) for row in rows]}


@router.get(
    "/items/{item_id}/thumbnail.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the thumbnail"}, 404: {"model": Problem}},
)
async def thumbnail(service: ServiceDep, item_id: str):
    """The item's thumbnail, what the model sees (the Fashion-MNIST model's: 28 × 28, light on black), as PNG."""
    try:
        png = service.catalogue.thumbnail_png(item_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no catalogue item has the id {item_id!r}") from None
    return Response(png, media_type="image/png", headers={"cache-control": "max-age=60"})
