#!/usr/bin/env bash
# Measure syncing over an emulated rural link (64 kbit/s, 300 ms, 2 % loss; a cut; 30 % loss;
# a five-minute story):
#   bash scripts/bench_link.sh [--json] [--tcp reno] [--runs story]
#        (--tcp: congestion control, else the machine's; --runs: some of transfer, interrupted,
#        loss30, story; all take 10 to 30 minutes)
# scripts/bench_link.py does the measuring and says how. This wrapper installs what it needs
# (the next machine starts bare) and makes sure no namespace outlives it. Where namespaces
# cannot be made (not root, a container that forbids them) or the tools cannot be installed, it
# says so and exits 0 without a figure: the benchmark is not a test to fail.
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

usage() {
  echo "usage: bash scripts/bench_link.sh [--json] [--tcp CONGESTION_CONTROL] [--runs LIST]" >&2
  exit 2
}
JSON=0 ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --json) JSON=1; ARGS+=("$1") ;;
    --tcp|--runs) [ $# -ge 2 ] || usage; ARGS+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,10p' "$0" | cut -c3-; exit 0 ;;
    *) usage ;;
  esac
  shift
done

skip() {
  if [ "$JSON" = 1 ]; then printf '{"skipped": "%s"}\n' "$1"
  else echo "bench_link: skipped: $1"; fi
  exit 0
}

# quietly COMMAND...: run it with its chatter in a log, shown (on stderr) only if it fails.
quietly() {
  local log rc=0
  log=$(mktemp)
  ( "$@" ) >"$log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || cat "$log" >&2
  rm -f "$log"
  return "$rc"
}

[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null 2>&1 || quietly apt_install iproute2 \
  || skip "iproute2 could not be installed"

# Names of this run only (the PID), so two runs never share a namespace.
PREFIX="ibl$$"
cleanup() {
  local ns pid
  for ns in "$PREFIX-node" "$PREFIX-hub" "$PREFIX-probe"; do
    ip netns list | awk '{print $1}' | grep -qx "$ns" || continue
    # Only processes of this run are in its namespaces: the driver's, if it died hard.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$PREFIX-probe" 2>/dev/null \
  || skip "ip netns add failed: network namespaces are not allowed here"
ip netns del "$PREFIX-probe"

echo "Checking the tools (installed once) ..." >&2
quietly ensure_venv || skip "the virtual environment could not be made"
# The hub's extra (PyAV) makes the five-minute story of the story run.
quietly install_project hub || skip "Infocentre could not be installed"
quietly compile_catalogues || skip "the catalogues could not be compiled"
# nftables for loss and cuts, iptables for the NFQUEUE target (this kernel has no nft queue),
# libnetfilter-queue and a compiler for the delay helper's Python binding.
quietly apt_install nftables iptables libnetfilter-queue-dev gcc libc6-dev \
  || skip "nftables, iptables or libnetfilter-queue could not be installed"
if ! "$VENV/bin/python" -c "import netfilterqueue" 2>/dev/null; then
  if ! "$VENV/bin/python" -c 'import os, sysconfig
raise SystemExit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))'; then
    quietly apt_install python3-dev || skip "python3-dev could not be installed"
  fi
  quietly "$VENV/bin/python" -m pip install --disable-pip-version-check netfilterqueue \
    || skip "netfilterqueue could not be installed"
fi

# The driver runs in the background so that Ctrl+C or a TERM reaches it at once (bash runs a
# trap only once its foreground command ends); it then tears its namespaces down itself.
"$VENV/bin/python" "$ROOT/scripts/bench_link.py" --prefix "$PREFIX" "${ARGS[@]}" &
DRIVER=$!
trap 'kill -TERM "$DRIVER" 2>/dev/null || true' INT TERM
while :; do
  rc=0
  wait "$DRIVER" || rc=$?
  kill -0 "$DRIVER" 2>/dev/null || break  # a signal ended the wait, not the driver
done
exit "$rc"
