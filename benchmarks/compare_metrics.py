"""Compare two reports/metrics.json files, ignoring timings: exit 0 when identical, 1 otherwise.

python -m benchmarks.compare_metrics RUN1/reports/metrics.json RUN2/reports/metrics.json
"""

import json
import sys

TIMINGS = {"train_seconds"}


def main(first_path, second_path):
    first, second = (
        {key: value for key, value in json.load(open(path)).items() if key not in TIMINGS}
        for path in (first_path, second_path)
    )
    different = sorted(key for key in first.keys() | second.keys() if first.get(key) != second.get(key))
    for key in different:
        print(f"differs: {key}: {first.get(key)!r:.200} != {second.get(key)!r:.200}")
    print(f"{len(first) - len(different)} of {len(first)} entries identical (timings ignored)")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
