"""Smoke run of a Transfer server with boto3, the aws CLI and OpenSSH sftp.

Creates a bucket, a server and a user with boto3, waits with boto3's
server_online waiter, uploads with sftp in batch mode, and reads the object
back with boto3's s3 client. Prints the server ID for the restart check."""
import os
import subprocess
import sys
import tempfile

import boto3

url, work = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
tf = boto3.client("transfer", **kw)
s3 = boto3.client("s3", **kw)

s3.create_bucket(Bucket="smoke-drop")
key = os.path.join(work, "id_smoke")
subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
server = tf.create_server(Tags=[{"Key": "smoke", "Value": "yes"}])["ServerId"]
tf.get_waiter("server_online").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
tf.create_user(ServerId=server, UserName="smoker", Role="arn:aws:iam::000000000000:role/smoke",
               HomeDirectory="/smoke-drop/in", SshPublicKeyBody=open(key + ".pub").read())
port = int(server[len(server.rstrip("0123456789")):])

with open(os.path.join(work, "hello.txt"), "w") as f:
    f.write("hello over sftp\n")
batch = os.path.join(work, "batch")
with open(batch, "w") as f:
    f.write("put hello.txt\nls -l\n")
subprocess.run(["sftp", "-b", batch, "-i", key, "-P", str(port), "-o", "StrictHostKeyChecking=accept-new",
                "-o", "UserKnownHostsFile=" + os.path.join(work, "known_hosts"), "-o", "BatchMode=yes",
                "smoker@127.0.0.1"], check=True, cwd=work, stdout=subprocess.DEVNULL)
body = s3.get_object(Bucket="smoke-drop", Key="in/hello.txt")
assert body["Body"].read() == b"hello over sftp\n", body
assert body["Metadata"]["user-agent"] == "AWSTransfer", body["Metadata"]
s3.put_object_tagging(Bucket="smoke-drop", Key="in/hello.txt", Tagging={"TagSet": [{"Key": "seen", "Value": "boto3"}]})
tf.stop_server(ServerId=server)
tf.get_waiter("server_offline").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
tf.start_server(ServerId=server)
tf.get_waiter("server_online").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
print(server)
