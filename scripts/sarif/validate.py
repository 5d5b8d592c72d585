"""Validates SARIF logs against the SARIF 2.1.0 JSON Schema (OASIS, errata 01, vendored in
crates/rampart-model/tests/data) with the `jsonschema` package, and checks what code-scanning
services need of them: every result has a rule id that the driver lists, a level, a file and
(for `rampart model check`) a line and column; every rule has help text and a CWE tag.

    python validate.py SCHEMA LOG [LOG…]

A log with no results is valid too (a clean module). As a check of the check, a copy of the
first log with a level SARIF does not have must be refused.
"""

import copy
import json
import sys

import jsonschema


def main(schema_path, logs):
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft4Validator(schema)
    problems = []
    results = 0
    first = None
    for path in logs:
        with open(path, encoding="utf-8") as f:
            log = json.load(f)
        first = first or log
        for error in validator.iter_errors(log):
            problems.append(f"{path}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        for run in log["runs"]:
            rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
            for r in rules.values():
                tags = r.get("properties", {}).get("tags", [])
                if not r.get("help", {}).get("text") or not any(t.startswith("external/cwe/") for t in tags):
                    problems.append(f"{path}: rule {r['id']} lacks help text or a CWE tag")
            for result in run["results"]:
                results += 1
                where = result["locations"][0]["physicalLocation"]
                if result["ruleId"] not in rules or "level" not in result:
                    problems.append(f"{path}: result without a listed rule or a level: {result}")
                if "startLine" not in where.get("region", {}) or "startColumn" not in where["region"]:
                    problems.append(f"{path}: result without a line and column: {result['ruleId']}")
                if not where["artifactLocation"].get("uri"):
                    problems.append(f"{path}: result without a file: {result['ruleId']}")
    broken = copy.deepcopy(first)
    broken["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] = "fatal"
    if validator.is_valid(broken):
        problems.append("the schema accepted a rule whose level is `fatal`: the validator checks nothing")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"sarif: {len(logs)} logs, {results} results, {'invalid' if problems else 'valid'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
