/** Result tables: one shape for eval.json, the HTML report and the markdown a paper can take. */

export interface EvalTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

const cell = (v: string | number) => String(v).replace(/\|/g, '\\|');

/** GitHub-flavoured markdown, numbers right-aligned. */
export function tableToMarkdown(t: EvalTable): string {
  const numeric = t.columns.map((_, j) => t.rows.length > 0 && t.rows.every((r) => typeof r[j] === 'number'));
  const head = `| ${t.columns.map(cell).join(' | ')} |`;
  const rule = `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`;
  const body = t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`);
  return [`**${t.title}**`, '', head, rule, ...body, ''].join('\n');
}

export function tablesToMarkdown(tables: readonly EvalTable[]): string {
  return tables.map(tableToMarkdown).join('\n');
}
