/**
 * How many CPUs this process may really use: the CPU quota of its cgroup as well as the cores it may run on.
 * The thread counts of the CPU backends follow it (./backend: TensorFlow's intra-op pool; ./wasm-threads: the wasm
 * pthread pool), since every lecture that trains (from lecture 08 on) runs on those pools.
 *
 * Why: on JupyterHub (Zero to JupyterHub on Kubernetes: `singleuser.cpu.limit`), Docker (`--cpus`) and systemd
 * (`CPUQuota=`) a CPU limit is a cgroup *quota* — so many microseconds of CPU time per period — not a set of cores.
 * `os.cpus()` and even `os.availableParallelism()` (the affinity mask) still see every core of the host, so a
 * learner's kernel in a pod with a 1-CPU limit on a 64-core node would start 63 TensorFlow threads, exhaust its
 * quota within the first milliseconds of each 100 ms period and sit throttled for the rest. A thread per CPU of
 * quota (rounded up: 1.5 CPUs → 2) keeps the pool as busy as the quota allows.
 *
 * Where the quota is read (every ancestor counts: a parent's limit caps its children, so the smallest wins):
 *  - cgroup v2: `cpu.max` ("max 100000" = no limit, or "QUOTA PERIOD" in µs) of the process's own cgroup (the
 *    `0::/path` line of /proc/self/cgroup, under /sys/fs/cgroup or, on hybrid hosts, /sys/fs/cgroup/unified) and
 *    of each directory above it up to the mount's root;
 *  - cgroup v1: `cpu.cfs_quota_us` (-1 = no limit) and `cpu.cfs_period_us` in the cpu controller's hierarchy
 *    (`N:cpu,cpuacct:/path`, mounted at /sys/fs/cgroup/cpu,cpuacct or /sys/fs/cgroup/cpu), same walk.
 * Inside a container the path in /proc/self/cgroup may name the host's view (cgroup v1 without a cgroup namespace)
 * while the container sees its own cgroup at the mount's root: a path that does not exist is walked from the root.
 * Files that are missing, unreadable or malformed are skipped — the answer is then "no quota", never an error.
 * @module
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Where the cgroup files are: the defaults are the real ones; tests point them at a fixture directory. */
export interface CgroupRoots {
  /** The process's cgroup membership file (default `/proc/self/cgroup`). */
  procSelfCgroup?: string;
  /** Where the cgroup hierarchies are mounted (default `/sys/fs/cgroup`). */
  cgroupRoot?: string;
}

/** A CPU quota found in a cgroup file. */
export interface CpuQuota {
  /** Quota / period, in CPUs (1.5 for "150000 100000"). */
  cpus: number;
  /** The file it came from, for messages. */
  file: string;
}

/** The CPUs this process may use, and why. */
export interface CpuLimit {
  /** Whole CPUs to size thread pools by: min(affinity, ceil(quota)), at least 1. */
  cores: number;
  /** Cores in the affinity mask (`os.availableParallelism()`). */
  affinity: number;
  /** The smallest CPU quota of the process's cgroup and its ancestors; null when there is none. */
  quota: CpuQuota | null;
  /** True when the quota, not the affinity, set {@link cores}. */
  capped: boolean;
}

/**
 * The smallest CPU quota of this process's cgroup (v2 and v1) and its ancestors, or null when none is set or
 * the files cannot be read.
 */
export function readCpuQuota(roots: CgroupRoots = {}): CpuQuota | null {
  const procFile = roots.procSelfCgroup ?? '/proc/self/cgroup';
  const root = roots.cgroupRoot ?? '/sys/fs/cgroup';
  let lines: string[];
  try {
    lines = fs.readFileSync(procFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  let best: CpuQuota | null = null;
  const consider = (q: CpuQuota | null) => {
    if (q && (best === null || q.cpus < best.cpus)) best = q;
  };
  for (const line of lines) {
    // "hierarchy-ID:controller-list:cgroup-path"; the path may itself contain ':'
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, cgPath] = m;
    if (id === '0' && controllers === '') {
      for (const mount of [root, path.join(root, 'unified')]) {
        for (const dir of ancestors(mount, cgPath)) consider(readV2(dir));
      }
    } else if (controllers.split(',').includes('cpu')) {
      const mounts = [...new Set([controllers, 'cpu,cpuacct', 'cpuacct,cpu', 'cpu'])].map((c) => path.join(root, c));
      const mount = mounts.find(isDir);
      if (mount) for (const dir of ancestors(mount, cgPath)) consider(readV1(dir));
    }
  }
  return best;
}

/**
 * The CPUs to size thread pools by: the affinity mask, capped by the cgroup quota rounded up, never below 1.
 * @param affinity cores the process may run on (default `os.availableParallelism()`)
 */
export function cpuLimit(roots: CgroupRoots = {}, affinity: number = defaultAffinity()): CpuLimit {
  const aff = Number.isFinite(affinity) && affinity >= 1 ? Math.floor(affinity) : 1;
  const quota = readCpuQuota(roots);
  const fromQuota = quota ? Math.max(1, Math.ceil(quota.cpus - 1e-9)) : Infinity;
  const cores = Math.max(1, Math.min(aff, fromQuota));
  return { cores, affinity: aff, quota, capped: fromQuota < aff };
}

/** "quota 1.5 CPUs" for the backend line, or '' when no quota capped the thread count. */
export function describeQuota(limit: CpuLimit): string {
  if (!limit.capped || !limit.quota) return '';
  const n = Math.round(limit.quota.cpus * 100) / 100;
  return `quota ${n} CPU${n === 1 ? '' : 's'} of ${limit.affinity} cores`;
}

function defaultAffinity(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

/** The cgroup directory for `cgPath` under `mount` and each directory above it, up to `mount` itself. */
function ancestors(mount: string, cgPath: string): string[] {
  const parts = cgPath.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  // The host's path when the container sees its own cgroup at the root: only the root is ours.
  if (!isDir(path.join(mount, ...parts))) return isDir(mount) ? [mount] : [];
  const dirs: string[] = [];
  for (let i = parts.length; i >= 0; i--) dirs.push(path.join(mount, ...parts.slice(0, i)));
  return dirs;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** cgroup v2 `cpu.max`: "max PERIOD" (no limit) or "QUOTA PERIOD"; the period defaults to 100000 µs. */
function readV2(dir: string): CpuQuota | null {
  const file = path.join(dir, 'cpu.max');
  const text = readText(file);
  if (text === null) return null;
  const m = /^(max|\d+)(?:\s+(\d+))?$/.exec(text);
  if (!m || m[1] === 'max') return null;
  return quota(Number(m[1]), m[2] === undefined ? 100000 : Number(m[2]), file);
}

/** cgroup v1 `cpu.cfs_quota_us` (-1: no limit) over `cpu.cfs_period_us`. */
function readV1(dir: string): CpuQuota | null {
  const file = path.join(dir, 'cpu.cfs_quota_us');
  const q = readText(file);
  const p = readText(path.join(dir, 'cpu.cfs_period_us'));
  if (q === null || p === null || !/^-?\d+$/.test(q) || !/^\d+$/.test(p)) return null;
  return quota(Number(q), Number(p), file);
}

function quota(q: number, period: number, file: string): CpuQuota | null {
  if (!(q > 0) || !(period > 0) || !Number.isSafeInteger(q) || !Number.isSafeInteger(period)) return null;
  return { cpus: q / period, file };
}
