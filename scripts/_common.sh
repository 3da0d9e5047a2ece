# Shared by scripts/run and scripts/test (sourced, not run): a .venv with the project installed
# in editable mode and the catalogues compiled. Safe to run again: finished steps are skipped.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "Please run as root, or install: ${*: -1}" >&2; exit 1
  fi
}

# apt_install PACKAGE...: install the Debian packages that are missing (nothing if none is).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Please install these packages: ${missing[*]}" >&2; exit 1
  fi
  echo "Installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_venv() {
  [ -x "$VENV/bin/python" ] && return 0
  command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3
  # Debian's python3 makes no virtual environment until python3-venv is installed.
  local probe; probe=$(mktemp -d)
  if ! "$PYTHON" -m venv "$probe/v" >/dev/null 2>&1; then apt_install python3-venv; fi
  rm -rf "$probe"
  echo "Creating $VENV"
  "$PYTHON" -m venv "$VENV"
}

# install_project [EXTRA]: pip install -e .[EXTRA] with the pinned versions of constraints.txt,
# again only when one of the files that decide it has changed.
install_project() {
  local extra=${1:-} spec="$ROOT" stamp hash
  [ -n "$extra" ] && spec="$ROOT[$extra]"
  stamp="$VENV/.installed${extra:+-$extra}"
  hash=$(cat "$ROOT"/{setup.cfg,setup.py,pyproject.toml,constraints.txt} | sha256sum | cut -c1-16)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && return 0
  echo "Installing Infocentre${extra:+ with its $extra tools} into $VENV"
  # pip's and setuptools' chatter goes to a log, shown only if the install fails.
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade -c "$ROOT/constraints.txt" pip setuptools wheel &&
         "$VENV/bin/python" -m pip install --disable-pip-version-check -c "$ROOT/constraints.txt" -e "$spec"; } >"$VENV/install.log" 2>&1; then
    cat "$VENV/install.log" >&2
    echo "Installing failed; the log above is also in $VENV/install.log" >&2
    exit 1
  fi
  echo "$hash" > "$stamp"
}

# install_desktop: the kiosk window (`infocentre desktop`): WebKitGTK from Debian, and the
# desktop extra, whose PyGObject and pycairo build from source (no wheels for Linux).
install_desktop() {
  local headers=()
  "$VENV/bin/python" -c 'import os, sysconfig
raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_path("include"), "Python.h")))' ||
    headers=(python3-dev)
  apt_install gir1.2-webkit2-4.1 libgirepository1.0-dev libcairo2-dev pkg-config gcc "${headers[@]}"
  install_project desktop
}

compile_catalogues() {
  "$VENV/bin/python" "$ROOT/scripts/catalogues.py" compile
}
