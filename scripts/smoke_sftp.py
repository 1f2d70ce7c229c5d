"""Smoke run of a Transfer server with boto3, the aws CLI and OpenSSH sftp.

Creates a bucket, a server and a user with boto3, waits with boto3's
server_online waiter, uploads with sftp in batch mode, and reads the object
back with boto3's s3 client. Prints the server ID for the restart check."""
import os
import sys

from smokeutil import clients, new_key, sftp_batch

url, work = sys.argv[1], sys.argv[2]
tf, s3 = clients(url)

s3.create_bucket(Bucket="smoke-drop")
key = new_key(work, "id_smoke")
server = tf.create_server(Tags=[{"Key": "smoke", "Value": "yes"}])["ServerId"]
tf.get_waiter("server_online").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
tf.create_user(ServerId=server, UserName="smoker", Role="arn:aws:iam::000000000000:role/smoke",
               HomeDirectory="/smoke-drop/in", SshPublicKeyBody=open(key + ".pub").read())
with open(os.path.join(work, "hello.txt"), "w") as f:
    f.write("hello over sftp\n")
sftp_batch(work, key, server, "smoker", "put hello.txt\nls -l\n")
body = s3.get_object(Bucket="smoke-drop", Key="in/hello.txt")
assert body["Body"].read() == b"hello over sftp\n", body
assert body["Metadata"]["user-agent"] == "AWSTransfer", body["Metadata"]
s3.put_object_tagging(Bucket="smoke-drop", Key="in/hello.txt", Tagging={"TagSet": [{"Key": "seen", "Value": "boto3"}]})
tf.stop_server(ServerId=server)
tf.get_waiter("server_offline").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
tf.start_server(ServerId=server)
tf.get_waiter("server_online").wait(ServerId=server, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
print(server)
