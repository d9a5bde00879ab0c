"""The command line: `python -m fmnist.serve` runs the API with uvicorn's own options (docs/serving.md)."""

import argparse
import copy
import os

import uvicorn
import uvicorn.config

from fmnist.serve.settings import variable

APP = "fmnist.serve.app:app"  # an import string, so that uvicorn can start worker processes
DRAIN = variable("drain_seconds")


def arguments_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Serve the API with uvicorn (docs/serving.md).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (one per core is a good start)")
    parser.add_argument("--backlog", type=int, default=2048)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument(
        "--drain-seconds",
        type=float,
        help=f"seconds between SIGTERM (/readyz turns 503) and the graceful shutdown (default ${DRAIN}, else 0)",
    )
    return parser


def log_config(level: str) -> dict:
    """uvicorn's logging configuration, with the app's own messages (the `fmnist` loggers) beside uvicorn's."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["fmnist"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    config["handlers"]["fmnist"] = {
        "formatter": "fmnist",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["fmnist"] = {
        "handlers": ["fmnist"],
        "level": uvicorn.config.LOG_LEVELS[level],
        "propagate": False,
    }
    return config


def main(argv=None) -> None:
    arguments = arguments_parser().parse_args(argv)
    if arguments.drain_seconds is not None:
        os.environ[DRAIN] = str(arguments.drain_seconds)  # the settings of each worker process read it
    uvicorn.run(
        APP,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        backlog=arguments.backlog,
        log_level=arguments.log_level,
        log_config=log_config(arguments.log_level),
        access_log=not arguments.no_access_log,
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
