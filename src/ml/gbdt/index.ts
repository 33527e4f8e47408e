/** Gradient-boosted trees with XGBoost's semantics: training, flat-array prediction, JSON format, XGBoost import. */
export * from './binning.js';
export * from './ensemble.js';
export * from './gbdt-classifier.js';
export * from './importance.js';
export * from './params.js';
export { trainGbdt, type TrainResult } from './train.js';
export * from './tree-shap.js';
