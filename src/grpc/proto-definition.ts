import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AdminProtos } from './generated/admin';
import type { ProtoGrpcType as TriageProtos } from './generated/triage';

/** Folder holding `t3/v1/*.proto`: `<repo>/proto`, both from src/grpc (tsx, jest) and from dist/grpc (built). */
export function protoRoot(): string {
  return path.resolve(__dirname, '..', '..', 'proto');
}

export const T3_PROTO_FILES: readonly string[] = ['t3/v1/common.proto', 't3/v1/triage.proto', 't3/v1/admin.proto'];

/** Fully qualified service names, as health checks and reflection list them. */
export const TRIAGE_SERVICE_NAME = 't3.v1.TriageService';
export const ADMIN_SERVICE_NAME = 't3.v1.AdminService';

/**
 * Loader options shared by the server, the example client and the tests, so both ends see the same JavaScript
 * shapes: camelCase fields, enums as their names, 64-bit integers as numbers (ids and epoch milliseconds stay far
 * below 2^53), defaults filled in, and the name of the set member of each oneof.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot()],
};

/** The loaded t3.v1 package, typed by the generated types (`npm run generate:grpc`). */
type T3Package = (TriageProtos & AdminProtos)['t3']['v1'];

export interface T3Protos {
  packageDefinition: protoLoader.PackageDefinition;
  /** Client constructors typed by the generated service interfaces; `.service` is the definition servers add. */
  triageService: T3Package['TriageService'];
  adminService: T3Package['AdminService'];
}

/** Loads the t3.v1 protos once per call (synchronous; a few milliseconds). */
export function loadT3Protos(): T3Protos {
  const packageDefinition = protoLoader.loadSync([...T3_PROTO_FILES], PROTO_LOADER_OPTIONS);
  // The generator describes what loadPackageDefinition builds from these files with these options.
  const root = grpc.loadPackageDefinition(packageDefinition) as unknown as TriageProtos & AdminProtos;
  return { packageDefinition, triageService: root.t3.v1.TriageService, adminService: root.t3.v1.AdminService };
}
