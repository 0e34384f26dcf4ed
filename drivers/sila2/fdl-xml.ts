/**
 * The XML layer of the FDL reader: a positioned element tree, an in-order child walker that refuses anything
 * out of place, and the readers for the simple values of the Feature Definition schema.
 */
import { SaxesParser } from 'saxes';

export class FdlError extends Error {
  constructor(readonly line: number, readonly col: number, readonly detail: string, readonly file?: string) {
    super(`${file ? `${file}:` : ''}${line}:${col}: ${detail}`);
    this.name = 'FdlError';
  }
}

export interface Element {
  name: string;
  uri: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
  line: number;
  col: number;
}

/** Collects what breaks a rule of the standard without making the definition unusable. */
export class Warnings {
  readonly list: string[] = [];
  constructor(private readonly file?: string) {}

  add(at: Pick<Element, 'line' | 'col'>, detail: string): void {
    this.list.push(`${this.file ? `${this.file}:` : ''}${at.line}:${at.col}: ${detail}`);
  }
}

export function parseXml(xml: string, file?: string): Element {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: Element[] = [];
  let root: Element | undefined;
  let tagStart = { line: 1, col: 1 };
  let failure: FdlError | undefined;
  parser.on('error', (error) => {
    if (!failure) failure = new FdlError(parser.line, parser.column + 1, `malformed XML: ${error.message.replace(/^[^:]*:\d+:\d+: /, '')}`, file);
  });
  parser.on('opentagstart', (tag) => {
    // saxes reports this after reading the name and the character after it.
    tagStart = { line: parser.line, col: Math.max(1, parser.column - tag.name.length - 1) };
  });
  parser.on('opentag', (tag) => {
    const attributes: Record<string, string> = {};
    for (const [name, attribute] of Object.entries(tag.attributes)) attributes[name] = typeof attribute === 'string' ? attribute : attribute.value;
    const element: Element = { name: tag.local ?? tag.name, uri: tag.uri ?? '', attributes, children: [], text: '', ...tagStart };
    if (stack.length) stack[stack.length - 1]!.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on('text', (text) => {
    if (stack.length) stack[stack.length - 1]!.text += text;
  });
  parser.on('cdata', (text) => {
    if (stack.length) stack[stack.length - 1]!.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(xml).close();
  } catch (error) {
    if (!failure) failure = new FdlError(parser.line, parser.column + 1, `malformed XML: ${(error as Error).message}`, file);
  }
  if (failure) throw failure;
  if (!root) throw new FdlError(1, 1, 'expected a <Feature> element', file);
  return root;
}

/** Walks an element's children in order, refusing anything out of place. */
export class Children {
  private index = 0;
  constructor(private readonly parent: Element) {}

  private get current(): Element | undefined {
    return this.parent.children[this.index];
  }

  required(name: string): Element {
    const element = this.current;
    if (!element || element.name !== name) {
      const where = element ?? this.parent;
      throw new FdlError(where.line, where.col, `expected <${name}> in <${this.parent.name}>${element ? `, found <${element.name}>` : ''}`);
    }
    this.index++;
    return element;
  }

  optional(name: string): Element | undefined {
    return this.current?.name === name ? this.parent.children[this.index++] : undefined;
  }

  many(name: string): Element[] {
    const found: Element[] = [];
    while (this.current?.name === name) found.push(this.parent.children[this.index++]!);
    return found;
  }

  /** Children of any of `names`, in any order (feature members are commonly written in varying order). */
  anyOf(names: readonly string[]): Element[] {
    const found: Element[] = [];
    while (this.current && names.includes(this.current.name)) found.push(this.parent.children[this.index++]!);
    return found;
  }

  end(expected: string): void {
    const extra = this.current;
    if (extra) throw new FdlError(extra.line, extra.col, `unexpected <${extra.name}> in <${this.parent.name}>; expected ${expected}`);
  }
}

const IDENTIFIER = /^[A-Z][a-zA-Z0-9]*$/;

/** An element's text as written, for xs:string content whose white space is part of the value. */
export function rawText(element: Element): string {
  if (element.children.length) {
    const child = element.children[0]!;
    throw new FdlError(child.line, child.col, `expected text in <${element.name}>, found <${child.name}>`);
  }
  return element.text;
}

export function text(element: Element): string {
  return rawText(element).trim();
}

export function identifier(element: Element): string {
  const value = text(element);
  if (!IDENTIFIER.test(value) || value.length > 255) {
    throw new FdlError(element.line, element.col, `expected an identifier (an upper-case letter, then letters and digits, at most 255), got '${value}'`);
  }
  return value;
}

export function yesNo(element: Element): boolean {
  const value = text(element);
  if (value !== 'Yes' && value !== 'No') throw new FdlError(element.line, element.col, `expected Yes or No in <${element.name}>, got '${value}'`);
  return value === 'Yes';
}

export function integer(element: Element, minimum = 0): number {
  const value = text(element);
  if (!/^\+?\d+$/.test(value) || Number(value) < minimum) throw new FdlError(element.line, element.col, `expected a whole number of at least ${minimum} in <${element.name}>, got '${value}'`);
  return Number(value);
}

export function decimal(element: Element): number {
  const value = text(element);
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(value)) throw new FdlError(element.line, element.col, `expected a number in <${element.name}>, got '${value}'`);
  return Number(value);
}
