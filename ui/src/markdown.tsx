import type { ComponentChildren, VNode } from 'preact';

/**
 * A small Markdown renderer for notes and descriptions (`mlflow.note.content`): headings, paragraphs,
 * lists, block quotes, fenced code, inline code, bold, italic, links and rules. It builds Preact nodes,
 * never HTML strings, so raw HTML in a note is shown as text and nothing in it can run; links keep only
 * http(s), mailto and in-app (#) targets.
 */
export function Markdown({ source }: { source: string }) {
  return <div class="markdown">{blocks(source.replace(/\r\n?/g, '\n').slice(0, 200_000))}</div>;
}

const SAFE_HREF = /^(https?:\/\/|mailto:|#)/i;

function blocks(text: string): VNode[] {
  const lines = text.split('\n');
  const out: VNode[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trim().startsWith(fence[1]!)) body.push(lines[i++]!);
      i++;
      out.push(
        <pre key={out.length}>
          <code>{body.join('\n')}</code>
        </pre>,
      );
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const Tag = `h${Math.min(6, heading[1]!.length + 2)}` as 'h3';
      out.push(<Tag key={out.length}>{inline(heading[2]!)}</Tag>);
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      out.push(<hr key={out.length} />);
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i]!)) body.push(lines[i++]!.replace(/^\s*>\s?/, ''));
      out.push(<blockquote key={out.length}>{blocks(body.join('\n'))}</blockquote>);
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items: ComponentChildren[] = [];
      while (i < lines.length && item.test(lines[i]!)) {
        items.push(<li key={items.length}>{inline(lines[i]!.replace(item, ''))}</li>);
        i++;
      }
      out.push(ordered ? <ol key={out.length}>{items}</ol> : <ul key={out.length}>{items}</ul>);
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i]!.trim() && !/^(#{1,6}\s|\s*```|\s*~~~|\s*>)/.test(lines[i]!) && !item.test(lines[i]!))
      para.push(lines[i++]!);
    out.push(<p key={out.length}>{inline(para.join('\n'))}</p>);
  }
  return out;
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/;

function inline(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const token = m[0];
    const key = out.length;
    if (m[1]) out.push(<code key={key}>{token.slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong key={key}>{inline(token.slice(2, -2))}</strong>);
    else if (m[3]) out.push(<em key={key}>{inline(token.slice(1, -1))}</em>);
    else {
      const link = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token)!;
      const href = link[2]!;
      out.push(
        SAFE_HREF.test(href) ? (
          <a key={key} href={href} rel="noopener noreferrer" target={href.startsWith('#') ? undefined : '_blank'}>
            {link[1]}
          </a>
        ) : (
          link[1]
        ),
      );
    }
    rest = rest.slice(m.index + token.length);
  }
  return out;
}
