"""The size on disk of the full install and of the serving install: reports/install_size.json.

    python -m benchmarks.install_size FULL_VENV SERVING_VENV
    python -m benchmarks.install_size --with-ray SERVING_VENV

`make test-serving` runs the first form on the serving install alone, then adds the `ray` extra to it, runs
the serving tests there and records its size again with the second form.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "install_size.json"


def megabytes(folder: Path) -> int:
    """The bytes of every file below `folder` (links not followed), in MB."""
    return round(sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6)


def packages(folder: Path) -> list[str]:
    """The distributions installed in a venv, by their metadata folders."""
    return sorted(path.name.split("-")[0].lower() for path in folder.glob("lib/python*/site-packages/*.dist-info"))


def install(folder: Path) -> dict:
    return {"venv": str(folder), "megabytes": megabytes(folder), "packages": len(packages(folder))}


def main(argv=None) -> None:
    arguments = argv or sys.argv[1:]
    if arguments[0] == "--with-ray":
        report = json.loads(REPORT.read_text())
        report["serving_with_ray"] = install(Path(arguments[1]))
        report["serving_has_tensorflow"] |= "tensorflow" in packages(Path(arguments[1]))
    else:
        full, serving = (Path(argument) for argument in arguments)
        report = {
            "command": "make test-serving",
            "full": install(full),
            "serving": install(serving),
            "serving_has_tensorflow": "tensorflow" in packages(serving),
        }
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    sizes = ", ".join(
        f"{name} {report[name]['megabytes']:,} MB" for name in ("full", "serving", "serving_with_ray") if name in report
    )
    print(f"install sizes: {sizes}")


if __name__ == "__main__":
    main()
