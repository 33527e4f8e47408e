import { useState } from 'preact/hooks';
import { isReadOnly, type KeyValue } from './api';
import { Empty, ErrorBox } from './common';
import { Markdown } from './markdown';

/** A write in flight: `busy`, the last error, and `act(fn)` which runs `fn` then `onDone`. */
export function useWrite(onDone?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const act = async (fn: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      onDone?.();
      return true;
    } catch (e) {
      setError(e as Error);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, act, readOnly: isReadOnly() };
}

/** A heading-sized name with a Rename button that turns into an input. */
export function RenameField({
  value,
  what,
  onSave,
}: {
  value: string;
  what: string;
  onSave: (name: string) => Promise<unknown>;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(value);
  const w = useWrite();
  if (!editing)
    return (
      <>
        {!w.readOnly && (
          <button type="button" class="secondary" onClick={() => (setText(value), setEditing(true))}>
            Rename
          </button>
        )}
        {w.error && <ErrorBox error={w.error} />}
      </>
    );
  return (
    <form
      class="inline-edit"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await w.act(() => onSave(text.trim()))) setEditing(false);
      }}
    >
      <label>
        New {what} name{' '}
        <input value={text} required onInput={(e) => setText(e.currentTarget.value)} />
      </label>{' '}
      <button type="submit" disabled={w.busy || !text.trim()}>
        Save name
      </button>{' '}
      <button type="button" class="secondary" onClick={() => setEditing(false)}>
        Cancel
      </button>
      {w.error && <ErrorBox error={w.error} />}
    </form>
  );
}

/** Markdown notes or a description: rendered, with an Edit button opening a textarea. */
export function NotesField({
  label,
  value,
  onSave,
}: {
  label: string;
  value: string;
  onSave: (text: string) => Promise<unknown>;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(value);
  const w = useWrite();
  const id = `notes-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="notes">
      {editing ? (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (await w.act(() => onSave(text))) setEditing(false);
          }}
        >
          <label for={id}>{label} (Markdown)</label>
          <textarea id={id} rows={6} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <div class="row">
            <button type="submit" disabled={w.busy}>
              Save {label.toLowerCase()}
            </button>
            <button type="button" class="secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          {value.trim() ? <Markdown source={value} /> : <p class="muted">No {label.toLowerCase()}.</p>}
          {!w.readOnly && (
            <button type="button" class="secondary" onClick={() => (setText(value), setEditing(true))}>
              Edit {label.toLowerCase()}
            </button>
          )}
        </>
      )}
      {w.error && <ErrorBox error={w.error} />}
    </div>
  );
}

/** Tags with set, edit and delete; keys under `locked` prefixes (system tags) are shown read-only. */
export function TagEditor({
  tags,
  onSet,
  onDelete,
  onDone,
  locked = ['mlflow.'],
  hidden = ['mlflow.note.content'],
}: {
  tags: KeyValue[];
  onSet: (key: string, value: string) => Promise<unknown>;
  onDelete: (key: string) => Promise<unknown>;
  onDone: () => void;
  locked?: string[];
  hidden?: string[];
}) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [editing, setEditing] = useState<string>();
  const [editValue, setEditValue] = useState('');
  const w = useWrite(onDone);
  const rows = tags.filter((t) => !hidden.includes(t.key)).sort((a, b) => a.key.localeCompare(b.key));
  const isLocked = (k: string) => locked.some((p) => k.startsWith(p));
  return (
    <div class="tags">
      {rows.length === 0 ? (
        <Empty>No tags.</Empty>
      ) : (
        <table class="grid kv tagtable">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Value</th>
              {!w.readOnly && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.key} data-tag={t.key}>
                <th scope="row">{t.key}</th>
                <td class="mono">
                  {editing === t.key ? (
                    <form
                      class="inline-edit"
                      onSubmit={async (e) => {
                        e.preventDefault();
                        if (await w.act(() => onSet(t.key, editValue))) setEditing(undefined);
                      }}
                    >
                      <input aria-label={`Value of ${t.key}`} value={editValue} onInput={(e) => setEditValue(e.currentTarget.value)} />{' '}
                      <button type="submit" disabled={w.busy}>
                        Save value
                      </button>{' '}
                      <button type="button" class="secondary" onClick={() => setEditing(undefined)}>
                        Cancel
                      </button>
                    </form>
                  ) : (
                    t.value
                  )}
                </td>
                {!w.readOnly && (
                  <td class="actions">
                    {!isLocked(t.key) && editing !== t.key && (
                      <>
                        <button
                          type="button"
                          class="link"
                          aria-label={`Edit tag ${t.key}`}
                          onClick={() => (setEditing(t.key), setEditValue(t.value))}
                        >
                          Edit
                        </button>{' '}
                        <button type="button" class="link danger" aria-label={`Delete tag ${t.key}`} disabled={w.busy} onClick={() => w.act(() => onDelete(t.key))}>
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!w.readOnly && (
        <form
          class="toolbar addtag"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await w.act(() => onSet(key.trim(), value))) {
              setKey('');
              setValue('');
            }
          }}
        >
          <label>
            Tag key <input value={key} required onInput={(e) => setKey(e.currentTarget.value)} />
          </label>
          <label>
            Tag value <input value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={w.busy || !key.trim()}>
            Add tag
          </button>
        </form>
      )}
      {w.error && <ErrorBox error={w.error} />}
    </div>
  );
}
