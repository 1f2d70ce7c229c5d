#!/usr/bin/env python3
"""Drives the workflow slice of Slipway with boto3: Image Builder and
Transfer Family workflows, tags, pagination and modelled errors.

Usage: smoke_boto3.py ENDPOINT_URL
"""
import sys

import boto3
import botocore.config

URL = sys.argv[1]
CFG = botocore.config.Config(retries={"max_attempts": 1})


def client(service, region="us-east-1"):
    return boto3.client(service, endpoint_url=URL, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test", config=CFG)


def expect(exc, fn, **kwargs):
    try:
        fn(**kwargs)
    except exc as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")


DOC = """schemaVersion: 1.0
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
  - name: TerminateBuildInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
"""


def imagebuilder():
    ib = client("imagebuilder")
    arns = []
    for i in range(5):
        out = ib.create_workflow(name=f"boto-flow-{i}", semanticVersion="1.0.0", type="BUILD",
                                 data=DOC, tags={"via": "boto3"})
        arns.append(out["workflowBuildVersionArn"])
        assert out["ResponseMetadata"]["RequestId"], out
    got = ib.get_workflow(workflowBuildVersionArn=arns[0].rsplit("/", 2)[0] + "/x.x.x")["workflow"]
    assert got["arn"] == arns[0] and got["data"] == DOC and got["tags"] == {"via": "boto3"}, got

    names = []
    for page in ib.get_paginator("list_workflows").paginate(PaginationConfig={"PageSize": 2}):
        names += [w["name"] for w in page["workflowVersionList"]]
    assert names == [f"boto-flow-{i}" for i in range(5)], names
    managed = ib.list_workflows(owner="Amazon")["workflowVersionList"]
    assert {w["name"] for w in managed} == {"build-image", "test-image", "distribute-image"}, managed

    expect(ib.exceptions.ResourceAlreadyExistsException, ib.create_workflow, name="boto-flow-0",
           semanticVersion="1.0.0", type="BUILD", data=DOC, tags={"via": "boto3"})
    e = expect(ib.exceptions.InvalidRequestException, ib.create_workflow, name="bad-doc",
               semanticVersion="1.0.0", type="BUILD", data="schemaVersion: 1.0\nsteps:\n  - name: Brew\n    action: Nope\n")
    assert "unknown action" in str(e), e
    expect(ib.exceptions.InvalidPaginationTokenException, ib.list_workflows, nextToken="forged")

    ib.tag_resource(resourceArn=arns[1], tags={"extra": "yes"})
    ib.untag_resource(resourceArn=arns[1], tagKeys=["via"])
    assert ib.list_tags_for_resource(resourceArn=arns[1])["tags"] == {"extra": "yes"}
    expect(ib.exceptions.ResourceNotFoundException, ib.tag_resource,
           resourceArn=arns[1].replace("boto-flow-1", "missing"), tags={"a": "b"})

    ib.delete_workflow(workflowBuildVersionArn=arns[4])
    expect(ib.exceptions.ResourceNotFoundException, ib.get_workflow, workflowBuildVersionArn=arns[4])
    print("boto3 imagebuilder: ok")


def transfer():
    tf = client("transfer")
    steps = [
        {"Type": "COPY", "CopyStepDetails": {"Name": "copy", "DestinationFileLocation": {
            "S3FileLocation": {"Bucket": "archive-bucket", "Key": "${transfer:UserName}/"}}, "OverwriteExisting": "TRUE"}},
        {"Type": "TAG", "TagStepDetails": {"Name": "tag", "Tags": [{"Key": "k", "Value": "v"}]}},
        {"Type": "CUSTOM", "CustomStepDetails": {"Name": "scan", "Target": "arn:aws:lambda:us-east-1:000000000000:function:scan", "TimeoutSeconds": 60}},
        {"Type": "DECRYPT", "DecryptStepDetails": {"Name": "decrypt", "Type": "PGP", "DestinationFileLocation": {
            "S3FileLocation": {"Bucket": "clear-bucket", "Key": "out/"}}}},
        {"Type": "DELETE", "DeleteStepDetails": {"Name": "delete", "SourceFileLocation": "${original.file}"}},
    ]
    ids = []
    for i in range(3):
        out = tf.create_workflow(Description=f"boto workflow {i}", Steps=steps,
                                 OnExceptionSteps=[steps[4]], Tags=[{"Key": "via", "Value": "boto3"}])
        ids.append(out["WorkflowId"])
    desc = tf.describe_workflow(WorkflowId=ids[0])["Workflow"]
    assert desc["Steps"] == steps and desc["OnExceptionSteps"] == [steps[4]], desc
    listed = []
    for page in tf.get_paginator("list_workflows").paginate(PaginationConfig={"PageSize": 2}):
        listed += [w["WorkflowId"] for w in page["Workflows"]]
    assert listed == ids, (listed, ids)
    arn = desc["Arn"]
    tf.tag_resource(Arn=arn, Tags=[{"Key": "more", "Value": "x"}])
    tf.untag_resource(Arn=arn, TagKeys=["via"])
    assert tf.list_tags_for_resource(Arn=arn)["Tags"] == [{"Key": "more", "Value": "x"}]
    e = expect(tf.exceptions.InvalidRequestException, tf.create_workflow,
               Steps=[{"Type": "CUSTOM", "CustomStepDetails": {"Target": "arn:aws:lambda:us-east-1:000000000000:function:f", "TimeoutSeconds": 5000}}])
    assert "TimeoutSeconds" in str(e), e
    expect(tf.exceptions.InvalidNextTokenException, tf.list_workflows, NextToken="forged")
    tf.delete_workflow(WorkflowId=ids[2])
    e = expect(tf.exceptions.ResourceNotFoundException, tf.describe_workflow, WorkflowId=ids[2])
    assert e.response["Error"]["Code"] == "ResourceNotFoundException"
    print("boto3 transfer: ok")


GATE = """schemaVersion: 1.0
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
  - name: CreateOutputAMI
    action: CreateImage
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
"""


def build():
    import time
    ib = client("imagebuilder")
    recipe = ib.create_image_recipe(name="boto-recipe", semanticVersion="1.0.x", parentImage="ami-0123456789abcdef0",
                                    components=[{"componentArn": "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x"}])["imageRecipeArn"]
    infra = ib.create_infrastructure_configuration(name="boto-infra", instanceProfileName="profile")["infrastructureConfigurationArn"]
    wf = ib.create_workflow(name="boto-gate", semanticVersion="1.0.0", type="BUILD", data=GATE)["workflowBuildVersionArn"]
    pipe = ib.create_image_pipeline(name="boto-pipeline", imageRecipeArn=recipe, infrastructureConfigurationArn=infra,
                                    executionRole="arn:aws:iam::000000000000:role/ib", workflows=[{"workflowArn": wf}])["imagePipelineArn"]
    image = ib.start_image_pipeline_execution(imagePipelineArn=pipe)["imageBuildVersionArn"]
    deadline = time.time() + 30
    steps = []
    while not steps and time.time() < deadline:
        steps = [s for s in ib.list_waiting_workflow_steps()["steps"] if s["imageBuildVersionArn"] == image]
        time.sleep(0.05)
    assert steps and steps[0]["name"] == "Approve", steps
    ib.send_workflow_step_action(stepExecutionId=steps[0]["stepExecutionId"], imageBuildVersionArn=image, action="RESUME", reason="boto3")
    try:
        ib.send_workflow_step_action(stepExecutionId=steps[0]["stepExecutionId"], imageBuildVersionArn=image, action="RESUME")
        raise AssertionError("a second action was accepted")
    except ib.exceptions.ResourceInUseException:
        pass
    status = ""
    while status not in ("AVAILABLE", "FAILED") and time.time() < deadline:
        status = ib.get_image(imageBuildVersionArn=image)["image"]["state"]["status"]
        time.sleep(0.05)
    assert status == "AVAILABLE", status
    # Deprecate it, and back: the record changes at once without resources;
    # with its AMIs it runs as a lifecycle execution.
    ib.start_resource_state_update(resourceArn=image, state={"status": "DEPRECATED"}, clientToken="boto-deprecate")
    img = ib.get_image(imageBuildVersionArn=image)["image"]
    assert img["state"]["status"] == "DEPRECATED", img["state"]
    lce = ib.start_resource_state_update(resourceArn=image, state={"status": "AVAILABLE"}, clientToken="boto-restore",
                                         executionRole="arn:aws:iam::000000000000:role/lifecycle",
                                         includeResources={"amis": True})["lifecycleExecutionId"]
    state = ""
    while state != "SUCCESS" and time.time() < deadline:
        state = ib.get_lifecycle_execution(lifecycleExecutionId=lce)["lifecycleExecution"]["state"]["status"]
        time.sleep(0.05)
    assert state == "SUCCESS", state
    assert ib.get_image(imageBuildVersionArn=image)["image"]["state"]["status"] == "AVAILABLE"
    print("boto3 image build: ok")


if __name__ == "__main__":
    imagebuilder()
    transfer()
    build()
