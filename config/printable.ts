/**
 * Text that came from a person (reasons, names) or a device (messages) printed so that it cannot pose
 * as something else: a newline could forge a "Signed by ..." line in a record, an ANSI escape could clear
 * the screen, a bidi override could reverse what a reviewer reads. The log keeps the text as given;
 * only what is shown is escaped.
 */

// C0 controls, DEL, C1 controls, the Unicode line and paragraph separators, and the bidi controls.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(character: string): string {
  const named = NAMED[character];
  if (named) return named;
  const code = character.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The text with every control character shown as an escape (`\n`, `\x1b`, `\u202e`); backslashes stay as they are. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}

/** Whether the text holds a character `printable` would escape (names and user ids must not). */
export function hasControlCharacters(text: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  const found = UNPRINTABLE.test(text);
  UNPRINTABLE.lastIndex = 0;
  return found;
}
