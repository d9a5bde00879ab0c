"""The size on disk of the full install and of the serving install: reports/install_size.json.

    python -m benchmarks.install_size FULL_VENV SERVING_VENV

`make test-serving` runs it after the serving venv's tests have passed.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def megabytes(folder: Path) -> int:
    """The bytes of every file below `folder` (links not followed), in MB."""
    return round(sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6)


def packages(folder: Path) -> list[str]:
    """The distributions installed in a venv, by their metadata folders."""
    return sorted(path.name.split("-")[0].lower() for path in folder.glob("lib/python*/site-packages/*.dist-info"))


def main(argv=None) -> None:
    full, serving = (Path(argument) for argument in (argv or sys.argv[1:]))
    report = {
        "command": "make test-serving",
        "full": {"venv": str(full), "megabytes": megabytes(full), "packages": len(packages(full))},
        "serving": {"venv": str(serving), "megabytes": megabytes(serving), "packages": len(packages(serving))},
        "serving_has_tensorflow": "tensorflow" in packages(serving),
    }
    (ROOT / "reports" / "install_size.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"full install {report['full']['megabytes']:,} MB, serving install {report['serving']['megabytes']:,} MB")


if __name__ == "__main__":
    main()
