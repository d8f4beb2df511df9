# Sourced by .ci/run and scripts/image-setup.sh: where pip is configured with a local package index (a file://
# extra-index-url, as on the CI machine image), use it alone — otherwise pip retries the unreachable public index
# for minutes. On a normal machine nothing changes and the public index is used. PIP_INDEX_URL set by the caller wins.
if [ -z "${PIP_INDEX_URL:-}" ]; then
  read -r -a D2L_LOCAL_IDX <<<"$(python3 -m pip config get global.extra-index-url 2>/dev/null || true)"
  if [ "${#D2L_LOCAL_IDX[@]}" -gt 0 ] && [[ "${D2L_LOCAL_IDX[0]}" == file://* ]]; then
    export PIP_INDEX_URL="${D2L_LOCAL_IDX[0]}" PIP_EXTRA_INDEX_URL="${D2L_LOCAL_IDX[*]:1}"
  fi
  unset D2L_LOCAL_IDX
fi
