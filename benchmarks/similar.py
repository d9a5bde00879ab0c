"""Similar-item search at catalogue scale: exact versus the ANN engine on a million real embeddings.

    python -m benchmarks.similar [--items 1000000] [--queries 1000]      (make benchmark-similar)

Needs models/fashion_cnn.tflite from `make run`. The catalogue is made of augmented Fashion-MNIST images (the
70,000 training and test images, each shifted by up to two pixels, mirrored half of the time and dimmed by up
to 30 %, as many times as it takes), embedded by the exported model exactly as `fmnist.core.catalogue` embeds a
shop's photos. The queries are other augmentations of test images, so they are not in the catalogue.

It measures, in one run:
- exact search (`Catalogue.search` without an engine: every item's cosine similarity) for single queries at
  growing catalogue sizes: where it stops being cheap is where `catalogue.ANN_THRESHOLD` switches to the ANN;
- the ANN engine (`catalogue.hnsw_index`, FAISS HNSW) on the whole catalogue: build time, bytes per item of
  the serialised index, recall@10 against exact search, single-query p50 and p99 (one query at a time, as
  the API searches).
Writes reports/similar_benchmark.json.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import processor_name
from fmnist import data
from fmnist.core import catalogue
from fmnist.core.search import normalize, top_k

ROOT = Path(__file__).resolve().parent.parent
EXACT_SIZES = (10_000, 20_000, 50_000, 100_000, 300_000, 1_000_000)
EXACT_QUERIES = 300
K = 10


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift each image by up to two pixels (black fill), mirror half of them, dim them by up to 30 %."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    rows, columns = rng.integers(0, 5, size=(2, len(images)))
    out = np.stack([padded[i, r : r + 28, c : c + 28] for i, (r, c) in enumerate(zip(rows, columns, strict=True))])
    flip = rng.random(len(images)) < 0.5
    out[flip] = out[flip, :, ::-1]
    return (out * rng.uniform(0.7, 1.0, size=(len(images), 1, 1))).astype(np.float32)[..., np.newaxis] / 255


def embeddings(images: np.ndarray, count: int, seed: int, model: Path) -> np.ndarray:
    """`count` unit-length embeddings of augmentations of `images`, computed in chunks."""
    rng, chunks = np.random.default_rng(seed), []
    for start in range(0, count, 50_000):
        picked = rng.integers(0, len(images), size=min(50_000, count - start))
        chunks.append(normalize(catalogue.embed(augment(images[picked], rng), model)[0]))
        print(f"  embedded {start + len(picked):,} of {count:,}", flush=True)
    return np.concatenate(chunks)


def single_query_ms(search, queries: np.ndarray) -> np.ndarray:
    """Milliseconds of each query, searched one at a time after a few warm-up queries."""
    for query in queries[:5]:
        search(query[np.newaxis])
    times = []
    for query in queries:
        start = time.perf_counter()
        search(query[np.newaxis])
        times.append(time.perf_counter() - start)
    return np.asarray(times) * 1000


def summary(milliseconds: np.ndarray) -> dict:
    return {
        "p50_ms": round(float(np.median(milliseconds)), 3),
        "p99_ms": round(float(np.percentile(milliseconds, 99)), 3),
    }


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, chunk: int = 200) -> np.ndarray:
    return np.concatenate([top_k(queries[i : i + chunk] @ vectors.T, K)[0] for i in range(0, len(queries), chunk)])


def catalogue_of(vectors: np.ndarray, ann=None) -> catalogue.Catalogue:
    """A catalogue of these vectors with placeholder ids, titles and thumbnails (the search ignores them)."""
    ids = np.arange(len(vectors)).astype(str)
    thumbnails = np.zeros((len(vectors), 28, 28), np.uint8)  # never written: the pages stay unallocated
    return catalogue.Catalogue(ids, ids, np.zeros(len(vectors), int), thumbnails, vectors, ann)


def exact_timings(vectors, queries, items: int) -> list[dict]:
    """Single-query times of exact search over the first `size` items, for each of `EXACT_SIZES` up to `items`."""
    exact = []
    for size in (size for size in EXACT_SIZES if size <= items):
        shop = catalogue_of(vectors[:size])
        times = single_query_ms(lambda query, shop=shop: shop.search(query, K), queries[:EXACT_QUERIES])
        exact.append({"items": size, **summary(times)})
        print("exact", exact[-1], flush=True)
    return exact


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "fashion_cnn.tflite")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "similar_benchmark.json")
    arguments = parser.parse_args()

    (train_images, _), (test_images, _) = data.load_data()
    print(f"embedding {arguments.items:,} augmented images and {arguments.queries:,} queries")
    start = time.perf_counter()
    vectors = embeddings(np.concatenate([train_images, test_images]), arguments.items, 0, arguments.model)
    queries = embeddings(test_images, arguments.queries, 1, arguments.model)
    embed_seconds = time.perf_counter() - start

    exact = exact_timings(vectors, queries, arguments.items)
    start = time.perf_counter()
    index = catalogue.hnsw_index(vectors)
    build_seconds = time.perf_counter() - start
    import faiss

    index_bytes = len(faiss.serialize_index(index))
    truth = exact_neighbours(vectors, queries)
    found = index.search(queries, K)[1]
    recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]))
    shop = catalogue_of(vectors, index)
    times = single_query_ms(lambda query: shop.search(query, K), queries)
    report = {
        "machine": processor_name(),
        "cores": os.cpu_count(),
        "items": arguments.items,
        "engine": "faiss-hnsw",
        "parameters": {
            "M": catalogue.HNSW_NEIGHBOURS,
            "efConstruction": catalogue.HNSW_BUILD_DEPTH,
            "efSearch": catalogue.HNSW_SEARCH_DEPTH,
            "faiss": faiss.__version__,
        },
        "embedding_size": int(vectors.shape[1]),
        "queries": arguments.queries,
        "recall_at_10": round(recall, 4),
        **summary(times),
        "build_seconds": round(build_seconds, 1),
        "bytes_per_item": round(index_bytes / arguments.items, 1),
        "embed_seconds": round(embed_seconds, 1),
        "exact": exact,
        "ann_threshold": catalogue.ANN_THRESHOLD,
    }
    print(json.dumps(report, indent=1))
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
