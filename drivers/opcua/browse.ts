/**
 * Finding and reading nodes in a session: browse paths by namespace URI and browse name (never by a
 * namespace index, which a restarted server may number differently), children, values, method calls.
 */
import { AttributeIds, BrowseDirection, resolveNodeId, StatusCodes, type ClientSession, type NodeIdLike, type Variant } from 'node-opcua';
import { OpcUaError } from './connection.ts';

const HIERARCHICAL_REFERENCES = resolveNodeId('HierarchicalReferences');
export const OBJECTS_FOLDER = 'ns=0;i=85';

/** `nsu=urn:vendor:reactor;Reactor` -> ['urn:vendor:reactor', 'Reactor']; `Server` -> ['', 'Server']. */
export function parsePathElement(element: string): [string, string] {
  const match = /^nsu=([^;]+);(.+)$/.exec(element);
  return match ? [match[1]!, match[2]!] : ['', element];
}

/** Browsed text values are LocalizedText; callers want their text. */
function plainValue(raw: unknown): unknown {
  return raw && typeof raw === 'object' && 'text' in raw ? (raw as { text: string }).text : raw;
}

export class NodeBrowser {
  private namespaces: string[] = [];
  private readonly pathCache = new Map<string, string>();

  constructor(readonly session: ClientSession) {}

  /** Reads the namespace table again and forgets every node found with the old one. */
  async readNamespaces(): Promise<void> {
    this.namespaces = await this.session.readNamespaceArray();
    this.pathCache.clear();
  }

  private ns(uri: string): number {
    const index = this.namespaces.indexOf(uri);
    if (index < 0) throw new OpcUaError(`the server does not use namespace ${uri}`);
    return index;
  }

  /** Follows browse names (namespace URI, name) from `start`; undefined when the path does not exist. */
  async resolve(start: NodeIdLike, path: Array<[string, string]>): Promise<string | undefined> {
    const result = await this.session.translateBrowsePath({
      startingNode: start,
      relativePath: {
        elements: path.map(([uri, name]) => ({
          referenceTypeId: HIERARCHICAL_REFERENCES,
          isInverse: false,
          includeSubtypes: true,
          targetName: { namespaceIndex: uri ? this.ns(uri) : 0, name },
        })),
      },
    } as never);
    if (result.statusCode !== StatusCodes.Good || !result.targets?.length) return undefined;
    return result.targets[0]!.targetId.toString();
  }

  async children(nodeId: NodeIdLike): Promise<Array<{ name: string; nodeId: string }>> {
    const result = await this.session.browse({ nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: HIERARCHICAL_REFERENCES, includeSubtypes: true, resultMask: 63 } as never);
    return (result.references ?? []).map((r) => ({ name: r.browseName.name ?? '', nodeId: r.nodeId.toString() }));
  }

  /** The values of the nodes given, in one read; undefined for a node that is not there. */
  async readValues(nodeIds: Array<string | undefined>): Promise<unknown[]> {
    const present = nodeIds.map((id, i) => ({ id, i })).filter((x): x is { id: string; i: number } => x.id !== undefined);
    const values: unknown[] = new Array(nodeIds.length).fill(undefined);
    if (!present.length) return values;
    const read = await this.session.read(present.map((p) => ({ nodeId: p.id, attributeId: AttributeIds.Value })));
    read.forEach((dataValue, k) => {
      values[present[k]!.i] = plainValue(dataValue.value?.value);
    });
    return values;
  }

  async resolveDataType(uri: string, name: string): Promise<string> {
    const dataTypes = await this.resolve('ns=0;i=86', [['', 'DataTypes'], ['', 'BaseDataType'], ['', 'Structure'], [uri, name]]);
    if (!dataTypes) throw new OpcUaError(`the server does not define ${name} (${uri})`);
    return dataTypes;
  }

  /**
   * The node at a browse path from the Objects folder. Elements are `nsu=<namespace uri>;<BrowseName>`
   * or a bare name in namespace 0.
   */
  async nodeAt(path: readonly string[]): Promise<string> {
    const key = path.join('/');
    const cached = this.pathCache.get(key);
    if (cached) return cached;
    const found = await this.walk(path);
    this.pathCache.set(key, found);
    return found;
  }

  private async walk(path: readonly string[]): Promise<string> {
    let node = OBJECTS_FOLDER;
    for (let i = 0; i < path.length; i++) {
      const [uri, name] = parsePathElement(path[i]!);
      let next: string | undefined;
      try {
        next = await this.resolve(node, [[uri, name]]);
      } catch (error) {
        throw new OpcUaError(`no node at ${path.slice(0, i + 1).join('/')}: ${(error as Error).message}`);
      }
      if (!next) throw new OpcUaError(`no node at ${path.slice(0, i + 1).join('/')} (found ${['Objects', ...path.slice(0, i)].join('/')}, but it has no child ${path[i]})`);
      node = next;
    }
    return node;
  }

  /** Calls a method of an object; a bad status becomes an error naming the node and the status. */
  async callMethod(objectPath: readonly string[], method: string, inputArguments: Variant[]): Promise<unknown[]> {
    const objectId = await this.nodeAt(objectPath);
    const methodId = await this.nodeAt([...objectPath, method]);
    const result = await this.session.call({ objectId, methodId, inputArguments });
    if (result.statusCode !== StatusCodes.Good) {
      throw new OpcUaError(`calling ${[...objectPath, method].join('/')} (${methodId}) failed: ${result.statusCode.name} (${result.statusCode.description})`);
    }
    return (result.outputArguments ?? []).map((v) => v.value);
  }

  /** Reads a variable; a bad status becomes an error naming the node and the status. */
  async readVariable(path: readonly string[]): Promise<unknown> {
    const nodeId = await this.nodeAt(path);
    const [dataValue] = await this.session.read([{ nodeId, attributeId: AttributeIds.Value }]);
    if (dataValue!.statusCode.isNotGood()) throw new OpcUaError(`reading ${path.join('/')} (${nodeId}) failed: ${dataValue!.statusCode.name} (${dataValue!.statusCode.description})`);
    return plainValue(dataValue!.value.value);
  }
}
