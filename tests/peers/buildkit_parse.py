"""Instruction boundaries of Dockerfiles, from BuildKit's own Go parser (PyPI `dockerfile`).

Usage: buildkit_parse.py FILE...  -> JSON list, one entry per file, on stdout.
"""
import json
import sys

import dockerfile

results = []
for path in sys.argv[1:]:
    try:
        commands = dockerfile.parse_file(path)
    except dockerfile.GoParseError as error:
        results.append({"path": path, "error": str(error)})
        continue
    results.append({
        "path": path,
        "instructions": [
            {
                "cmd": command.cmd.upper(),
                "sub_cmd": (command.sub_cmd or "").upper() or None,
                "start_line": command.start_line,
                "end_line": command.end_line,
                "flags": list(command.flags),
                "json": command.json,
                "value": list(command.value),
                "heredocs": [heredoc.name for heredoc in command.heredocs],
            }
            for command in commands
        ],
    })
json.dump(results, sys.stdout)
