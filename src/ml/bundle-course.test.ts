import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readCsvTable } from '../data/read-csv.js';
import { generateCourseCompletion } from '../data/synthetic.js';
import type { RawRecord } from '../data/table.js';
import { defaultFeatureSpec, fitTransform, transformTable } from '../features/index.js';
import { loadBundle, saveBundle } from './bundle.js';
import { LogisticRegression } from './logistic.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-bundle-course-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('course-completion schema: the hot record path scores exactly as validated records and the CSV table', async () => {
  const csv = generateCourseCompletion({ rows: 800, seed: 11, missingRate: 0.1 });
  writeFileSync(join(dir, 'd.csv'), csv);
  const read = await readCsvTable(join(dir, 'd.csv'), { schema: 'builtin:course-completion' });
  const ft = fitTransform(defaultFeatureSpec(read.schema), read.table, read.schema);
  const X = transformTable(ft, read.table);
  const model = new LogisticRegression();
  model.fit(X, read.y!);
  await saveBundle(join(dir, 'b'), { model, transform: ft, schema: read.schema, prior: 0.44 });
  const b = await loadBundle(join(dir, 'b'));

  // records exactly as a client would send the CSV's cells: strings, '' for missing, DMY dates, Yes/No
  const lines = csv.trim().split('\n');
  const header = lines[0]!.split(',');
  const records: RawRecord[] = lines
    .slice(1)
    .map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
  assert.ok(
    records.every((r) => Object.keys(r).length === header.length),
    'no quoted commas in generated rows',
  );
  assert.ok(
    records.some((r) => r.Quiz_Score_Avg === ''),
    'some missing values',
  );
  const validated = b.predictRecords(records);
  const table = b.predictTable(read.table);
  records.forEach((r, i) => {
    assert.equal(b.scoreRecord(r), validated[i]!.probability, `record ${i}`);
    assert.equal(table[i], validated[i]!.probability, `table row ${i}`);
  });
});
