// The package dependency graph drawn in docs/design.md ("Dependency graph") is the one the package.json files declare:
// for every packages/*/package.json, its `dependencies` and `peerDependencies` on other VNF packages (`@vnf/*` and
// the umbrella `vnf`). Development dependencies are left out on both sides. A mismatch fails with one line per
// difference, so the fix (to the drawing or to a package.json) is plain.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const DESIGN = join(ROOT, 'docs/design.md');
const PACKAGES = join(ROOT, 'packages');
const GRAPH_HEADING = /^#{2,4} Dependency graph\s*$/;

type Graph = Map<string, Set<string>>;

function isVnfPackage(name: string): boolean {
  return name === 'vnf' || name.startsWith('@vnf/');
}

/** The graph the package.json files declare, keyed by package name. */
function declaredGraph(): Graph {
  const graph: Graph = new Map();
  for (const dir of readdirSync(PACKAGES).sort()) {
    const file = join(PACKAGES, dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].filter(isVnfPackage);
    graph.set(pkg.name, new Set(deps));
  }
  return graph;
}

/** The lines of the first fenced block under the "Dependency graph" heading of docs/design.md. */
function graphBlock(markdown: string): string[] {
  const lines = markdown.split('\n');
  const heading = lines.findIndex((line) => GRAPH_HEADING.test(line));
  if (heading < 0) throw new Error('docs/design.md has no "Dependency graph" heading; the graph test reads the fenced block under it.');
  const open = lines.findIndex((line, i) => i > heading && line.startsWith('```'));
  const nextHeading = lines.findIndex((line, i) => i > heading && /^#{1,4} /.test(line));
  if (open < 0 || (nextHeading >= 0 && open > nextHeading)) {
    throw new Error('docs/design.md has no fenced block under "Dependency graph".');
  }
  const close = lines.findIndex((line, i) => i > open && line.startsWith('```'));
  if (close < 0) throw new Error('The fenced block under "Dependency graph" in docs/design.md is not closed.');
  return lines.slice(open + 1, close).filter((line) => line.trim() !== '');
}

/** Parses `@vnf/x -> @vnf/a, @vnf/b` lines (nothing after `->` for a package without VNF dependencies). */
function drawnGraph(lines: string[]): { graph: Graph; problems: string[] } {
  const graph: Graph = new Map();
  const problems: string[] = [];
  for (const line of lines) {
    const match = /^\s*(\S+)\s*->\s*(.*?)\s*$/.exec(line);
    if (!match) {
      problems.push(`unreadable line in the drawing: "${line}" (expected "@vnf/x -> @vnf/a, @vnf/b")`);
      continue;
    }
    const [, name, rest] = match;
    const deps = rest === '' ? [] : rest.split(',').map((dep) => dep.trim());
    if (deps.some((dep) => dep === '')) problems.push(`${name}: empty name in "${line}"`);
    if (graph.has(name)) problems.push(`${name}: drawn on more than one line`);
    graph.set(name, new Set(deps.filter((dep) => dep !== '')));
  }
  return { graph, problems };
}

/** One line per difference between the drawing and the package.json files; empty when they agree. */
function differences(drawn: Graph, declared: Graph): string[] {
  const out: string[] = [];
  for (const name of declared.keys()) {
    if (!drawn.has(name)) out.push(`${name}: has a package.json but no line in the drawing`);
  }
  for (const name of drawn.keys()) {
    if (!declared.has(name)) out.push(`${name}: drawn, but no packages/*/package.json has this name`);
  }
  for (const [name, deps] of declared) {
    const drawnDeps = drawn.get(name);
    if (!drawnDeps) continue;
    const missing = [...deps].filter((dep) => !drawnDeps.has(dep)).sort();
    const extra = [...drawnDeps].filter((dep) => !deps.has(dep)).sort();
    if (missing.length) out.push(`${name}: package.json depends on ${missing.join(', ')}, the drawing does not`);
    if (extra.length) out.push(`${name}: the drawing depends on ${extra.join(', ')}, package.json does not`);
  }
  return out;
}

describe('docs/design.md', () => {
  const markdown = readFileSync(DESIGN, 'utf8');

  it('draws the package dependency graph that the package.json files declare', () => {
    const { graph, problems } = drawnGraph(graphBlock(markdown));
    expect(graph.size).toBeGreaterThan(0);
    expect([...problems, ...differences(graph, declaredGraph())]).toEqual([]);
  });

  it('names every package in its package layout', () => {
    const layout = /^## Package layout\s*$([\s\S]*?)^## /m.exec(markdown);
    if (!layout) throw new Error('docs/design.md has no "Package layout" section.');
    const words = new Set(layout[1].split(/[\s`(),]+/));
    const absent = [...declaredGraph().keys()].filter((name) => !words.has(name));
    expect(absent).toEqual([]);
  });
});
