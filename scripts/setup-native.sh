#!/usr/bin/env bash
# setup-native.sh — build the native TensorFlow backend (@tensorflow/tfjs-node) offline-ish.
#
# Why this exists: tfjs-node's own install script downloads libtensorflow 2.9.1 and a prebuilt addon
# from storage.googleapis.com. Where that is unreachable the install fails and npm silently drops the
# optional package, leaving d2l-ts on the (5-8x slower) wasm backend. TensorFlow's C API, however,
# also ships inside the `tensorflow-cpu` pip wheel (libtensorflow_cc.so.2 exports TF_*/TFE_*), so we
# take the shared libraries and C headers from that wheel and compile the N-API binding against them.
# The measurements behind this recipe: the project's reference notes on tfjs backends (shared/reference/tfjs-backends.md, Q1).
#
# The binding is compiled with d2l-ts's patch (scripts/native/tfjs-node-functions.patch: graph functions, for
# compiled training steps, lib/engine/compile.ts); the built addon carries the patch's version stamp.
#
# Contract:
#   * idempotent: if the binding already loads with the current patch version, print
#     "setup:native: already built" and exit 0; an unpatched or older addon is rebuilt;
#   * never fails the install: every failing step prints ONE line
#       setup:native: skipped (<reason>); using wasm
#     and exits 0 (details of the failing step go to $CACHE/setup-native.log);
#   * writes only under node_modules/ and the cache dir, never into git-tracked files
#     (`npm install --no-save` leaves package.json and package-lock.json untouched).
#
# Environment:
#   D2L_NATIVE_CACHE   cache dir for the wheel and logs (default ~/.cache/d2l-ts/native)
#   D2L_SKIP_NATIVE=1  do nothing (e.g. CI jobs that test the wasm path)
#   D2L_TF_WHEEL       pip requirement for the wheel (default: tensorflow-cpu)
set -u -o pipefail

T_START=$(date +%s)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 0
CACHE="${D2L_NATIVE_CACHE:-$HOME/.cache/d2l-ts/native}"
LOG="$CACHE/setup-native.log"
PKG_DIR="node_modules/@tensorflow/tfjs-node"
DEPS="$PKG_DIR/deps"
# tfjs-node looks for this exact file (scripts/deps-constants.js, LIBTENSORFLOW_VERSION = '2.9.1').
LIBTF_MARKER="$DEPS/lib/libtensorflow.so.2.9.1"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"   # silence oneDNN/absl INFO lines

say() { echo "setup:native: $*"; }
elapsed() { echo "$(( $(date +%s) - T_START ))s"; }
skip() { say "skipped ($1); using wasm"; exit 0; }
# Run a step with its output appended to the log; `step "what" cmd...` returns the command's status.
step() { local what="$1"; shift; echo "=== $what: $*" >>"$LOG"; "$@" >>"$LOG" 2>&1; }

[ "${D2L_SKIP_NATIVE:-}" = "1" ] && skip "D2L_SKIP_NATIVE=1"
command -v node >/dev/null 2>&1 || skip "node not found"

# Same version as the tfjs-node pinned in package.json (so it shares @tensorflow/tfjs with the project).
TFJS_NODE_VERSION="$(node -e "const p=require('./package.json');const d={...p.dependencies,...p.optionalDependencies,...p.devDependencies};process.stdout.write(d['@tensorflow/tfjs-node']||d['@tensorflow/tfjs']||'4.22.0')" 2>/dev/null || echo 4.22.0)"

# 0. Already built? Checked in a child process: a broken binding must not take this shell down, and
#    the check must exercise the real load path (binding + libtensorflow + backend registration).
PATCH="$ROOT/scripts/native/tfjs-node-functions.patch"
PATCH_VERSION="$(sed -n 's/^ *d2lPatchVersion *\([0-9][0-9]*\).*/\1/p' "$PATCH" | head -1)"
binding_loads() {
  node -e "const tf=require('@tensorflow/tfjs-node');if(tf.getBackend()!=='tensorflow')process.exit(3);tf.tensor([1,2]).sum().dataSync()" >/dev/null 2>&1
}
binding_current() { # loads, and carries this patch's version stamp
  node -e "const tf=require('@tensorflow/tfjs-node');if(tf.getBackend()!=='tensorflow')process.exit(3);if(!(tf.backend().binding.d2lPatchVersion>=$PATCH_VERSION))process.exit(4)" >/dev/null 2>&1
}
if [ -d "$PKG_DIR" ] && binding_current; then say "already built"; exit 0; fi
if [ -d "$PKG_DIR" ] && binding_loads; then say "rebuilding: the addon lacks patch version $PATCH_VERSION (graph functions)"; fi

