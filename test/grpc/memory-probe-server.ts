/**
 * Child process of the memory test (memory.test.ts): the real gRPC server with its default limits over the demo
 * engine, alone in its process so that its resident set size is measured without the test runner's. Prints
 * {"port": N} once listening; exits when its stdin closes.
 */
import { openDemoEngine, startTestServer } from './grpc-test-helpers';

async function main(): Promise<void> {
  const engine = await openDemoEngine();
  const server = await startTestServer(engine);
  process.stdout.write(JSON.stringify({ port: server.port, requestBudget: server.requestBytes.limitBytes }) + '\n');
  if (process.env.T3_MEMORY_PROBE_DEBUG) {
    setInterval(() => {
      const m = process.memoryUsage();
      process.stderr.write(`probe ${process.env.GLIBC_TUNABLES} rss=${m.rss >> 20} heapTotal=${m.heapTotal >> 20} external=${m.external >> 20} arrayBuffers=${m.arrayBuffers >> 20} held=${server.requestBytes.heldBytes}\n`);
    }, 3000).unref();
  }
  process.stdin.resume();
  process.stdin.on('end', () => {
    void server.close(0).then(() => engine.close()).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
