#!/usr/bin/env bash
# Checkout: Jenkins has already checked the commit out (`checkout scm`); this
# stage pins down what is being built, so every later stage and report names
# the same commit and build number, and clears reports left by an earlier build.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=jenkins/lib/ledger.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ledger.sh"

# Reports of a previous build in a reused workspace must not be mistaken for this one's.
for f in stages.log build-info.json gitleaks.json gitleaks.sarif trivy.json sbom.cdx.json \
  gate-secrets.junit.xml gate-secrets.summary.json gate-container.junit.xml \
  gate-container.summary.json image.env deploy.env smoke.json; do
  rm -f -- "${SRP_REPORTS_DIR:?}/$f"
done

stage_begin Checkout
need git jq

git -C "$SRP_ROOT" rev-parse --git-dir >/dev/null 2>&1 || die "$SRP_ROOT is not a git checkout"
head="$(git -C "$SRP_ROOT" rev-parse HEAD)"
commit="$(git_commit)"
[[ $commit == "$head" ]] || die "GIT_COMMIT=$commit but the checkout is at $head"
[[ -f $SRP_ROOT/Cargo.lock ]] || die "Cargo.lock is missing: builds must be reproducible (--locked)"

dirty="$(git -C "$SRP_ROOT" status --porcelain --untracked-files=no)"
if [[ -n $dirty ]]; then
  if is_jenkins; then
    printf '%s\n' "$dirty" >&2
    die "the checkout has modified tracked files: a Jenkins build must be exactly the commit"
  fi
  log "WARNING: modified tracked files: this local build is NOT exactly commit $head"
fi

branch="${BRANCH_NAME:-${GIT_BRANCH:-$(git -C "$SRP_ROOT" rev-parse --abbrev-ref HEAD)}}"
jq -n --arg build "$BUILD_NUMBER" --arg commit "$commit" --arg short "${commit:0:12}" \
  --arg branch "$branch" --arg mode "$SRP_PIPELINE_MODE" --argjson dirty "$([[ -n $dirty ]] && echo true || echo false)" \
  '{build: $build, commit: $commit, short_commit: $short, branch: $branch, mode: $mode, dirty: $dirty}' \
  >"$SRP_REPORTS_DIR/build-info.json"
log "building commit $commit (branch $branch) as build $BUILD_NUMBER"
# A new build starts a new ledger queue (what an earlier one left is dropped).
ledger_reset
