# Helpers shared by the benchmark scripts (sourced, not run).

# copy_usr_rootfs DIR SIZE_MB: directories of this machine's /usr copied into DIR until about
# SIZE_MB; prints the megabytes copied.
copy_usr_rootfs() {
  local rootfs="$1" size_mb="$2" total=0 d entry s
  mkdir -p "$rootfs/usr"
  for d in /usr/lib/x86_64-linux-gnu /usr/share /usr/bin /usr/lib /usr/libexec; do
    [ -d "$d" ] || continue
    for entry in "$d"/*; do
      [ "$total" -ge $((size_mb * 1024)) ] && break 2
      s=$(du -sk "$entry" 2>/dev/null | cut -f1)
      mkdir -p "$rootfs$(dirname "$entry")"
      cp -a "$entry" "$rootfs$(dirname "$entry")/" 2>/dev/null || true
      total=$((total + s))
    done
  done
  echo $((total / 1024))
}

# Median wall time in ms of a command run $runs times, with `before` run (untimed) first each time.
timed() {
  python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs = int(sys.argv[1])
sep = sys.argv.index("--")
before, cmd = sys.argv[2:sep], sys.argv[sep + 1:]
times = []
for _ in range(runs):
    if before:
        subprocess.run(before, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times.append((time.perf_counter() - t) * 1000)
print("%.0f" % statistics.median(times))
PY
}

# ratio A B: A / B as `12.3x`.
ratio() { python3 -c "print('%.1fx' % ($1 / max($2, 1)))"; }
