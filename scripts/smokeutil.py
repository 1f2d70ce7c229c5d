"""Helpers the smoke scripts share: clients for a Slipway endpoint, an SSH
key, and OpenSSH's sftp in batch mode against a Transfer server's port."""
import os
import subprocess

import boto3


def clients(url):
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    return boto3.client("transfer", **kw), boto3.client("s3", **kw)


def new_key(work, name):
    key = os.path.join(work, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    return key


def port_of(server):
    """A server listens on the port its ID ends with."""
    return int(server[len(server.rstrip("0123456789")):])


def sftp_batch(work, key, server, user, commands):
    batch = os.path.join(work, "batch-" + user)
    with open(batch, "w") as f:
        f.write(commands)
    subprocess.run(["sftp", "-b", batch, "-i", key, "-P", str(port_of(server)), "-o", "StrictHostKeyChecking=accept-new",
                    "-o", "UserKnownHostsFile=" + os.path.join(work, "known_hosts-" + user), "-o", "BatchMode=yes",
                    user + "@127.0.0.1"], check=True, cwd=work, stdout=subprocess.DEVNULL)
