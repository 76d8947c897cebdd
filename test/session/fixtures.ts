// Shared fixtures for the session-rule tables. Not a test file (ava runs
// *.test.js only). Times are absolute epoch seconds from one fixed origin so
// every expected value in a table can be read off as T0 + n.
import {
  clientSessionSettings,
  realmSessionSettings,
  type ClientSessionSettings,
  type RealmSessionSettings,
} from '../../src/session/index.js';

/** 2023-11-14T22:13:20Z; any fixed value works, none of the rules read a clock. */
export const T0 = 1_700_000_000;

export function realm(partial: Partial<RealmSessionSettings> = {}): RealmSessionSettings {
  return realmSessionSettings(partial);
}

export function client(attributes: Record<string, string> = {}, notBefore = 0): ClientSessionSettings {
  return clientSessionSettings(attributes, notBefore);
}
