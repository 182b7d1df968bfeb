#!/usr/bin/env bash
# Build: the test suite, then the container image tagged with BUILD_NUMBER and
# the commit. Without a Docker engine (local runs only) the binaries are built
# with cargo instead and the log says the image was not built.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=jenkins/lib/ledger.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ledger.sh"
stage_begin Build

commit="$(built_commit)"
short="${commit:0:12}"
image="${SRP_IMAGE:-srp-api}"
# build.rs of srp-api embeds these in /version; the smoke test checks them.
export SRP_BUILD_NUMBER="$BUILD_NUMBER" SRP_GIT_COMMIT="$commit"

if [[ ${SRP_SKIP_TESTS:-0} == 1 ]]; then
  is_jenkins && die "SRP_SKIP_TESTS=1 is for local runs only"
  log "test suite SKIPPED (SRP_SKIP_TESTS=1): this build is not tested"
else
  test_cmd="${SRP_TEST_CMD:-cargo test --workspace --locked}"
  log "test suite: $test_cmd"
  (cd "$SRP_ROOT" && bash -c "$test_cmd") || die "the test suite failed"
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  log "building image $image:$BUILD_NUMBER ($image:$short)"
  docker build --pull -f "$SRP_ROOT/deploy/Dockerfile" \
    --build-arg "SRP_BUILD_NUMBER=$BUILD_NUMBER" --build-arg "SRP_GIT_COMMIT=$commit" \
    -t "$image:$BUILD_NUMBER" -t "$image:$short" "$SRP_ROOT"
  printf 'SRP_IMAGE_REF=%s\nSRP_IMAGE_BUILT=1\n' "$image:$BUILD_NUMBER" >"$SRP_REPORTS_DIR/image.env"
else
  is_jenkins && die "no Docker engine on this Jenkins agent: the image cannot be built"
  profile="${SRP_CARGO_PROFILE:-release}"
  read -r -a packages <<<"${SRP_BUILD_PACKAGES:-}"
  pkg_args=(--workspace)
  if ((${#packages[@]})); then
    pkg_args=()
    for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done
  fi
  log "no Docker engine here: image build SKIPPED; building the binaries with cargo (profile $profile)"
  (cd "$SRP_ROOT" && cargo build --locked --profile "$profile" --bins "${pkg_args[@]}") ||
    die "cargo build failed"
  printf 'SRP_IMAGE_REF=%s\nSRP_IMAGE_BUILT=0\nSRP_BIN_DIR=%s\n' \
    "$image:$BUILD_NUMBER" "$(cargo_profile_dir "$profile")" >"$SRP_REPORTS_DIR/image.env"
fi

# The release in the ledger: this build, its commit and the image. The digest
# is the local image id when an image was built (the registry digest exists
# only after a push).
if ledger_enabled; then
  digest=null
  if grep -q '^SRP_IMAGE_BUILT=1' "$SRP_REPORTS_DIR/image.env"; then
    id="$(docker image inspect --format '{{.Id}}' "$image:$BUILD_NUMBER" 2>/dev/null || true)"
    [[ -n $id ]] && digest="$(jq -n --arg d "$id" '$d')"
  fi
  commit_time="$(git -C "$SRP_ROOT" show -s --format=%cI "$commit" 2>/dev/null || date -u +%FT%TZ)"
  release="$(jq -n --argjson build "$BUILD_NUMBER" --arg sha "$commit" --arg time "$commit_time" \
    --arg image "$image:$BUILD_NUMBER" --argjson digest "$digest" \
    '{build: $build, commit_sha: $sha, commit_time: $time, image: $image, digest: $digest}')"
  ledger_queue "release $BUILD_NUMBER" POST /releases "$release" || true
fi
