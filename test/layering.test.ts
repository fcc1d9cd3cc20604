import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { ICruiseResult, IViolation } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

/**
 * The import rules of src/ (.dependency-cruiser.mjs): no cycle, no import from a lower layer to a
 * higher one. dependency-cruiser's own command line does the cruising, exactly as `npm run lint:deps`;
 * this test prints what it found, one line per import with its file:line.
 */
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

async function cruiseSrc(): Promise<ICruiseResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json', '--no-progress'],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    // A non-zero exit still carries the JSON; anything else is a broken run.
    if (err.stdout?.trim().startsWith('{')) return { stdout: err.stdout };
    throw new Error(`dependency-cruiser failed: ${err.stderr || err.message}`);
  });
  return JSON.parse(stdout) as ICruiseResult;
}

/** The line of `from` that imports `specifier`, for a clickable `file:line`. */
function lineOf(from: string, specifier: string | undefined): string {
  if (!specifier) return from;
  const lines = readFileSync(join(ROOT, from), 'utf8').split('\n');
  const index = lines.findIndex((l) => l.includes(`'${specifier}'`) || l.includes(`"${specifier}"`));
  return index < 0 ? from : `${from}:${index + 1}`;
}

function describeViolations(result: ICruiseResult, layers: string[][]): string[] {
  const specifierOf = (from: string, to: string) =>
    result.modules.find((m) => m.source === from)?.dependencies.find((d) => d.resolved === to)?.module;
  const edge = (from: string, to: string) => {
    const specifier = specifierOf(from, to);
    return `${lineOf(from, specifier)} imports '${specifier ?? to}'${specifier === to ? '' : ` (${to})`}`;
  };
  const layerOf = (path: string) => {
    const index = layers.findIndex((entries) => entries.some((e) => path === e || path.startsWith(`${e}/`)));
    return index < 0 ? 'no layer' : `layer ${index} (${layers[index]!.join(', ')})`;
  };
  return (result.summary.violations as IViolation[]).map((v) => {
    const rule = v.rule.name;
    if (v.cycle) {
      const path = [v.from, ...v.cycle.map((c) => c.name)];
      const steps = path.slice(0, -1).map((from, i) => `    ${edge(from, path[i + 1]!)}`);
      return [`${rule}: an import cycle: ${path.join(' → ')}`, ...steps].join('\n');
    }
    if (rule.startsWith('layer-')) {
      return `${rule}: ${edge(v.from, v.to)}: ${layerOf(v.from)} may not import ${layerOf(v.to)}`;
    }
    if (rule === 'not-to-unresolvable') return `${rule}: ${edge(v.from, v.to)}, which is no file`;
    return `${rule}: ${edge(v.from, v.to)}`;
  });
}

describe('the import structure of src/', () => {
  it('has no import cycle and no import from a lower layer to a higher one', async () => {
    const { LAYERS } = (await import(pathToFileURL(CONFIG).href)) as { LAYERS: string[][] };
    const result = await cruiseSrc();
    // The check saw the code: every layer's folder that exists has modules, and their imports resolved.
    expect(result.summary.totalCruised).toBeGreaterThan(50);
    expect(result.modules.some((m) => m.source === 'src/service.ts')).toBe(true);
    const found = describeViolations(result, LAYERS);
    const count = `${found.length} import rule violation${found.length === 1 ? '' : 's'}`;
    expect(found.length, `${count}:\n${found.join('\n')}\n`).toBe(0);
  });
});
