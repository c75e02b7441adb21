import os from 'node:os';
import { cpuQuota, defaultIntraOpThreads, resolveIntraOpThreads } from '../../src/engine';

test('a cgroup v2 cpu.max quota is read as CPUs, rounded up; "max" and unreadable mean no limit', () => {
  expect(cpuQuota('200000 100000\n')).toBe(2);
  expect(cpuQuota('150000 100000')).toBe(2);
  expect(cpuQuota('50000 100000')).toBe(1);
  expect(cpuQuota('max 100000')).toBeNull();
  expect(cpuQuota(null)).toBeNull();
  expect(cpuQuota('garbage')).toBeNull();
});

test('the default is the CPUs this process may use, capped by the container quota, at least 1', () => {
  const affinity = os.availableParallelism();
  expect(defaultIntraOpThreads(() => null)).toBe(affinity);
  expect(defaultIntraOpThreads(() => 'max 100000')).toBe(affinity);
  expect(defaultIntraOpThreads(() => '100000 100000')).toBe(1);
  expect(defaultIntraOpThreads(() => `${(affinity + 8) * 100000} 100000`)).toBe(affinity);
});

test('an operator count wins over the default', () => {
  expect(resolveIntraOpThreads(3)).toBe(3);
  expect(resolveIntraOpThreads(undefined)).toBe(defaultIntraOpThreads());
  expect(resolveIntraOpThreads(undefined)).toBeGreaterThanOrEqual(1);
});
