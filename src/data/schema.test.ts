import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../errors.js';
import { courseCompletionSchema, inferColumnType, resolveSchema } from './builtin-schemas.js';
import { featureColumns, idColumns, schemaFromJSON, schemaToJSON, targetColumn } from './schema.js';

describe('course-completion schema', () => {
  test('has the 40 columns of the public dataset, ids and target as the issue says', () => {
    const names = courseCompletionSchema.columns.map((c) => c.name);
    assert.equal(names.length, 40);
    assert.equal(new Set(names).size, 40);
    assert.equal(names[0], 'Student_ID');
    assert.equal(names[39], 'Completed');
    assert.deepEqual(
      idColumns(courseCompletionSchema).map((c) => c.name),
      ['Student_ID', 'Name'],
    );
    const features = featureColumns(courseCompletionSchema).map((c) => c.name);
    assert.equal(features.length, 37);
    assert.ok(
      !features.includes('Student_ID') && !features.includes('Name') && !features.includes('Completed'),
    );
    const byName = Object.fromEntries(courseCompletionSchema.columns.map((c) => [c.name, c]));
    assert.equal(byName.Enrollment_Date?.type, 'date');
    assert.equal(byName.Enrollment_Date?.dateFormat, 'DMY');
    assert.equal(byName.Fee_Paid?.type, 'boolean');
    assert.deepEqual(byName.Discount_Used?.trueValues, ['Yes']);
    assert.equal(targetColumn(courseCompletionSchema).name, 'Completed');
    assert.equal(courseCompletionSchema.positiveLabel, 'Completed');
    assert.equal(courseCompletionSchema.negativeLabel, 'Not Completed');
  });

  test('round-trips through plain JSON', () => {
    const json = JSON.parse(JSON.stringify(schemaToJSON(courseCompletionSchema)));
    assert.deepEqual(schemaFromJSON(json), courseCompletionSchema);
    assert.deepEqual(schemaFromJSON(JSON.stringify(json)), courseCompletionSchema);
  });

  test('rejects damaged schemas with a clear InputError', () => {
    const good = schemaToJSON(courseCompletionSchema);
    assert.throws(() => schemaFromJSON('{nope'), /not valid JSON/);
    assert.throws(() => schemaFromJSON({ ...good, version: 9 }), /unsupported schema version 9/);
    assert.throws(() => schemaFromJSON({ ...good, target: 'Nope' }), /target column Nope/);
    const cols = (good.columns as object[]).map((c) => ({ ...c }));
    (cols[3] as { type: string }).type = 'float';
    assert.throws(
      () => schemaFromJSON({ ...good, columns: cols }),
      (e: unknown) => e instanceof InputError && /Age: unknown type float/.test(e.message),
    );
  });
});

describe('schema inference', () => {
  test('infers numeric, boolean, date, categorical and id columns', () => {
    assert.equal(inferColumnType('x', ['1', '2.5', '', '-3']).type, 'numeric');
    assert.equal(inferColumnType('flag', ['Yes', 'No', 'yes']).type, 'boolean');
    assert.deepEqual(inferColumnType('d', ['2024-01-31', '2023-12-01']), { type: 'date', dateFormat: 'YMD' });
    assert.deepEqual(inferColumnType('d', ['31/01/2024', '01/02/2024']), { type: 'date', dateFormat: 'DMY' });
    assert.deepEqual(inferColumnType('d', ['01/31/2024', '02/01/2024']), { type: 'date', dateFormat: 'MDY' });
    assert.equal(inferColumnType('color', ['red', 'blue', 'red']).type, 'categorical');
    assert.equal(inferColumnType('user_id', ['a1', 'b2', 'c3']).type, 'id');
    assert.equal(inferColumnType('Course_ID', ['C1', 'C2', 'C1', 'C1', 'C2', 'C1']).type, 'categorical');
    const many = Array.from({ length: 30 }, (_, i) => `token-${i}`);
    assert.equal(inferColumnType('note', many).type, 'id');
  });

  test('resolveSchema: target, positive, ignore, ids, types; negative label from a two-valued sample', () => {
    const header = ['id', 'age', 'city', 'drop_me', 'done'];
    const sample = [
      ['1', '20', 'A', 'x', 'yes'],
      ['2', '30', 'B', 'y', 'no'],
    ];
    const s = resolveSchema(
      { target: 'done', positive: 'yes', ignore: ['drop_me'], types: { city: 'categorical' } },
      header,
      sample,
    );
    const by = Object.fromEntries(s.columns.map((c) => [c.name, c]));
    assert.equal(by.id?.role, 'id');
    assert.equal(by.age?.type, 'numeric');
    assert.equal(by.drop_me?.role, 'ignore');
    assert.equal(by.done?.role, 'target');
    assert.equal(s.negativeLabel, 'no');
    assert.equal(resolveSchema('builtin:course-completion', []), courseCompletionSchema);
    assert.throws(() => resolveSchema('builtin:nope', []), /unknown schema/);
    assert.throws(
      () => resolveSchema({ target: 'missing', positive: '1' }, header, sample),
      /missing target column "missing"/,
    );
  });
});
