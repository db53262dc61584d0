// Process figures read from /proc (Linux), for the memory and soak checks.

import { readFileSync } from 'node:fs';

/** Resident set size of a process in kB (VmRSS in /proc/PID/status). */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
