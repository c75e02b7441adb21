import { parentPort } from 'node:worker_threads';
import { runFrameTask, type FrameTask } from './frame-task';

/** Worker thread entry: decodes frames off the main event loop; the pool terminates it on a timeout. */
const port = parentPort;
if (!port) throw new Error('frame-worker must run as a worker thread');
port.on('message', (message: { id: number; task: FrameTask }) => {
  void runFrameTask(message.task).then((outcome) => {
    const transfer: ArrayBuffer[] = [];
    if (outcome.ok && outcome.tensor) transfer.push(outcome.tensor.buffer as ArrayBuffer);
    if (outcome.ok && outcome.samples) transfer.push(outcome.samples.buffer as ArrayBuffer);
    port.postMessage({ id: message.id, outcome }, transfer);
  });
});
port.postMessage({ ready: true });
