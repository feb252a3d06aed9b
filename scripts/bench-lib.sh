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
