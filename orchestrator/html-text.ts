/**
 * Text from the record placed in HTML (the record page, its SVG plots): control characters shown as
 * escapes first (a bidi override cannot reverse a column, a form feed cannot split a row), then the
 * characters HTML gives meaning to escaped, so nothing a device or a person wrote can become markup.
 */
import { printable } from '../config/printable.ts';

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function html(value: unknown): string {
  return printable(String(value ?? '')).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
