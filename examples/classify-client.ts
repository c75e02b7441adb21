/**
 * A minimal TriageService client: sends DICOM files to an orthanc-t3 sidecar and prints each image's top findings,
 * its coefficients, the batch λ and the triage decision.
 *
 *   npx tsx examples/classify-client.ts --address 127.0.0.1:50051 --token "$T3_TOKEN" [--ca ca.pem \
 *     [--cert client.pem --key client.key]] [--policy t3b] [--sr out.dcm] FILE.dcm...
 *
 * Without --ca the channel is plaintext (the server accepts that on loopback only). Only @grpc/grpc-js,
 * @grpc/proto-loader, the .proto files under proto/ and their generated types (src/grpc/generated/) are needed: copy
 * those into your own project.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
// Types generated from the .proto files by proto-loader's own generator (`npm run generate:grpc`); in your own project
// run `proto-loader-gen-types --longs=Number --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js` on them.
import type { ProtoGrpcType } from '../src/grpc/generated/triage';
import type { ClassifyRequest } from '../src/grpc/generated/t3/v1/ClassifyRequest';
import type { ClassifyResponse__Output } from '../src/grpc/generated/t3/v1/ClassifyResponse';
import type { Policy } from '../src/grpc/generated/t3/v1/Policy';

export interface ClientOptions {
  address: string;
  token: string;
  files: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  policy?: string;
  srOut?: string;
  deadlineMs?: number;
}

function parseCommandLine(argv: string[]): ClientOptions {
  const options: Partial<ClientOptions> & { files: string[] } = { files: [] };
  const valueOf = (i: number) => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--address': options.address = valueOf(i++); break;
      case '--token': options.token = valueOf(i++); break;
      case '--ca': options.caFile = valueOf(i++); break;
      case '--cert': options.certFile = valueOf(i++); break;
      case '--key': options.keyFile = valueOf(i++); break;
      case '--policy': options.policy = valueOf(i++); break;
      case '--sr': options.srOut = valueOf(i++); break;
      default:
        if (argv[i].startsWith('--')) throw new Error(`unknown option ${argv[i]}`);
        options.files.push(argv[i]);
    }
  }
  if (!options.address || !options.token || options.files.length === 0) {
    throw new Error('usage: classify-client --address HOST:PORT --token TOKEN [--ca CA.pem [--cert C.pem --key K.pem]] FILE.dcm...');
  }
  return options as ClientOptions;
}

/** Classifies the files in one call and returns the printed report (also used by the tests). */
export async function classifyFiles(options: ClientOptions): Promise<string> {
  const definition = protoLoader.loadSync(['t3/v1/triage.proto'], {
    includeDirs: [path.resolve(__dirname, '..', 'proto')],
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  // The generated types were made with the same loader options as above, so they describe these objects.
  const { TriageService } = (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).t3.v1;
  const credentials = options.caFile
    ? grpc.credentials.createSsl(
      readFileSync(options.caFile),
      options.keyFile ? readFileSync(options.keyFile) : null,
      options.certFile ? readFileSync(options.certFile) : null,
    )
    : grpc.credentials.createInsecure();
  const client = new TriageService(options.address, credentials, { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${options.token}`);
  const request: ClassifyRequest = {
    images: options.files.map((file) => ({ name: path.basename(file), dicom: readFileSync(file) })),
    // The server answers INVALID_ARGUMENT, naming the field, for a policy it does not know.
    policy: `POLICY_${(options.policy ?? 't3b').toUpperCase().replace(/-/g, '_')}` as Policy,
    includeSr: Boolean(options.srOut),
    // Classify what can be classified; list the rest.
    onBadImage: 'BAD_IMAGE_HANDLING_SKIP',
  };
  try {
    const response = await new Promise<ClassifyResponse__Output>((resolve, reject) => {
      client.Classify(request, metadata, { deadline: Date.now() + (options.deadlineMs ?? 60000) },
        (err, value) => (err || !value ? reject(err ?? new Error('no response')) : resolve(value)));
    });
    const { bundle, triage, sr } = response;
    const lines: string[] = [];
    lines.push(`bundle ${bundle?.name} ${bundle?.version}, ${response.policy}, on ${response.executionProvider}`);
    for (const batch of response.batches) {
      lines.push(`batch ${batch.batchId}: ${batch.size} image(s), λ_B = ${batch.batchLambda?.toFixed(4) ?? 'n/a'}`);
    }
    for (const image of response.images) {
      const top = image.predictions.slice(0, 3).map((p) => `${p.label} ${(100 * p.probability).toFixed(1)}%`).join(', ');
      const frame = image.frameNumber ? ` frame ${image.frameNumber}` : '';
      lines.push(`${image.name}${frame} [${image.modality}]: ${top}; JS ${image.js.toFixed(4)}, λ ${image.lambda.toFixed(4)}, λ' ${image.lambdaFinal.toFixed(4)}`);
    }
    for (const failure of response.failedImages) lines.push(`${failure.name}: not classified (${failure.code}): ${failure.message}`);
    if (triage) {
      lines.push(`triage: ${triage.priority.replace('PRIORITY_', '').toLowerCase()}${triage.needsHumanReview ? ` — review: ${triage.reviewReason}` : ''}`);
    }
    if (options.srOut && sr.length > 0) {
      writeFileSync(options.srOut, sr);
      lines.push(`SR ${response.srSopInstanceUid} written to ${options.srOut}`);
    }
    return lines.join('\n');
  } finally {
    client.close();
  }
}

if (require.main === module) {
  classifyFiles(parseCommandLine(process.argv.slice(2))).then(
    (report) => console.log(report),
    (err: grpc.ServiceError | Error) => {
      console.error('code' in err ? `${grpc.status[err.code]}: ${err.details}` : err.message);
      process.exitCode = 1;
    },
  );
}
