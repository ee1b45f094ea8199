# shellcheck shell=bash
# Shared helpers for the scripts in scripts/. Source it; do not execute it.
#
# Everything downloaded lives under .cache/ (gitignored) so a rerun installs nothing.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache"
VENV="$CACHE/venv"

log() { printf '[%s] %s\n' "${SCRIPT_NAME:-scripts}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The Python the venv is built from: the image's 3.11 when present.
python_for_venv() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    die "no python3 found (need Python 3.11)"
}

# ensure_venv REQUIREMENTS_FILE...
# Creates .cache/venv once and pip-installs each requirements file unless a marker
# holding that file's hash says it is already installed. pip's cache is kept in
# .cache/pip so a rebuilt venv installs from local wheels.
ensure_venv() {
    mkdir -p "$CACHE"
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating Python venv in .cache/venv"
        "$(python_for_venv)" -m venv "$VENV"
    fi
    local req hash marker
    for req in "$@"; do
        hash="$(sha256sum "$req" | cut -c1-16)"
        marker="$VENV/.installed-$(basename "$req" .txt)-$hash"
        if [[ -f "$marker" ]]; then
            continue
        fi
        log "pip install -r ${req#"$ROOT"/} (cached in .cache/pip)"
        "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
            --cache-dir "$CACHE/pip" -r "$req" \
            || die "pip install -r $req failed"
        rm -f "$VENV/.installed-$(basename "$req" .txt)-"*
        touch "$marker"
    done
}

# The debug build every test step shares: every bin, test and example of the workspace in
# one cargo invocation. Building tests turns on dev-dependency features (resolver 2), so a
# bins-only or `-p` build resolves other features and compiles the whole dependency tree a
# second time (twice the disk and the time); this one yields the artifacts the test run uses.
build_debug_workspace() {
    cargo build --workspace --bins --tests --examples --locked
}
