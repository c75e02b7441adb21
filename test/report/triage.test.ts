import { ReportError, decideTriage, type ImageResult, type TriageConfig } from '../../src/report';

function image(probabilities: Record<string, number>, js = 0.01, lambda = 0.5, sop = '1.2.3.4'): ImageResult {
  return {
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: sop, seriesInstanceUid: '1.2.3', modality: 'CT', js, lambda,
    predictions: Object.entries(probabilities).map(([value, probability]) => ({
      label: value, code: { value, scheme: 'SCT', meaning: value }, probability,
    })),
  };
}

const config: TriageConfig = {
  rules: [
    { code: '36118008', threshold: 0.5, priority: 'emergency' },   // pneumothorax
    { code: '60046008', threshold: 0.3, priority: 'urgent' },      // pleural effusion
    { code: '287272002', threshold: 0.4, priority: 'urgent' },     // cardiomegaly
  ],
  disagreement: { jsThreshold: 0.2, lambdaDistanceThreshold: 0.4 },
};

describe('decideTriage', () => {
  it('is routine with no fired rule when no threshold is reached', () => {
    const decision = decideTriage([image({ '36118008': 0.49, '60046008': 0.29 })], config);
    expect(decision).toEqual({ priority: 'routine', firedRule: null, needsHumanReview: false, reviewReason: null, priorityReason: null });
  });

  it('fires a rule at exactly its threshold', () => {
    expect(decideTriage([image({ '60046008': 0.3 })], config).firedRule).toEqual(config.rules[1]);
  });

  it('lets the highest priority win over an earlier lower one, on any image of the study', () => {
    const decision = decideTriage([image({ '60046008': 0.9 }), image({ '36118008': 0.51 }, 0.01, 0.5, '1.2.3.5')], config);
    expect(decision.priority).toBe('emergency');
    expect(decision.firedRule).toEqual(config.rules[0]);
  });

  it('reports, among rules of the winning priority, the one with the largest margin', () => {
    const decision = decideTriage([image({ '60046008': 0.35, '287272002': 0.9 })], config);
    expect(decision.priority).toBe('urgent');
    expect(decision.firedRule).toEqual(config.rules[2]);
  });

  it('flags human review on JS divergence at the threshold, naming the reason', () => {
    const decision = decideTriage([image({}, 0.05), image({}, 0.2, 0.5, '1.2.3.5')], config);
    expect(decision.needsHumanReview).toBe(true);
    expect(decision.reviewReason).toBe('the two models disagree on this study (divergence 0.20, limit 0.20): read with care');
  });

  it('flags human review on |λ − 0.5| and reports both reasons when both hold', () => {
    expect(decideTriage([image({}, 0.01, 0.95)], config).reviewReason)
      .toBe('the merged model leans far towards one of them (|λ − 0.5| 0.45, limit 0.40): read with care');
    expect(decideTriage([image({}, 0.01, 0.05)], config).needsHumanReview).toBe(true);
    expect(decideTriage([image({}, 0.3, 0.95)], config).reviewReason)
      .toBe('the two models disagree on this study (divergence 0.30, limit 0.20) and the merged model leans far towards one of them '
        + '(|λ − 0.5| 0.45, limit 0.40): read with care');
    expect(decideTriage([image({}, 0.19, 0.89)], config).needsHumanReview).toBe(false);
  });

  it('words the priority reason clinically: the finding that fired, its probability and the rule', () => {
    const decision = decideTriage([image({ '36118008': 0.993 }), image({ '36118008': 0.7 }, 0.01, 0.5, '1.2.3.5')], config);
    expect(decision.priorityReason).toBe('36118008 99 % (rule: ≥ 50 % → emergency)');
    expect(decideTriage([image({ '60046008': 0.996 })], config).priorityReason).toBe('60046008 99.6 % (rule: ≥ 30 % → urgent)');
  });

  it('gives the limit as many decimals as it has (a limit of 0.005 is not "0.01")', () => {
    expect(decideTriage([image({}, 0.0123)], { rules: [], disagreement: { jsThreshold: 0.005 } }).reviewReason)
      .toBe('the two models disagree on this study (divergence 0.012, limit 0.005): read with care');
  });

  it('never flags review when no disagreement bound is configured', () => {
    expect(decideTriage([image({}, 0.99, 1)], { rules: [], disagreement: {} }).needsHumanReview).toBe(false);
  });

  it('rejects a bad configuration or bad coefficients with a ReportError naming the field', () => {
    const bad = (c: Partial<TriageConfig>, field: string): void => {
      try {
        decideTriage([image({})], { ...config, ...c });
        throw new Error('no error');
      } catch (error) {
        expect(error).toBeInstanceOf(ReportError);
        expect((error as ReportError).field).toBe(field);
      }
    };
    bad({ rules: [{ code: '1', threshold: 1.5, priority: 'urgent' }] }, 'rules[0].threshold');
    bad({ rules: [{ code: '1', threshold: Number.NaN, priority: 'urgent' }] }, 'rules[0].threshold');
    bad({ rules: [{ code: '1', threshold: 0.5, priority: 'stat' as never }] }, 'rules[0].priority');
    bad({ disagreement: { jsThreshold: -1 } }, 'disagreement.jsThreshold');
    bad({ disagreement: { lambdaDistanceThreshold: 0.7 } }, 'disagreement.lambdaDistanceThreshold');
    expect(() => decideTriage([image({}, Number.NaN)], config)).toThrow(/images\[0\]\.js/);
  });
});
