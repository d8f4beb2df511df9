// lib/engine/cpu-quota.ts: the CPUs a process may use under a container's CPU limit (a cgroup quota), read from the
// fixture cgroup trees in tests/fixtures/cgroup/<case>/ (proc-self-cgroup stands for /proc/self/cgroup, sys-fs-cgroup/
// for /sys/fs/cgroup). What must hold: v2 `cpu.max` and v1 `cpu.cfs_quota_us` are read, every ancestor counts and the
// smallest quota wins, "max"/-1 mean no limit, the quota is rounded up and never gives fewer than one thread (nor
// more than the affinity), missing or malformed files fall back to "no quota" without throwing; and the backends'
// thread counts (TensorFlow: all cores but one; wasm) are at least 1 under a 1-CPU quota. Where the test may create a
// cgroup (root, CI), a real one with a 0.5-CPU quota checks the wiring: the wasm backend there starts 1 thread and says why.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuLimit, describeQuota, readCpuQuota, type CgroupRoots } from '../../../lib/engine/cpu-quota';
import { intraOpThreads } from '../../../lib/engine/backend';
import { wasmThreads } from '../../../lib/engine/wasm-threads';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURES = path.resolve(__dirname, '../../fixtures/cgroup');
const roots = (c: string): CgroupRoots => ({
  procSelfCgroup: path.join(FIXTURES, c, 'proc-self-cgroup'),
  cgroupRoot: path.join(FIXTURES, c, 'sys-fs-cgroup'),
});

describe('readCpuQuota', () => {
  it.each([
    ['v2-nested', 1.5, 'kubepods.slice/pod-a/cpu.max'],
    ['v2-child-stricter', 1, 'outer/inner/cpu.max'],
    ['v2-namespace-root', 1, 'sys-fs-cgroup/cpu.max'],
    ['v2-malformed', 3, 'sys-fs-cgroup/a/cpu.max'],
    ['v2-tiny', 0.01, 'sys-fs-cgroup/cpu.max'],
    ['v1-docker', 2.5, 'cpu,cpuacct/docker/abc/cpu.cfs_quota_us'],
    ['v1-host-path', 0.5, 'sys-fs-cgroup/cpu/cpu.cfs_quota_us'],
    ['hybrid-unified', 2, 'unified/user/app/cpu.max'],
  ])('%s: %f CPUs from %s', (c, cpus, file) => {
    const q = readCpuQuota(roots(c));
    expect(q).not.toBeNull();
    expect(q!.cpus).toBeCloseTo(cpus, 12);
    expect(q!.file.endsWith(file)).toBe(true);
  });

  it.each(['v2-max', 'v2-all-malformed', 'hybrid-unlimited', 'garbage-proc'])('%s: no quota, no error', (c) => {
    expect(readCpuQuota(roots(c))).toBeNull();
  });

  it('missing files and directories: no quota', () => {
    expect(readCpuQuota({ procSelfCgroup: path.join(FIXTURES, 'nope', 'cgroup'), cgroupRoot: path.join(FIXTURES, 'nope') })).toBeNull();
    expect(readCpuQuota({ procSelfCgroup: roots('v2-nested').procSelfCgroup, cgroupRoot: path.join(FIXTURES, 'nope') })).toBeNull();
  });

  it('reads this machine without throwing', () => {
    const q = readCpuQuota();
    if (q !== null) expect(q.cpus).toBeGreaterThan(0);
  });
});

