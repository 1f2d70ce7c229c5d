#!/usr/bin/env python3
"""Writes the trimmed API models Slipway validates and routes with.

Reads the botocore service models installed on the machine and keeps only the
facts the server needs: operations (method, path, input shape, modelled
errors) and shapes (type, members, locations, required, bounds, patterns,
enums). Documentation text is dropped.

Usage: python3 tools/genmodels.py   (writes internal/awsmodel/*.json)
"""
import json
import os
import botocore
import botocore.session

OUT = os.path.join(os.path.dirname(__file__), "..", "internal", "awsmodel")


def trim_shape(shape):
    out = {"type": shape["type"]}
    for key in ("required", "min", "max", "pattern", "enum", "timestampFormat", "exception"):
        if key in shape:
            out[key] = shape[key]
    if shape.get("error", {}).get("httpStatusCode"):
        out["status"] = shape["error"]["httpStatusCode"]
    if "members" in shape:
        members = {}
        for name, m in shape["members"].items():
            mm = {"shape": m["shape"]}
            for key in ("location", "locationName", "idempotencyToken", "jsonvalue"):
                if key in m:
                    mm[key] = m[key]
            members[name] = mm
        out["members"] = members
    for key in ("member", "key", "value"):
        if key in shape:
            out[key] = shape[key]["shape"]
    return out


def main():
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    for service in ("imagebuilder", "transfer"):
        raw = loader.load_service_model(service, "service-2")
        meta = raw["metadata"]
        ops = {}
        for name, op in raw["operations"].items():
            o = {
                "method": op["http"]["method"],
                "uri": op["http"]["requestUri"],
                "errors": [e["shape"] for e in op.get("errors", [])],
            }
            if "input" in op:
                o["input"] = op["input"]["shape"]
            if "output" in op:
                o["output"] = op["output"]["shape"]
            ops[name] = o
        model = {
            "botocore": botocore.__version__,
            "apiVersion": meta["apiVersion"],
            "protocol": meta["protocol"],
            "signingName": meta.get("signingName", meta["endpointPrefix"]),
            "targetPrefix": meta.get("targetPrefix", ""),
            "operations": ops,
            "shapes": {n: trim_shape(s) for n, s in raw["shapes"].items()},
        }
        path = os.path.join(OUT, service + ".json")
        with open(path, "w") as f:
            json.dump(model, f, indent=1, sort_keys=True)
            f.write("\n")
        print(path, len(ops), "operations", len(model["shapes"]), "shapes")


if __name__ == "__main__":
    main()
