#!/usr/bin/env python3
"""Parses every .tf file under terraform/ with python-hcl2 (the hcl2 module
checkov ships, Bridgecrew's fork of python-hcl2) and checks the shapes the
platform relies on: documented variables and outputs, the scanner host's
hardening (t3.micro, IMDSv2 only, encrypted root volume, no public address),
a security group that admits only SSH from the given CIDR (plus the optional
metrics scrapes), user data that installs Trivy and Gitleaks, a staging root
that wires the module completely, and a reason on every checkov skip.
Prints one line per check; exits 1 if any fails."""
import pathlib
import re
import subprocess
import sys

import hcl2

TF = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
MODULE = TF / "modules" / "scanner_host"
STAGING = TF / "staging"

failures = 0


def check(ok: bool, what: str) -> None:
    global failures
    print(f"  {'ok  ' if ok else 'FAIL'}  {what}")
    if not ok:
        failures += 1


def normalise(node):
    """The hcl2 parser wraps every attribute value in a one-element list and
    adds __start_line__/__end_line__; drop both so values read as written.
    Nested blocks stay lists of dicts."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("__start_line__", "__end_line__"):
                continue
            if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], dict):
                value = value[0]
            out[key] = normalise(value)
        return out
    if isinstance(node, list):
        return [normalise(v) for v in node]
    return node


def load_dir(d: pathlib.Path) -> dict:
    """Merges the top-level blocks of every .tf file in d."""
    merged: dict = {}
    for f in sorted(d.glob("*.tf")):
        try:
            with f.open() as fh:
                doc = normalise(hcl2.load(fh))
        except Exception as e:  # noqa: BLE001 - any parse error is the finding
            check(False, f"{f.relative_to(TF)} parses: {e}")
            continue
        check(True, f"{f.relative_to(TF)} parses")
        for key, blocks in doc.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def blocks(doc: dict, kind: str) -> dict:
    """{name: body} for variable/output/module, {type.name: body} for resource/data."""
    out = {}
    for block in doc.get(kind, []):
        for name, body in block.items():
            if kind in ("resource", "data"):
                for inner, inner_body in body.items():
                    out[f"{name}.{inner}"] = inner_body
            else:
                out[name] = body
    return out


def first(body: dict, key: str):
    """hcl2 wraps nested blocks in lists; attributes are plain values."""
    value = body.get(key)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return value


def unwrap(value) -> str:
    return str(value).replace("${", "").replace("}", "")


def documented(doc: dict, where: str) -> None:
    for name, body in blocks(doc, "variable").items():
        check(bool(body.get("description")) and "type" in body, f"{where}: variable {name} has a description and a type")
    for name, body in blocks(doc, "output").items():
        check(bool(body.get("description")) and "value" in body, f"{where}: output {name} has a description and a value")


print("module scanner_host")
mod = load_dir(MODULE)
documented(mod, "module")
variables = blocks(mod, "variable")
resources = blocks(mod, "resource")
outputs = blocks(mod, "output")

check(variables.get("instance_type", {}).get("default") == "t3.micro", "instance_type defaults to t3.micro")
for required in ("vpc_id", "subnet_id", "ssh_cidr", "key_name"):
    check(required in variables and "default" not in variables[required], f"variable {required} is required")
ssh_validation = first(variables.get("ssh_cidr", {}), "validation") or {}
check("0.0.0.0/0" in str(ssh_validation.get("condition", "")), "ssh_cidr's validation refuses 0.0.0.0/0")

instance = resources.get("aws_instance.scanner", {})
check(bool(instance), "one aws_instance (scanner)")
check(unwrap(instance.get("instance_type")) == "var.instance_type", "the instance uses var.instance_type")
meta = first(instance, "metadata_options") or {}
check(meta.get("http_tokens") == "required", "IMDSv2 required (metadata_options.http_tokens = required)")
check(meta.get("http_put_response_hop_limit") == 1, "metadata hop limit 1 (containers cannot reach IMDS)")
root = first(instance, "root_block_device") or {}
check(root.get("encrypted") is True, "root volume encrypted")
check(instance.get("associate_public_ip_address") is False, "no public address")
check(unwrap(instance.get("vpc_security_group_ids")) == "['aws_security_group.scanner.id']", "only the module's security group")
check("user_data.sh.tftpl" in str(instance.get("user_data_base64", "")), "user data from user_data.sh.tftpl")

data_sources = blocks(mod, "data")
grow = data_sources.get("aws_iam_policy_document.grow_own_volumes", {})
statements = grow.get("statement", [])
statements = statements if isinstance(statements, list) else [statements]
actions = sorted(a for st in statements for a in st.get("actions", []))
check(actions == ["ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ec2:ModifyVolume"],
      f"the instance role may describe and modify volumes, nothing else (found {actions})")
modify = [st for st in statements if "ec2:ModifyVolume" in st.get("actions", [])]
check(len(modify) == 1 and modify[0].get("actions") == ["ec2:ModifyVolume"]
      and modify[0].get("resources") == ["arn:aws:ec2:*:*:volume/*"],
      "ModifyVolume alone in its statement, on volume ARNs only")
conds = modify[0].get("condition", []) if modify else []
conds = conds if isinstance(conds, list) else [conds]
check({c.get("variable") for c in conds} >= {"aws:ResourceTag/Name", "aws:ResourceTag/Component"},
      "ModifyVolume only on volumes tagged by this module")
check(unwrap(instance.get("volume_tags")) == "local.tags", "the instance's volumes carry the module's tags")
role_policies = {k: v for k, v in resources.items() if k.startswith("aws_iam_role_policy")}
check(set(role_policies) == {"aws_iam_role_policy.grow_own_volumes"},
      f"the role has exactly the volume-grow policy (found {sorted(role_policies)})")

sg = resources.get("aws_security_group.scanner", {})
check(bool(sg) and "ingress" not in sg and "egress" not in sg, "security group has no inline rules (every rule is a resource below)")
ingress = {k: v for k, v in resources.items() if k.startswith("aws_vpc_security_group_ingress_rule.")}
check(set(ingress) == {"aws_vpc_security_group_ingress_rule.ssh", "aws_vpc_security_group_ingress_rule.metrics"},
      f"ingress rules are exactly ssh and metrics (found {sorted(ingress)})")
ssh = ingress.get("aws_vpc_security_group_ingress_rule.ssh", {})
check(ssh.get("from_port") == 22 and ssh.get("to_port") == 22 and unwrap(ssh.get("cidr_ipv4")) == "var.ssh_cidr",
      "SSH (22) only from var.ssh_cidr")
metrics = ingress.get("aws_vpc_security_group_ingress_rule.metrics", {})
check("var.metrics_cidrs" in str(metrics.get("for_each")) and "9100" in str(metrics.get("for_each"))
      and "9741" in str(metrics.get("for_each")), "metrics ingress only 9100/9741 from var.metrics_cidrs")
for name, rule in ingress.items():
    check("0.0.0.0/0" not in str(rule) and "::/0" not in str(rule), f"{name} is not open to the Internet")
egress = {k: v for k, v in resources.items() if k.startswith("aws_vpc_security_group_egress_rule.")}
ports = sorted((r.get("from_port"), r.get("to_port")) for r in egress.values())
check(ports == [(80, 80), (443, 443)], f"egress only HTTP and HTTPS (found {ports})")

for name in ("instance_id", "private_ip", "security_group_id", "inventory"):
    check(name in outputs, f"output {name}")
check("ansible_host" in str(outputs.get("inventory", {}).get("value")), "output inventory carries ansible_host")

user_data = (MODULE / "user_data.sh.tftpl").read_text()
check("apt-get install" in user_data and "trivy=${trivy_version}" in user_data, "user data installs Trivy (pinned, apt)")
check("gitleaks" in user_data and "sha256sum -c" in user_data, "user data installs Gitleaks (checksum-verified)")
rendered = user_data.replace("${trivy_version}", "0.0.0").replace("${gitleaks_version}", "0.0.0")
syntax = subprocess.run(["bash", "-n"], input=rendered, text=True, capture_output=True)
check(syntax.returncode == 0, f"rendered user data is valid bash {syntax.stderr.strip()}")
template_vars = set(re.findall(r"\$\{([a-z_]+)\}", user_data))
passed = set(re.findall(r"['\"]?(\w+)['\"]?\s*[:=]\s*['\"]?\$?\{?var\.", str(instance.get("user_data_base64", ""))))
check(template_vars <= passed, f"every template variable is passed ({sorted(template_vars)} vs {sorted(passed)})")

print("staging root")
stg = load_dir(STAGING)
documented(stg, "staging")
module = blocks(stg, "module").get("scanner", {})
check(module.get("source") == "../modules/scanner_host", "staging uses ../modules/scanner_host")
missing = [v for v, body in variables.items() if "default" not in body and v not in module]
check(not missing, f"staging passes every required module variable (missing {missing})")
unknown = [k for k in module if k not in variables and k not in ("source", "version", "providers", "count", "for_each", "depends_on")]
check(not unknown, f"staging passes no unknown variable ({unknown})")
check("module.scanner.inventory" in str(blocks(stg, "output").get("inventory", {}).get("value")), "staging outputs the inventory")
example = (STAGING / "terraform.tfvars.example").read_text()
for name, body in blocks(stg, "variable").items():
    if "default" not in body:
        check(re.search(rf"^{name}\s*=", example, re.M) is not None, f"terraform.tfvars.example sets {name}")

print("checkov skips")
skips = []
for f in sorted(TF.rglob("*.tf")):
    for n, line in enumerate(f.read_text().splitlines(), 1):
        if "checkov:skip" in line:
            skips.append((f, n, line))
            m = re.search(r"#\s*checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.{10,})", line)
            check(m is not None, f"{f.relative_to(TF)}:{n} skip names a check and gives a reason")
print(f"  {len(skips)} checkov skip(s) in the code")

print(f"terraform shapes: {failures} failed")
sys.exit(1 if failures else 0)
