"""Reads a JUnit XML file back with junitparser and prints what a JUnit consumer sees, as JSON."""
import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped

xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        result = case.result[0] if case.result else None
        kind = {Failure: "failure", Error: "error", Skipped: "skipped"}.get(type(result), "passed")
        cases.append({
            "name": case.name,
            "classname": case.classname,
            "result": kind,
            "message": result.message if result is not None else None,
            "type": result.type if result is not None else None,
        })
    suites.append({
        "name": suite.name,
        "tests": suite.tests,
        "failures": suite.failures,
        "errors": suite.errors,
        "skipped": suite.skipped,
        "cases": cases,
    })
json.dump(suites, sys.stdout, indent=1)
