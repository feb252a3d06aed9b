#!/usr/bin/env bash
# Times `scompose bridge convert` (load, convert, write the files) on a generated 200-service
# compose file (scripts/gen-services.py: environment, ports, named and bind volumes,
# depends_on, healthchecks on every service), release build, median of RUNS runs: the load and
# conversion alone (--dry-run), and the whole command. The bar is 100 ms.
#
#   scripts/bench-bridge.sh [SERVICES] [RUNS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
services="${1:-200}"
runs="${2:-15}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ]; then
  (cd "$root" && swift build -c release --product scompose --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/gen-services.py" "$services" > "$work/compose.yaml"

time_ms() {
  (cd "$work" && python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, argv = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(runs):
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t)
print("%.1f" % (statistics.median(times) * 1000))
PY
)
}
# Load and convert only (the global --dry-run writes nothing), then the whole command
# rewriting the same output directory, as a re-run does.
converted="$(time_ms "$bin" -f compose.yaml --dry-run bridge convert -o out)"
(cd "$work" && "$bin" -f compose.yaml bridge convert -o out 2>/dev/null)
written="$(time_ms "$bin" -f compose.yaml bridge convert -o out)"
files="$(ls "$work/out" | wc -l)"
printf 'scompose bridge convert (%s services, %s files): %s ms to load and convert, %s ms with the files written\n' \
  "$services" "$files" "$converted" "$written"
