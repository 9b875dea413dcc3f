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

step "IAM Identity Center in moto: its instance, and grace in its Identity Store (she has no IAM user)"
read -r sso_instance sso_store < <("$py" - <<'PY'
import boto3
i = boto3.client("sso-admin").list_instances()["Instances"][0]
print(i["InstanceArn"], i["IdentityStoreId"])
PY
)
export sso_instance sso_store
"$py" - <<'PY'
import boto3, os
store = boto3.client("identitystore")
user = store.create_user(IdentityStoreId=os.environ["sso_store"], UserName="grace@acme.example",
                         DisplayName="Grace", Name={"GivenName": "Grace", "FamilyName": "Hopper"})
print(f"instance {os.environ['sso_instance']}, identity store {os.environ['sso_store']}")
print("created Identity Store user grace@acme.example:", user["UserId"])
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
# The example names a placeholder instance: use moto's.
sed -i "s|arn:aws:sso:::instance/ssoins-0123456789abcdef|$sso_instance|; s|d-1234567890|$sso_store|" jit.hcl
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
cat > requests/grace-dev-debug.hcl <<'HCL'
request "grace-dev-debug" {
  requester = "grace"
  contract  = "dev-sso-debug"
  duration  = "2h"
  reason    = "DEV-7: debug the payments service in dev from the access portal"
}
HCL
git add -A
commit_as Grace grace@acme.example 2026-11-23T09:25:00Z -m "Debug payments in dev through the access portal (#15)" \
    -m "Approved-by: Bob <bob@acme.example>"
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

step "What IAM Identity Center holds now"
"$py" - <<'PY'
import boto3, json, os
sso = boto3.client("sso-admin")
instance = os.environ["sso_instance"]
for arn in sso.list_permission_sets(InstanceArn=instance)["PermissionSets"]:
    ps = sso.describe_permission_set(InstanceArn=instance, PermissionSetArn=arn)["PermissionSet"]
    doc = json.loads(sso.get_inline_policy_for_permission_set(InstanceArn=instance, PermissionSetArn=arn)["InlinePolicy"])
    cond = doc["Statement"][0]["Condition"]
    print(f"  permission set {ps['Name']}  session {ps['SessionDuration']}  window {cond['DateGreaterThan']['aws:CurrentTime']} .. {cond['DateLessThan']['aws:CurrentTime']}")
    for a in sso.list_account_assignments(InstanceArn=instance, AccountId="210987654321", PermissionSetArn=arn)["AccountAssignments"]:
        print(f"    assigned in {a['AccountId']} (dev) to {a['PrincipalType']} {a['PrincipalId']}")
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

export JIT_NOW=2026-11-23T11:30:00Z
step "And past grace's (JIT_NOW=$JIT_NOW): the permission set goes, assignment first"
run jit plan
run jit apply --auto-approve
"$py" - <<'PY'
import boto3, os
sso = boto3.client("sso-admin")
left = sso.list_permission_sets(InstanceArn=os.environ["sso_instance"])["PermissionSets"]
print("  permission sets left:", left)
PY

step "The revocation commits on origin"
git --git-dir="$work/origin.git" log -3 --format='%h %an <%ae>%n%B' main

step "jit plan: nothing left to do"
run jit plan --detailed-exitcode

step "jit audit: the story as auditors read it, from git history"
run jit audit

step "jit audit --verify: every grant approved, and revoked on time?"
run jit audit --verify
echo
echo "Demo complete."
