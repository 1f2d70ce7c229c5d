"""Smoke run of a Transfer managed workflow with boto3 and OpenSSH sftp.

Creates a bucket, a workflow (CUSTOM, then COPY to the user's folder), a
server that runs it on upload and a user, all with boto3; uploads with sftp
in batch mode; finds the waiting CUSTOM step (no Lambda is configured, so
its event is read from /_slipway/transfer/invocations), answers it with
send_workflow_step_state, and sees the copy with boto3's s3 client."""
import json
import os
import sys
import time
import urllib.request

from smokeutil import clients, new_key, sftp_batch

url, work = sys.argv[1], sys.argv[2]
tf, s3 = clients(url)

s3.create_bucket(Bucket="smoke-flow")
wid = tf.create_workflow(
    Description="smoke workflow",
    Steps=[
        {"Type": "CUSTOM", "CustomStepDetails": {"Name": "approve", "TimeoutSeconds": 300,
                                                 "Target": "arn:aws:lambda:us-east-1:000000000000:function:approve"}},
        {"Type": "COPY", "CopyStepDetails": {"Name": "deliver", "SourceFileLocation": "${previous.file}",
                                             "DestinationFileLocation": {"S3FileLocation": {"Bucket": "smoke-flow", "Key": "delivered/${transfer:UserName}/"}}}},
    ])["WorkflowId"]
server = tf.create_server(WorkflowDetails={"OnUpload": [{"WorkflowId": wid, "ExecutionRole": "arn:aws:iam::000000000000:role/wf"}]})["ServerId"]
tf.get_waiter("server_online").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
key = new_key(work, "id_flow")
tf.create_user(ServerId=server, UserName="flowuser", Role="arn:aws:iam::000000000000:role/smoke",
               HomeDirectory="/smoke-flow/in", SshPublicKeyBody=open(key + ".pub").read())
with open(os.path.join(work, "order.csv"), "w") as f:
    f.write("id,qty\n1,3\n")
sftp_batch(work, key, server, "flowuser", "put order.csv\n")

execs = []
for _ in range(100):
    execs = tf.list_executions(WorkflowId=wid)["Executions"]
    if execs:
        break
    time.sleep(0.05)
assert len(execs) == 1 and execs[0]["Status"] == "IN_PROGRESS", execs
exe = execs[0]["ExecutionId"]
assert execs[0]["InitialFileLocation"]["S3FileLocation"]["Key"] == "in/order.csv", execs
token = None
for _ in range(100):
    waiting = json.load(urllib.request.urlopen(url + "/_slipway/transfer/invocations"))["invocations"]
    token = next((w["token"] for w in waiting if w["executionId"] == exe), None)
    if token:
        break
    time.sleep(0.05)
assert token, "no waiting CUSTOM step"
described = tf.describe_execution(WorkflowId=wid, ExecutionId=exe)["Execution"]
assert described["ServiceMetadata"]["UserDetails"]["UserName"] == "flowuser", described
try:
    tf.send_workflow_step_state(WorkflowId=wid, ExecutionId=exe, Token="wrong" + token, Status="SUCCESS")
    raise SystemExit("a wrong token was accepted")
except tf.exceptions.InvalidRequestException:
    pass
tf.send_workflow_step_state(WorkflowId=wid, ExecutionId=exe, Token=token, Status="SUCCESS")
s3.get_waiter("object_exists").wait(Bucket="smoke-flow", Key="delivered/flowuser/order.csv", WaiterConfig={"Delay": 1, "MaxAttempts": 15})
assert s3.get_object(Bucket="smoke-flow", Key="delivered/flowuser/order.csv")["Body"].read() == b"id,qty\n1,3\n"
logs = json.load(urllib.request.urlopen(url + "/_slipway/transfer/logs?serverId=" + server))["events"]
types = [json.loads(e["message"])["type"] for e in logs]
assert types == ["ExecutionStarted", "StepStarted", "StepCompleted", "StepStarted", "StepCompleted", "ExecutionCompleted"], types
