import { InputError, TasselError } from '../errors.js';
import type { Matrix } from './matrix.js';
import type { Classifier, FitOptions, Labels, ModelFactory, ModelJSON } from './model.js';
import { rejectUnknownParams } from './params.js';

/** `prior` predicts the (weighted) training rate of class 1; `most_frequent` predicts 0 or 1 for the majority. */
export type DummyStrategy = 'prior' | 'most_frequent';

export type DummyParams = {
  strategy: DummyStrategy;
};

const KIND = 'dummy';
const FORMAT_VERSION = 1;

/** A baseline classifier, as scikit-learn's DummyClassifier. */
export class DummyClassifier implements Classifier {
  readonly kind = KIND;
  readonly params: DummyParams;
  /** Weighted share of class 1 in the training labels. */
  prior = Number.NaN;

  constructor(params: Partial<DummyParams> = {}) {
    rejectUnknownParams(KIND, params, ['strategy']);
    const strategy = params.strategy ?? 'prior';
    if (strategy !== 'prior' && strategy !== 'most_frequent') {
      throw new InputError(
        `dummy: parameter strategy must be "prior" or "most_frequent", got ${JSON.stringify(strategy)}`,
      );
    }
    this.params = { strategy };
  }

  fit(_X: Matrix, y: Labels, options: FitOptions = {}): void {
    if (y.length === 0) throw new InputError('dummy: cannot fit on zero rows');
    const w = options.sampleWeight;
    let pos = 0;
    let total = 0;
    for (let i = 0; i < y.length; i++) {
      const wi = w ? w[i]! : 1;
      pos += y[i]! * wi;
      total += wi;
    }
    this.prior = pos / total;
  }

  private value(): number {
    if (Number.isNaN(this.prior)) throw new TasselError('INVALID_STATE', 'dummy: predict before fit');
    if (this.params.strategy === 'prior') return this.prior;
    return this.prior > 0.5 ? 1 : 0;
  }

  predictProba(X: Matrix): Float64Array {
    return new Float64Array(X.rows).fill(this.value());
  }

  predictOne(_row: Float64Array): number {
    return this.value();
  }

  summary(): Record<string, unknown> {
    return { prior: this.prior };
  }

  toJSON(): ModelJSON {
    return { kind: KIND, format_version: FORMAT_VERSION, params: { ...this.params }, prior: this.prior };
  }
}

/** The dummy model kind. */
export const dummyModel: ModelFactory = {
  kind: KIND,
  create: (params = {}) => new DummyClassifier(params as Partial<DummyParams>),
  fromJSON(json: ModelJSON): Classifier {
    if (json.format_version > FORMAT_VERSION) {
      throw new TasselError(
        'INVALID_PARAMETER_VALUE',
        `dummy model format ${json.format_version} is newer than this Tassel (supports ${FORMAT_VERSION}.x)`,
      );
    }
    const m = new DummyClassifier(json.params as Partial<DummyParams>);
    if (typeof json.prior !== 'number' || !(json.prior >= 0 && json.prior <= 1)) {
      throw new TasselError('DATA_LOSS', 'dummy model JSON: prior must be a number in [0, 1]');
    }
    m.prior = json.prior;
    return m;
  },
};
