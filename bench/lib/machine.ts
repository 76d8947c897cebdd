// Where a run happened (docs/code-style.md rule 20): figures from different machines
// are not comparable, so every run prints this and every results file keeps it.

import os from 'node:os';

export interface MachineInfo {
  os: string;
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
  };
}

export function describeMachine(m: MachineInfo): string[] {
  return [
    `os:     ${m.os}`,
    `cpu:    ${m.cpu}`,
    `cores:  ${m.cores}`,
    `memory: ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
    `node:   ${m.node}`,
  ];
}
