#!/usr/bin/env python3
"""Checks Kubernetes manifests against the models of the official Kubernetes Python client.

Usage: k8s_schema_check.py DIR...  (every *.yaml under each DIR but kustomization.yaml)

The client's own deserializer ignores keys it does not know, so each document is walked here
against the model classes' `openapi_types` and `attribute_map`: an unknown key, a value of the
wrong type, or a missing required field (the model's constructor raises, with client-side
validation on) is an error. Names and labels are also checked against Kubernetes' rules.
Exit status 0 when every object is valid, 1 with one line per error otherwise, 2 when the
client is not installed.
"""
import base64
import os
import re
import sys

try:
    import yaml
    import kubernetes.client as models
except ImportError as error:
    print(f"error: {error}: install the Kubernetes Python client (pip install kubernetes)", file=sys.stderr)
    sys.exit(2)

# The group and version of each kind the converter writes.
API_VERSIONS = {
    "Namespace": "v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1", "PersistentVolumeClaim": "v1",
    "ServiceAccount": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1", "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class Invalid(Exception):
    pass


def build(value, type_name, path):
    """The model of `value` as `type_name`; raises Invalid on anything Kubernetes would reject."""
    if type_name in PRIMITIVES:
        if isinstance(value, bool) and type_name != "bool" or not isinstance(value, PRIMITIVES[type_name]):
            raise Invalid(f"{path}: expected {type_name}, found {type(value).__name__} {value!r}")
        return value
    if type_name == "object":  # IntOrString and free-form values
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise Invalid(f"{path}: expected an integer or a string, found {value!r}")
        return value
    if type_name == "bytes":  # Secret data: base64 text in manifests
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise Invalid(f"{path}: expected base64 text, found {value!r}")
    # The client writes these `list[X]`/`dict(str, X)` or, in newer releases, `List[X]`/`Dict[str, X]`.
    match = re.fullmatch(r"[Ll]ist\[(.+)\]", type_name)
    if match:
        if not isinstance(value, list):
            raise Invalid(f"{path}: expected a list, found {value!r}")
        return [build(item, match.group(1), f"{path}[{i}]") for i, item in enumerate(value)]
    match = re.fullmatch(r"dict\(str, (.+)\)", type_name) or re.fullmatch(r"Dict\[str, (.+)\]", type_name)
    if match:
        if not isinstance(value, dict):
            raise Invalid(f"{path}: expected a mapping, found {value!r}")
        return {key: build(item, match.group(1), f"{path}.{key}") for key, item in value.items()}
    cls = getattr(models, type_name, None)
    if cls is None:
        raise Invalid(f"{path}: the client has no model {type_name}")
    if not isinstance(value, dict):
        raise Invalid(f"{path}: expected a {type_name} mapping, found {value!r}")
    attributes = {json_name: attribute for attribute, json_name in cls.attribute_map.items()}
    arguments = {}
    for key, item in value.items():
        if key not in attributes:
            raise Invalid(f"{path}: unknown field {key!r} in {type_name}")
        attribute = attributes[key]
        arguments[attribute] = build(item, cls.openapi_types[attribute], f"{path}.{key}")
    try:
        return cls(**arguments)
    except (ValueError, TypeError) as error:
        raise Invalid(f"{path}: {type_name}: {error}")


def check_metadata(document, where):
    metadata = document.get("metadata") or {}
    name = metadata.get("name", "")
    if not DNS_LABEL.match(name) or len(name) > 63:
        raise Invalid(f"{where}: metadata.name {name!r} is not a DNS label")
    for field in ("labels", "annotations"):
        for key, value in (metadata.get(field) or {}).items():
            check_key(key, f"{where}: metadata.{field}")
            if field == "labels" and (len(value) > 63 or not LABEL_VALUE.match(value)):
                raise Invalid(f"{where}: label value {value!r} is not valid")


def check_key(key, where):
    prefix, _, name = key.rpartition("/")
    if len(name) > 63 or not LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not SUBDOMAIN.match(prefix))):
        raise Invalid(f"{where}: key {key!r} is not valid")


def check_file(path):
    with open(path, encoding="utf-8") as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d is not None]
    count = 0
    for document in documents:
        kind = document.get("kind")
        if kind not in API_VERSIONS:
            raise Invalid(f"{path}: unexpected kind {kind!r}")
        if document.get("apiVersion") != API_VERSIONS[kind]:
            raise Invalid(f"{path}: {kind} must be apiVersion {API_VERSIONS[kind]}, not {document.get('apiVersion')!r}")
        check_metadata(document, path)
        for selector_path in (("spec", "selector", "matchLabels"), ("spec", "template", "metadata", "labels")):
            node = document
            for step in selector_path:
                node = node.get(step) if isinstance(node, dict) else None
            for key, value in (node or {}).items():
                check_key(key, f"{path}: {'.'.join(selector_path)}")
                if not LABEL_VALUE.match(value) or len(value) > 63:
                    raise Invalid(f"{path}: {'.'.join(selector_path)} value {value!r} is not valid")
        build(document, "V1" + kind, f"{path}: {kind}")
        count += 1
    return count


def main(directories):
    if not directories:
        print(__doc__, file=sys.stderr)
        return 2
    errors = []
    objects = 0
    for directory in directories:
        for root, _, files in sorted(os.walk(directory)):
            for name in sorted(files):
                if not name.endswith(".yaml") or name == "kustomization.yaml":
                    continue
                try:
                    objects += check_file(os.path.join(root, name))
                except Invalid as error:
                    errors.append(str(error))
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} invalid objects")
        return 1
    print(f"{objects} objects valid in {len(directories)} directories")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
