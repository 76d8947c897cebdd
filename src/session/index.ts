// The session model's rules as pure functions: Keycloak's formulas for
// expiry, validity, token lifetimes, rotation, not-before and session limits.
// Nothing here reads a clock or holds state; the actor and the HTTP facade
// pass `now` in.
export * from './realm-settings.js';
export * from './client-settings.js';
export * from './expiry.js';
export * from './validity.js';
export * from './token-expiry.js';
export * from './refresh-reuse.js';
export * from './refresh-checks.js';
export * from './not-before.js';
export * from './session-limits.js';
