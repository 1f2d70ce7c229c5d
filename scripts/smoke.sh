#!/usr/bin/env bash
# Smoke test of the built binary with real clients: boto3 and the aws CLI
# drive the workflow slice; then the server is stopped with SIGTERM and
# restarted on the same data directory, and the CLI checks nothing was lost.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/slipway" ./cmd/slipway

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_MAX_ATTEMPTS=1 AWS_PAGER=""

start() {
  "$work/slipway" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --log-level warn --check-responses 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "$url/_slipway/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "slipway did not start" >&2
  exit 1
}

start
python3 scripts/smoke_boto3.py "$url"
passed=3 # smoke_boto3.py's imagebuilder, transfer and image build sections; set -e stops at a failure
server=$(python3 scripts/smoke_sftp.py "$url" "$work")
echo "transfer sftp (boto3 + sftp): ok"
passed=$((passed + 1))
python3 scripts/smoke_workflow.py "$url" "$work"
echo "transfer workflow (boto3 + sftp + send_workflow_step_state): ok"
passed=$((passed + 1))

aws="aws --endpoint-url $url"
$aws imagebuilder list-workflows --owner Amazon --query 'length(workflowVersionList)' | grep -qx 3
arn=$($aws imagebuilder create-workflow --name cli-flow --semantic-version 2.1.0 --type TEST \
  --data $'schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n' \
  --tags owner=cli --query workflowBuildVersionArn --output text)
[ "$arn" = "arn:aws:imagebuilder:us-east-1:000000000000:workflow/test/cli-flow/2.1.0/1" ]
if $aws imagebuilder get-workflow --workflow-build-version-arn "${arn%/1}/9" 2>"$work/err"; then
  echo "get of a missing build succeeded" >&2; exit 1
fi
grep -q ResourceNotFoundException "$work/err"
wid=$($aws transfer create-workflow --description "cli workflow" \
  --steps '[{"Type":"TAG","TagStepDetails":{"Name":"t","Tags":[{"Key":"k","Value":"v"}]}}]' \
  --tags Key=owner,Value=cli --query WorkflowId --output text)
$aws transfer list-workflows --query 'Workflows[].WorkflowId' --output text | grep -q "$wid"
if $aws transfer describe-workflow --workflow-id w-00000000000000000 2>"$work/err"; then
  echo "describe of a missing workflow succeeded" >&2; exit 1
fi
grep -q ResourceNotFoundException "$work/err"

# Restart on the same data directory: everything is still there.
kill -TERM "$pid"
wait "$pid"
start
[ "$($aws imagebuilder get-workflow --workflow-build-version-arn "$arn" --query workflow.tags.owner --output text)" = cli ]
[ "$($aws transfer describe-workflow --workflow-id "$wid" --query Workflow.Description --output text)" = "cli workflow" ]
[ "$($aws imagebuilder list-workflows --query 'length(workflowVersionList)')" = 6 ]
[ "$($aws imagebuilder list-images --query 'imageVersionList[0].name' --output text)" = boto-recipe ]
# The SFTP server listens again with its host key, and its file is still there.
$aws transfer wait server-online --server-id "$server"
$aws s3 cp s3://smoke-drop/in/hello.txt - | grep -qx "hello over sftp"
[ "$($aws s3api get-object-tagging --bucket smoke-drop --key in/hello.txt --query 'TagSet[0].Value' --output text)" = boto3 ]
port=${server##*[a-f]}
printf 'get hello.txt again.txt\n' >"$work/batch2"
(cd "$work" && sftp -b batch2 -i id_smoke -P "$port" -o StrictHostKeyChecking=yes -o UserKnownHostsFile=known_hosts-smoker \
  -o BatchMode=yes smoker@127.0.0.1 >/dev/null)
grep -qx "hello over sftp" "$work/again.txt"
echo "aws cli: ok"
passed=$((passed + 1))
# Every response boto3 and the CLI got matched the model's output shape.
if grep "response does not match the model" "$work/server.log"; then
  echo "smoke: responses broke the model's output shapes" >&2
  exit 1
fi
echo "smoke: $passed passed, 0 failed"
