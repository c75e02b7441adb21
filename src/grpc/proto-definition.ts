import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

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

export interface T3Protos {
  packageDefinition: protoLoader.PackageDefinition;
  triageService: grpc.ServiceClientConstructor;
  adminService: grpc.ServiceClientConstructor;
}

/** Loads the t3.v1 protos once per call (synchronous; a few milliseconds). */
export function loadT3Protos(): T3Protos {
  const packageDefinition = protoLoader.loadSync([...T3_PROTO_FILES], PROTO_LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    t3: { v1: { TriageService: grpc.ServiceClientConstructor; AdminService: grpc.ServiceClientConstructor } };
  };
  return { packageDefinition, triageService: root.t3.v1.TriageService, adminService: root.t3.v1.AdminService };
}
