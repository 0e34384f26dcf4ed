/**
 * Derives the protobuf messages and gRPC service of a feature at run time (SiLA 2 Part B mapping), and
 * writes them out as .proto text for other languages. No code generation step: the FDL is the source.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { featureFqi, protoPackage, type DataType, type Feature, type Parameter } from './feature.ts';

export const FRAMEWORK_PACKAGE = 'sila2.org.silastandard';
const PROTOS_DIR = fileURLToPath(new URL('../../protos/', import.meta.url));

/** A fresh root holding SiLAFramework.proto and SiLABinaryTransfer.proto. */
export function frameworkRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTOS_DIR}${target.replace(/^.*\//, '')}`);
  root.loadSync(['SiLAFramework.proto', 'SiLABinaryTransfer.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

export interface RpcDefinition {
  name: string;
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  requestStream: boolean;
  responseStream: boolean;
}

/** The protobuf side of one feature: its namespace, its service, and the message types by name. */
export interface FeatureProto {
  feature: Feature;
  fqi: string;
  packageName: string;
  serviceName: string;
  namespace: protobuf.Namespace;
  rpcs: Map<string, RpcDefinition>;
  type(name: string): protobuf.Type;
}

/** Adds a feature's messages and service to `root` (a root from frameworkRoot()). */
export function deriveFeatureProto(feature: Feature, root: protobuf.Root): FeatureProto {
  const packageName = protoPackage(feature);
  const namespace = root.define(packageName);
  const service = new protobuf.Service(feature.identifier);
  const fw = (name: string) => `.${FRAMEWORK_PACKAGE}.${name}`;

  for (const definition of feature.dataTypes) {
    namespace.add(messageOf(`DataType_${definition.identifier}`, [definition]));
  }
  const addRpc = (name: string, request: string, response: string, responseStream = false) =>
    service.add(new protobuf.Method(name, 'rpc', request, response, false, responseStream));

  for (const command of feature.commands) {
    const id = command.identifier;
    namespace.add(messageOf(`${id}_Parameters`, command.parameters));
    namespace.add(messageOf(`${id}_Responses`, command.responses));
    if (command.observable) {
      addRpc(id, `${id}_Parameters`, fw('CommandConfirmation'));
      addRpc(`${id}_Info`, fw('CommandExecutionUUID'), fw('ExecutionInfo'), true);
      if (command.intermediateResponses.length) {
        namespace.add(messageOf(`${id}_IntermediateResponses`, command.intermediateResponses));
        addRpc(`${id}_Intermediate`, fw('CommandExecutionUUID'), `${id}_IntermediateResponses`, true);
      }
      addRpc(`${id}_Result`, fw('CommandExecutionUUID'), `${id}_Responses`);
    } else {
      addRpc(id, `${id}_Parameters`, `${id}_Responses`);
    }
  }
  for (const property of feature.properties) {
    const prefix = property.observable ? 'Subscribe' : 'Get';
    const id = property.identifier;
    namespace.add(messageOf(`${prefix}_${id}_Parameters`, []));
    namespace.add(messageOf(`${prefix}_${id}_Responses`, [property]));
    addRpc(`${prefix}_${id}`, `${prefix}_${id}_Parameters`, `${prefix}_${id}_Responses`, property.observable);
  }
  for (const metadata of feature.metadata) {
    const id = metadata.identifier;
    namespace.add(messageOf(`Metadata_${id}`, [metadata]));
    namespace.add(messageOf(`Get_FCPAffectedByMetadata_${id}_Parameters`, []));
    const affected = new protobuf.Type(`Get_FCPAffectedByMetadata_${id}_Responses`);
    affected.add(new protobuf.Field('AffectedCalls', 1, fw('String'), 'repeated'));
    namespace.add(affected);
    addRpc(`Get_FCPAffectedByMetadata_${id}`, `Get_FCPAffectedByMetadata_${id}_Parameters`, `Get_FCPAffectedByMetadata_${id}_Responses`);
  }
  namespace.add(service);
  root.resolveAll();

  const rpcs = new Map<string, RpcDefinition>();
  for (const method of service.methodsArray) {
    method.resolve();
    rpcs.set(method.name, {
      name: method.name,
      path: `/${packageName}.${feature.identifier}/${method.name}`,
      requestType: method.resolvedRequestType!,
      responseType: method.resolvedResponseType!,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
    });
  }
  return {
    feature,
    fqi: featureFqi(feature),
    packageName,
    serviceName: feature.identifier,
    namespace,
    rpcs,
    type: (name) => namespace.lookupType(name),
  };
}

/** One message with a field per item, numbered from 1 in definition order. */
function messageOf(name: string, items: readonly Pick<Parameter, 'identifier' | 'dataType'>[]): protobuf.Type {
  const type = new protobuf.Type(name);
  items.forEach((item, i) => addField(type, item.identifier, i + 1, item.dataType));
  return type;
}

/** Adds the field for a value of `dataType`; structures become a nested `<Id>_Struct` message. */
function addField(owner: protobuf.Type, name: string, id: number, dataType: DataType): void {
  const { typeName, repeated } = fieldType(owner, name, dataType);
  owner.add(new protobuf.Field(name, id, typeName, repeated ? 'repeated' : undefined));
}

function fieldType(owner: protobuf.Type, name: string, dataType: DataType): { typeName: string; repeated: boolean } {
  switch (dataType.kind) {
    case 'basic':
      return { typeName: `.${FRAMEWORK_PACKAGE}.${dataType.basic}`, repeated: false };
    case 'constrained':
      return fieldType(owner, name, dataType.base);
    case 'reference':
      return { typeName: `DataType_${dataType.identifier}`, repeated: false };
    case 'list':
      return { typeName: fieldType(owner, name, dataType.element).typeName, repeated: true };
    case 'structure': {
      const struct = new protobuf.Type(`${name}_Struct`);
      dataType.elements.forEach((element, i) => addField(struct, element.identifier, i + 1, element.dataType));
      owner.add(struct);
      return { typeName: `${name}_Struct`, repeated: false };
    }
  }
}

/** A standalone message `name { <dataType> value = 1; }`, for Any payloads that are not basic types. */
export function valueWrapperType(name: string, dataType: DataType, root: protobuf.Root): protobuf.Type {
  const type = new protobuf.Type(name);
  root.add(type);
  addField(type, 'value', 1, dataType);
  root.resolveAll();
  return type;
}

/** The feature as .proto text, written from the same derivation the runtime uses. */
export function featureProtoText(feature: Feature): string {
  const proto = deriveFeatureProto(feature, frameworkRoot());
  const lines = [
    `// ${proto.fqi}: derived from its Feature Definition by Workcell (SiLA 2 Part B mapping).`,
    'syntax = "proto3";',
    '',
    'import "SiLAFramework.proto";',
    '',
    `package ${proto.packageName};`,
    '',
  ];
  const service = proto.namespace.get(proto.serviceName) as protobuf.Service;
  const local = (typeName: string) => typeName.replace(/^\./, '').replace(`${proto.packageName}.`, '');
  lines.push(`service ${proto.serviceName} {`);
  for (const method of service.methodsArray) {
    lines.push(`  rpc ${method.name} (${local(method.resolvedRequestType!.fullName)}) returns (${method.responseStream ? 'stream ' : ''}${local(method.resolvedResponseType!.fullName)}) {}`);
  }
  lines.push('}', '');
  const writeType = (type: protobuf.Type, indent: string) => {
    lines.push(`${indent}message ${type.name} {`);
    for (const nested of type.nestedArray) if (nested instanceof protobuf.Type) writeType(nested, `${indent}  `);
    for (const field of type.fieldsArray) {
      field.resolve();
      // A structure's message is nested in the message of its field: name it from there (protoc resolves
      // names outward from the enclosing message, so a name relative to any other scope would not do).
      const resolved = field.resolvedType?.fullName;
      const typeName = !resolved ? field.type : resolved.startsWith(`${type.fullName}.`) ? resolved.slice(type.fullName.length + 1) : local(resolved);
      lines.push(`${indent}  ${field.repeated ? 'repeated ' : ''}${typeName} ${field.name} = ${field.id};`);
    }
    lines.push(`${indent}}`);
  };
  for (const nested of proto.namespace.nestedArray) {
    if (nested instanceof protobuf.Type) {
      writeType(nested, '');
      lines.push('');
    }
  }
  return lines.join('\n');
}
