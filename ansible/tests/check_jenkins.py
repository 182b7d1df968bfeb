#!/usr/bin/env python3
"""Checks the rendered Jenkins configuration as code against the repository's
Jenkinsfile: the label it asks for, every credential id it uses, and a job
that runs jenkins/Jenkinsfile on a push; no secret value in the file.
Usage: check_jenkins.py RENDERED_JENKINS_YAML REPO_ROOT SECRET..."""
import pathlib
import re
import sys

import yaml

casc_path, repo = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
secrets = sys.argv[3:]
text = casc_path.read_text()
casc = yaml.safe_load(text)
jenkinsfile = (repo / "jenkins" / "Jenkinsfile").read_text()
failures = 0


def check(ok: bool, what: str) -> None:
    global failures
    print(f"  {'ok  ' if ok else 'FAIL'}  {what}")
    failures += 0 if ok else 1


labels = re.findall(r"agent\s*\{\s*label\s+'([^']+)'", jenkinsfile)
check(bool(labels) and all(lbl in casc["jenkins"]["labelString"].split() for lbl in labels),
      f"the built-in node carries the Jenkinsfile's label(s) {labels}")
wanted = set(re.findall(r"credentialsId:\s*'([^']+)'", jenkinsfile))
defined = {
    next(iter(c.values()))["id"]
    for domain in casc["credentials"]["system"]["domainCredentials"]
    for c in domain["credentials"]
}
check(wanted <= defined, f"every credential the Jenkinsfile uses is defined ({sorted(wanted)} in {sorted(defined)})")
script = casc["jobs"][0]["script"]
check("scriptPath('jenkins/Jenkinsfile')" in script and (repo / "jenkins/Jenkinsfile").is_file(),
      "the job runs jenkins/Jenkinsfile from the repository")
check("githubPush()" in script, "the job is triggered by the push webhook")
check(casc["jenkins"]["securityRealm"]["local"]["allowsSignup"] is False, "no self sign-up")
leaked = [s for s in secrets if s in text]
check(not leaked, f"no secret value in jenkins.yaml {leaked}")
sys.exit(1 if failures else 0)
