// Parse every ```mermaid block of the Markdown on stdin with mermaid's own parser (the one GitHub
// renders with); print `ok N` or one `FAIL <index>: <error>` line per block that does not parse.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

const text = await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (chunk) => (data += chunk));
  process.stdin.on('end', () => resolve(data));
});
const blocks = text.split('```mermaid\n').slice(1).map((block) => block.split('```')[0]);
let ok = 0;
for (const [index, block] of blocks.entries()) {
  try {
    if (await mermaid.parse(block)) ok += 1;
    else console.log(`FAIL ${index}: not recognised`);
  } catch (error) {
    console.log(`FAIL ${index}: ${String(error).replace(/\s+/g, ' ').slice(0, 400)}`);
  }
}
console.log(`ok ${ok}`);
