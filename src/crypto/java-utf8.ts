// How Java turns a password's chars into the bytes PBKDF2 hashes.
//
// Keycloak builds `new PBEKeySpec(password.toCharArray(), ...)`, and the JDK's
// PBKDF2KeyImpl.getPasswordBytes encodes that char[] with
// `StandardCharsets.UTF_8.encode(CharBuffer)`. Charset.encode replaces
// malformed input with the encoder's replacement, which for UTF-8 is the
// single byte '?' (0x3F). A JS string is the same UTF-16 code units as a Java
// char[], so the only difference from Buffer.from(s, 'utf8') is a lone
// surrogate: Node writes U+FFFD (EF BF BD), Java writes '?'. Such a password
// cannot be typed on a normal form, but an imported hash of one must verify.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function javaPasswordBytes(password: string): Buffer {
  return Buffer.from(password.replace(LONE_SURROGATE, '?'), 'utf8');
}
