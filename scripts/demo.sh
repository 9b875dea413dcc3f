#!/usr/bin/env bash
# The whole jit story on this machine, against a real IAM API (moto_server on
# loopback) and real git repositories in a temp dir:
#   validate -> plan -> apply -> status -> clock moves past expiry -> apply
#   -> the revocation commit -> plan shows no changes.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

# shellcheck source=lib/moto.sh
source scripts/lib/moto.sh
ensure_moto
start_moto
work="$(mktemp -d)"
cleanup() { stop_moto; rm -rf "$work"; }
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Building jit"
cargo build --quiet
jit="$repo_root/target/debug/jit"
export PATH="$(dirname "$jit"):$PATH"
py="$(dirname "$JIT_MOTO_SERVER")/python"

step "Creating the IAM users of examples/acme in moto ($AWS_ENDPOINT_URL)"
"$py" - <<'PY'
import boto3
iam = boto3.client("iam")
for name in ["alice", "bob", "carol", "dave", "erin", "frank"]:
    iam.create_user(UserName=name)
print("created users:", ", ".join(u["UserName"] for u in iam.list_users()["Users"]))
PY

step "Building an access repo from examples/acme with approved merges"
git init --quiet --bare "$work/origin.git"
git init --quiet -b main "$work/access"
cd "$work/access"
git remote add origin "$work/origin.git"
commit_as() { # name email date message...
    local name=$1 email=$2 date=$3; shift 3
    GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_AUTHOR_DATE=$date \
    GIT_COMMITTER_NAME="Forge" GIT_COMMITTER_EMAIL="forge@acme.example" GIT_COMMITTER_DATE=$date \
        git commit --quiet "$@"
}
cp -r "$repo_root/examples/acme/." .
mv requests /tmp/jit-demo-requests-$$ && mkdir requests
git add -A
commit_as Erin erin@acme.example 2026-11-23T08:00:00Z -m "Acme access definitions"
cp /tmp/jit-demo-requests-$$/alice-inc-1234.hcl requests/
git add -A
commit_as Alice alice@acme.example 2026-11-23T09:00:00Z -m "Request prod-db-read for INC-1234 (#12)" \
    -m "Approved-by: Bob <bob@acme.example>"
cp /tmp/jit-demo-requests-$$/dave-logs-triage.hcl requests/
git add -A
commit_as Dave dave@acme.example 2026-11-23T09:10:00Z -m "Read-only triage of prod logs (#13)"
cp /tmp/jit-demo-requests-$$/frank-s3-backfill.hcl requests/
git add -A
commit_as Frank frank@acme.example 2026-11-23T09:20:00Z -m "S3 backfill of exports (#14)" \
    -m "Approved-by: Bob <bob@acme.example>
Approved-by: Erin <erin@acme.example>"
rm -rf /tmp/jit-demo-requests-$$
git push --quiet origin main
git log --format='  %h %an: %s%n%(trailers:key=Approved-by,separator=%x2C )' | sed '/^$/d'

export JIT_NOW=2026-11-23T09:30:00Z
step "jit validate"
run jit validate

step "jit plan   (JIT_NOW=$JIT_NOW)"
run jit plan

step "jit apply --auto-approve"
run jit apply --auto-approve

step "What IAM holds now"
"$py" - <<'PY'
import boto3, json
iam = boto3.client("iam")
for user in ["alice", "dave", "frank"]:
    for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
        doc = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        cond = doc["Statement"][0]["Condition"]
        print(f"  user/{user}: inline {name}  window {cond['DateGreaterThan']['aws:CurrentTime']} .. {cond['DateLessThan']['aws:CurrentTime']}")
    for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
        print(f"  user/{user}: managed {p['PolicyArn']}")
PY

step "jit status"
run jit status

export JIT_NOW=2026-11-23T10:15:00Z
step "The clock moves past dave's expiry (JIT_NOW=$JIT_NOW; a scheduled CI run): jit plan"
run jit plan

step "jit apply --auto-approve: revoke in IAM, then commit the archive move and push"
run jit apply --auto-approve

export JIT_NOW=2026-11-23T11:05:00Z
step "And past alice's (JIT_NOW=$JIT_NOW): jit apply --auto-approve"
run jit apply --auto-approve

step "The revocation commit on origin (git log -1 --format=%B)"
git --git-dir="$work/origin.git" log -2 --format='%h %an <%ae>%n%B' main

step "jit plan: nothing left to do"
run jit plan --detailed-exitcode

step "jit audit: the story as auditors read it, from git history"
run jit audit

step "jit audit --verify: every grant approved, and revoked on time?"
run jit audit --verify
echo
echo "Demo complete."
