// The course map (runner/course.ts) against what is in the checkout: every lecture notebook is on the map and
// every notebook the map names exists with the lecture's number in its title; README's table is the one
// `d2l-ts course-map` prints (run times aside, since they are measured); the CLI's bad-input errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COURSE, courseMarkdown, lectureOf, main } from '../../runner/course';
import { ROOT } from '../../runner/paths';

const NOTEBOOKS = path.join(ROOT, 'notebooks');
const withoutTimes = (table: string) => table.split('\n').map((row) => row.replace(/\|[^|]*\|$/, '|'));

describe('course map', () => {
  afterEach(() => vi.restoreAllMocks());

  it('lists lectures 00-23 once each, in order', () => {
    expect(COURSE.map((l) => l.n)).toEqual(Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0')));
    for (const l of COURSE) expect(Boolean(l.notebook) !== Boolean(l.note), `lecture ${l.n}: a notebook or a note`).toBe(true);
  });

  it('names every notebook in notebooks/, and each exists with its lecture number in the title', () => {
    const files = fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb')).map((f) => f.replace(/\.ipynb$/, ''));
    for (const f of files) expect(lectureOf(f), `${f}.ipynb is not on the course map (runner/course.ts)`).toBeDefined();
    for (const l of COURSE.filter((c) => c.notebook)) {
      const file = path.join(NOTEBOOKS, `${l.notebook}.ipynb`);
      expect(fs.existsSync(file), `lecture ${l.n}: ${file} missing`).toBe(true);
      const first = JSON.parse(fs.readFileSync(file, 'utf8')).cells[0];
      expect([].concat(first.source).join('')).toMatch(new RegExp(`^# ${l.n} `));
    }
  });

  it("README's course-map table is the generated one", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('| # | lecture |');
    expect(start, 'README has no course-map table').toBeGreaterThan(0);
    const table = readme.slice(start).split('\n').filter((l, i, all) => all.slice(0, i + 1).every((r) => r.startsWith('|'))).join('\n');
    expect(withoutTimes(table)).toEqual(withoutTimes(courseMarkdown()));
  });

  it('fills run times from a full-schedule lessons run only', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'course-'));
    const file = path.join(dir, 'lessons.json');
    fs.writeFileSync(file, JSON.stringify({ notebooks: {
      '05-linear-algebra': { ms: 4200, ok: true, schedule: 'full' },
      '09-softmax-regression': { ms: 9000, ok: true, schedule: 'short' },
      '23-lenet': { ms: 125000, ok: false, schedule: 'full' },
    } }));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(main([file])).toBe(0);
    const out = String(log.mock.calls[0][0]).split('\n');
    expect(out.find((r) => r.startsWith('| 05 '))).toMatch(/\| 4 s \|$/);
    expect(out.find((r) => r.startsWith('| 09 '))).toMatch(/\| — \|$/);
    expect(out.find((r) => r.startsWith('| 23 '))).toMatch(/\| — \|$/);
    expect(courseMarkdown(new Map([['23-lenet', 125000]]))).toMatch(/\| 2\.1 min \|$/m);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says what it expected for a missing or corrupt lessons.json', () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(main([path.join(os.tmpdir(), 'no-such-dir', 'lessons.json')])).toBe(2);
    expect(String(err.mock.calls[0][0])).toMatch(/course-map: cannot read .*expected the lessons\.json/);
  });
});
