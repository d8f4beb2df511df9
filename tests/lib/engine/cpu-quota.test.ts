// lib/engine/cpu-quota.ts: the CPUs a process may use under a container's CPU limit (a cgroup quota), read from the
// fixture cgroup trees in tests/fixtures/cgroup/<case>/ (proc-self-cgroup stands for /proc/self/cgroup, sys-fs-cgroup/
// for /sys/fs/cgroup). What must hold: v2 `cpu.max` and v1 `cpu.cfs_quota_us` are read, every ancestor counts and the
// smallest quota wins, "max"/-1 mean no limit, the quota is rounded up and never gives fewer than one thread (nor
// more than the affinity), missing or malformed files fall back to "no quota" without throwing; and the backends'
// thread counts (TensorFlow: all cores but one; wasm) are at least 1 under a 1-CPU quota.
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { cpuLimit, describeQuota, readCpuQuota, type CgroupRoots } from '../../../lib/engine/cpu-quota';
import { intraOpThreads } from '../../../lib/engine/backend';
import { wasmThreads } from '../../../lib/engine/wasm-threads';

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
