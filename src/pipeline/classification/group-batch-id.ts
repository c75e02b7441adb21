/**
 * The batch id a group of a grouped T3B batch reads under: each group of a split batch is recorded as a batch of its
 * own (`<batch>/g<k>`, with its λ), so results, the gRPC answer and the SR's λ list record every group's λ as they
 * record T3B's λ_B; a batch that stayed one group keeps the batch's id.
 */
export function groupBatchId(batchId: string, group: number | undefined, groupCount: number): string {
  return group !== undefined && groupCount > 1 ? `${batchId}/g${group}` : batchId;
}
