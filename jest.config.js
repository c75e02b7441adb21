/** Jest runs the TypeScript sources through ts-jest; type checking is done once by `npm run typecheck`. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 120000,
  // Suites share 2 cores with ONNX Runtime and Orthanc; two workers keep them from starving each other.
  maxWorkers: 2,
};
