// Shared view helpers.

export function when(ms) {
  if (ms === undefined || ms === null || ms <= 0) return '—';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

/** A datetime-local value read as UTC (the times shown are UTC), in epoch ms; undefined when empty. */
export function utcMs(value) {
  return value === '' ? undefined : Date.parse(`${value}Z`);
}

export function clientsOf(row) {
  return Object.values(row.clients ?? {}).join(', ') || '—';
}
