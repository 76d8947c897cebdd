// `first` / `max` query parameters as the admin API takes them: integers,
// not negative, and `first + max` within LIST_RESULTS_MAX. Anything else is
// a 400 that changes nothing (absurd paging must not cost the server).

import { LIST_RESULTS_MAX } from '../../constants.js';
import { badRequest } from './admin-error.js';

function integer(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^-?\d{1,15}$/.test(text)) throw badRequest(`${name} must be an integer`, name);
  return Number(text);
}

/**
 * Keycloak treats a negative `first` as 0 and a negative `max` as "default";
 * sessiond does the same for -1 (the admin client's default) and refuses
 * other negatives and anything above LIST_RESULTS_MAX.
 */
export function pageQuery(query: { first?: string; max?: string }, defaultMax: number): { first: number; max: number } {
  let first = integer(query.first, 'first', 0);
  let max = integer(query.max, 'max', defaultMax);
  if (first === -1) first = 0;
  if (max === -1) max = defaultMax;
  if (first < 0) throw badRequest('first must not be negative', 'first');
  if (max < 0) throw badRequest('max must not be negative', 'max');
  if (first + max > LIST_RESULTS_MAX) throw badRequest(`first + max must not exceed ${LIST_RESULTS_MAX}`, 'max');
  return { first, max };
}
