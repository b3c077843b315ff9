// bench/results.md, kept as one section per labelled run (`## <label> (commit <gateway commit>)`),
// so a run "after" a change sits next to the run "before" it. Within a section, the bench's table
// and the profile's summary each own a block between HTML comments, replaced on each run; a run
// with a new label appends a section. The commit is the last one that touched the gateway's
// sources, marked when the working tree differs from it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../tests/support/gateway.mjs';

const FILE = join(ROOT, 'bench', 'results.md');
const GATEWAY_PATHS = ['src', 'crates', 'Cargo.toml', 'Cargo.lock', 'wrangler.toml', 'migrations'];

export function gatewayCommit() {
  const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const commit = git('log', '-1', '--format=%h', '--', ...GATEWAY_PATHS);
  return git('status', '--porcelain', '--', ...GATEWAY_PATHS) ? `${commit} + uncommitted changes` : commit;
}

/** `--label <text>` from the command line, else "Latest". */
export function labelArg(argv = process.argv) {
  const i = argv.indexOf('--label');
  return i > 0 && argv[i + 1] ? argv[i + 1] : 'Latest';
}

export function writeBlock({ intro, label, block, markdown }) {
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '';
  if (!text.includes('<!-- bench:')) text = ''; // an older, unsectioned file is replaced
  const sections = text.split(/^(?=## )/m).filter((s) => s.startsWith('## '));
  const heading = `## ${label} (commit ${gatewayCommit()})`;
  const open = `<!-- bench:${block} -->`, close = `<!-- /bench:${block} -->`;
  const content = `${open}\n${markdown.trim()}\n${close}`;
  let i = sections.findIndex((s) => s.startsWith(`## ${label} (`));
  if (i < 0) i = sections.push(`${heading}\n\n`) - 1;
  let s = sections[i].replace(/^## .*\n/, `${heading}\n`);
  const at = s.indexOf(open), end = s.indexOf(close);
  s = at >= 0 && end > at ? s.slice(0, at) + content + s.slice(end + close.length) : `${s.trimEnd()}\n\n${content}\n`;
  sections[i] = `${s.trimEnd()}\n\n`;
  const head = intro ?? (text.split(/^## /m)[0].trim() || '# Gatehouse benchmark');
  writeFileSync(FILE, `${head.trim()}\n\n${sections.join('').trimEnd()}\n`);
}