# The wheel trick is only known to work on Linux x86_64 (manylinux tensorflow-cpu wheels).
[ "$(uname -s)" = "Linux" ] || skip "native build from the pip wheel supports Linux only"
[ "$(uname -m)" = "x86_64" ] || skip "native build from the pip wheel supports x86_64 only"

mkdir -p "$CACHE" 2>/dev/null || skip "cannot create cache dir $CACHE"
: >"$LOG" 2>/dev/null || skip "cannot write $LOG"
say "building @tensorflow/tfjs-node@$TFJS_NODE_VERSION against the tensorflow-cpu wheel (log: $LOG)"

for tool in npm unzip make python3; do command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"; done
command -v g++ >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1 || skip "no C++ compiler (g++)"

# 1. The package itself. npm drops an optional dependency whose install script failed, so fetch it
#    again without scripts; --no-save keeps package.json and package-lock.json untouched. Sources patched
#    by an older version of our patch are fetched again too (the patch applies to pristine sources).
if [ -f "$PKG_DIR/binding/tfjs_binding.cc" ] && grep -q 'd2l_patch_version' "$PKG_DIR/binding/tfjs_binding.cc" \
  && ! grep -q "napi_create_int32(env, $PATCH_VERSION, &d2l_patch_version)" "$PKG_DIR/binding/tfjs_binding.cc"; then
  rm -rf "$PKG_DIR/binding" "$PKG_DIR/package.json"
fi
if [ ! -f "$PKG_DIR/package.json" ]; then
  say "installing @tensorflow/tfjs-node@$TFJS_NODE_VERSION (--no-save --ignore-scripts)"
  step "npm install" npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_NODE_VERSION" \
    || skip "npm install @tensorflow/tfjs-node failed"
  [ -f "$PKG_DIR/package.json" ] || skip "npm install did not create $PKG_DIR"
fi

