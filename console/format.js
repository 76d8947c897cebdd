// Shared view helpers.

export function when(ms) {
  if (ms === undefined || ms === null || ms <= 0) return '—';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function clientsOf(row) {
  return Object.values(row.clients ?? {}).join(', ') || '—';
}