describe('cpuLimit', () => {
  it('caps the affinity by the quota, rounded up', () => {
    expect(cpuLimit(roots('v2-nested'), 64)).toMatchObject({ cores: 2, affinity: 64, capped: true });
    expect(cpuLimit(roots('v1-docker'), 64)).toMatchObject({ cores: 3, capped: true });
    expect(cpuLimit(roots('v2-namespace-root'), 64)).toMatchObject({ cores: 1, capped: true });
    expect(cpuLimit(roots('hybrid-unified'), 8)).toMatchObject({ cores: 2, capped: true });
  });

  it('never fewer than one CPU', () => {
    expect(cpuLimit(roots('v2-tiny'), 64).cores).toBe(1);
    expect(cpuLimit(roots('v1-host-path'), 64).cores).toBe(1);
    expect(cpuLimit(roots('v2-max'), 0).cores).toBe(1);
    expect(cpuLimit(roots('v2-max'), NaN).cores).toBe(1);
  });

  it('a quota above the affinity does not add cores', () => {
    expect(cpuLimit(roots('v1-docker'), 2)).toMatchObject({ cores: 2, affinity: 2, capped: false });
    expect(describeQuota(cpuLimit(roots('v1-docker'), 2))).toBe('');
  });

  it('no quota: the affinity', () => {
    expect(cpuLimit(roots('v2-max'), 6)).toMatchObject({ cores: 6, quota: null, capped: false });
    expect(cpuLimit(roots('garbage-proc'), 6)).toMatchObject({ cores: 6, quota: null, capped: false });
  });

  it('describes a quota that capped the thread count', () => {
    expect(describeQuota(cpuLimit(roots('v2-nested'), 64))).toBe('quota 1.5 CPUs of 64 cores');
    expect(describeQuota(cpuLimit(roots('v2-namespace-root'), 64))).toBe('quota 1 CPU of 64 cores');
    expect(describeQuota(cpuLimit(roots('v2-max'), 64))).toBe('');
  });
});

describe('backend thread counts under a quota', () => {
  it('TensorFlow: all cores but one, at least 1', () => {
    expect(intraOpThreads(cpuLimit(roots('v2-namespace-root'), 64).cores)).toBe(1);
    expect(intraOpThreads(cpuLimit(roots('v2-nested'), 64).cores)).toBe(1);
    expect(intraOpThreads(cpuLimit(roots('v1-docker'), 64).cores)).toBe(2);
    expect(intraOpThreads(1)).toBe(1);
  });

  it('wasm: one per CPU of quota', () => {
    const saved = process.env.D2L_WASM_THREADS;
    delete process.env.D2L_WASM_THREADS;
    try {
      expect(wasmThreads(cpuLimit(roots('v2-namespace-root'), 64).cores)).toBe(1);
      expect(wasmThreads(cpuLimit(roots('v1-docker'), 64).cores)).toBe(3);
    } finally {
      if (saved !== undefined) process.env.D2L_WASM_THREADS = saved;
    }
  });
});

/**
 * A real cgroup with a 0.5-CPU quota, where this process may create one (root, cgroup v1's cpu controller or v2 with
 * cpu delegated at the root): null elsewhere (the test then says why it skips).
 */
function makeQuotaCgroup(): { dir: string; version: 1 | 2 } | null {
  const name = `d2l-ts-test-${process.pid}`;
  for (const v1 of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    if (!fs.existsSync(path.join(v1, 'cpu.cfs_quota_us'))) continue;
    try {
      const dir = path.join(v1, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), '50000');
      return { dir, version: 1 };
    } catch {
      return null;
    }
  }
  try {
    if (!fs.readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').split(/\s+/).includes('cpu')) return null;
    const dir = path.join('/sys/fs/cgroup', name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cpu.max'), '50000 100000');
    return { dir, version: 2 };
  } catch {
    return null;
  }
}

describe('in a real cgroup with a 0.5-CPU quota', () => {
  const cg = makeQuotaCgroup();
  afterAll(() => {
    if (cg && fs.existsSync(cg.dir)) fs.rmdirSync(cg.dir); // empty again: the child has exited
  });
  if (!cg) console.warn('cpu-quota.test: skipping the real-cgroup check: cannot create a cgroup with a CPU quota here');
  it.skipIf(!cg)('the wasm backend starts 1 thread and its line names the quota', () => {
    // The child moves itself into the cgroup, then loads the backend from source (tsx), as backend.test.ts does.
    const script = `require(${JSON.stringify(path.join(ROOT, 'lib/engine/backend.ts'))}).initBackend()` +
      `.then((i) => console.log(JSON.stringify({ threads: i.threads, quota: i.quota })))`;
    const r = spawnSync('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$1" --require tsx/cjs -e "$2"', cg!.dir, process.execPath, script], {
      cwd: ROOT, encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, D2L_BACKEND: 'wasm', D2L_WASM_THREADS: '', TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    expect(r.status, r.stderr).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('d2l-ts: backend wasm'));
    const info = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(info.threads).toBe(1);
    const affinity = os.availableParallelism();
    if (affinity > 1) {
      expect(info.quota).toBe(`quota 0.5 CPUs of ${affinity} cores`);
      expect(line).toContain(`(CPU, 1 thread, quota 0.5 CPUs of ${affinity} cores)`);
    }
  }, 120_000);
});
