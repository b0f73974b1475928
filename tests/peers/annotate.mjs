// Prints annotations exactly as @actions/core does.
// stdin: JSON array of {level: "error"|"warning"|"notice", message, properties}
// where properties uses AnnotationProperties names (title, file, startLine, endLine, startColumn, endColumn).
import * as core from '@actions/core';
import { readFileSync } from 'node:fs';

const annotations = JSON.parse(readFileSync(0, 'utf8'));
for (const { level, message, properties } of annotations) {
  core[level](message, properties ?? {});
}
