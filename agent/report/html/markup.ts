// Markup that escapes by default, for the report page. Every string of the model (booth ids,
// regions, the cluster's address) comes from the world, so every interpolation is escaped unless it
// is markup built with the `html` tag, rather than trusting each call site to remember. This tag
// (and escapeHtml, for the document's <title> outside it) is the one way a string enters the page.

/**
 * Markup built with `html`: interpolated as is. Anything else interpolated is escaped text. Only the
 * type leaves this file, so no other file can wrap a raw string as markup.
 */
class Html {
  readonly markup: string;
  constructor(markup: string) {
    this.markup = markup;
  }
}

export type { Html };

export type Part = Html | string | number | null | undefined | false | readonly Part[];

export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0]!;
  parts.forEach((p, i) => (out += part(p) + strings[i + 1]!));
  return new Html(out);
}

function part(p: Part): string {
  if (p instanceof Html) return p.markup;
  if (Array.isArray(p)) return p.map(part).join('');
  if (p === null || p === undefined || p === false) return '';
  return escapeHtml(String(p));
}

/** Text for an element's content or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** What a section or a chart says in place of what it has nothing to show: the same look everywhere. */
export function nothing(sentence: string): Html {
  return html`<p class="muted nothing">${sentence}</p>`;
}