# 2. libtensorflow + C headers from the tensorflow-cpu wheel (cached across `npm ci`s).
if [ ! -f "$LIBTF_MARKER" ] || [ ! -f "$DEPS/include/tensorflow/c/c_api.h" ]; then
  WHL="$(ls -t "$CACHE"/tensorflow_cpu-*.whl 2>/dev/null | head -1)"
  if [ -z "$WHL" ]; then
    PIP=(python3 -m pip)
    "${PIP[@]}" --version >/dev/null 2>&1 || { command -v pip >/dev/null 2>&1 && PIP=(pip); } || skip "pip not found"
    # A machine may configure a local mirror only as extra-index-url; pip then still retries the
    # (unreachable) public index for minutes. Promote a local (file:// or localhost) index to the
    # primary one when the user has not chosen PIP_INDEX_URL themselves.
    if [ -z "${PIP_INDEX_URL:-}" ]; then
      EXTRA="$("${PIP[@]}" config list 2>/dev/null | sed -n "s/^[a-z:.]*extra-index-url='\(.*\)'$/\1/p" | head -1)"
      LOCAL=""; OTHERS=""
      for u in $EXTRA; do
        case "$u" in
          file://*|http://localhost*|http://127.0.0.1*) if [ -z "$LOCAL" ]; then LOCAL="$u"; else OTHERS="$OTHERS $u"; fi ;;
          *) OTHERS="$OTHERS $u" ;;
        esac
      done
      if [ -n "$LOCAL" ]; then
        export PIP_INDEX_URL="$LOCAL"
        OTHERS="${OTHERS# }"; [ -n "$OTHERS" ] && export PIP_EXTRA_INDEX_URL="$OTHERS"
        say "using local pip index $LOCAL"
      fi
    fi
    say "downloading ${D2L_TF_WHEEL:-tensorflow-cpu} wheel into $CACHE"
    step "pip download" "${PIP[@]}" download "${D2L_TF_WHEEL:-tensorflow-cpu}" --no-deps --only-binary=:all: \
      --retries 1 --timeout 60 -d "$CACHE" || skip "pip download ${D2L_TF_WHEEL:-tensorflow-cpu} failed"
    WHL="$(ls -t "$CACHE"/tensorflow_cpu-*.whl 2>/dev/null | head -1)"
    [ -n "$WHL" ] || skip "no tensorflow_cpu wheel after pip download"
  else
    say "reusing cached wheel $(basename "$WHL")"
  fi

  TMP="$(mktemp -d "$CACHE/extract.XXXXXX")" || skip "mktemp failed"
  trap 'rm -rf "$TMP"' EXIT
  # Only the two shared libraries and the C API headers (plus the headers those include).
  step "unzip" unzip -q -o "$WHL" 'tensorflow/libtensorflow_cc.so.2' 'tensorflow/libtensorflow_framework.so.2' \
    'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*' \
    'tensorflow/include/tsl/platform/ctstring*' 'tensorflow/include/xla/tsl/c/*' -d "$TMP" \
    || skip "unzip of $(basename "$WHL") failed (wheel layout changed?)"
  [ -f "$TMP/tensorflow/libtensorflow_cc.so.2" ] || skip "wheel has no libtensorflow_cc.so.2"
  rm -rf "$DEPS" && mkdir -p "$DEPS/lib" "$DEPS/include" || skip "cannot write $DEPS"
  for d in tensorflow tsl xla; do
    [ -d "$TMP/tensorflow/include/$d" ] && cp -r "$TMP/tensorflow/include/$d" "$DEPS/include/"
  done
  mv "$TMP/tensorflow/libtensorflow_cc.so.2" "$TMP/tensorflow/libtensorflow_framework.so.2" "$DEPS/lib/" \
    || skip "cannot move libraries into $DEPS/lib"
  # binding.gyp links -ltensorflow -ltensorflow_framework; the built addon's DT_NEEDED is the wheel's
  # SONAME (libtensorflow_cc.so.2), so the real file keeps that name and the rest are symlinks.
  ( cd "$DEPS/lib" && ln -sf libtensorflow_cc.so.2 libtensorflow.so && ln -sf libtensorflow_cc.so.2 libtensorflow.so.2.9.1 \
    && ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so \
    && ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so.2.9.1 ) || skip "symlinks in $DEPS/lib failed"
  say "unpacked libtensorflow + headers from $(basename "$WHL") ($(elapsed))"
fi

# 3. Our patch (graph functions), unless these sources already carry it.
if ! grep -q 'd2l_patch_version' "$PKG_DIR/binding/tfjs_binding.cc"; then
  command -v patch >/dev/null 2>&1 || skip "patch not found"
  ( cd "$PKG_DIR" && step "patch" patch -p1 --forward -i "$PATCH" ) || skip "the binding patch did not apply (see $LOG)"
  say "patched the binding (graph functions, patch version $PATCH_VERSION)"
fi

# 4. Compile the N-API addon with node-pre-gyp → node-gyp (~10-60 s).
#    node-gyp needs Node's headers: use a configured nodedir (npm config) when there is one, so the
#    build does not try to download them from nodejs.org.
if [ -z "${npm_config_nodedir:-}" ]; then
  ND="$(npm config get nodedir 2>/dev/null | tail -1)"
  if [ -n "$ND" ] && [ "$ND" != "undefined" ] && [ -f "$ND/include/node/node_api.h" ]; then export npm_config_nodedir="$ND"; fi
fi
NPG="$(node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', {paths: ['$ROOT/$PKG_DIR', '$ROOT']})" 2>/dev/null)"
say "compiling the addon (node-pre-gyp install --build-from-source)"
if [ -n "$NPG" ] && [ -f "$NPG" ]; then
  ( cd "$PKG_DIR" && step "node-pre-gyp" node "$NPG" install --build-from-source ) || skip "addon compile failed (see $LOG)"
else
  ( cd "$PKG_DIR" && step "npx node-pre-gyp" npx --yes @mapbox/node-pre-gyp install --build-from-source ) \
    || skip "addon compile failed, node-pre-gyp unavailable (see $LOG)"
fi

# 5. Verify in a fresh process, the same way d2l-ts will load it.
binding_loads || skip "addon built but require('@tensorflow/tfjs-node') still fails (see $LOG)"
binding_current || say "warning: the addon loads but lacks graph functions; training steps run eagerly"
say "done: backend 'tensorflow' ready ($(elapsed))"
exit 0
