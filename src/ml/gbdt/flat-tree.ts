/**
 * The flat tree arrays shared by the ensemble and its walks, in a module of their own so that the walks
 * (blocked-walk.ts) need not import the ensemble that builds them.
 */

/**
 * One regression tree in flat arrays, node 0 the root. A node with feature -1 is a leaf.
 * Internal node: x = row[feature]; NaN goes to defaultLeft ? left : right, else x < threshold ? left : right.
 */
export interface FlatTree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  defaultLeft: Uint8Array;
  /** Leaf output (learning rate already applied); 0 on internal nodes. */
  value: Float64Array;
  /** Loss reduction of the split (0 on leaves), for gain importance. */
  gain: Float64Array;
  /** Hessian sum of the rows reaching the node, for cover importance. */
  cover: Float64Array;
}

/** Float32 semantics reproduce XGBoost's own arithmetic: inputs, thresholds and the running sum in float32. */
export type Precision = 'float64' | 'float32';
