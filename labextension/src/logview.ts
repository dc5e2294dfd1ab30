import { ILogLine } from './api';
import { clear, el } from './dom';

/** Lines kept in memory and in the DOM; the full log is always one download away. */
export const MAX_LINES = 2000;

/**
 * A capped log viewer: keeps the last MAX_LINES lines, filters by replica, sticks to the bottom
 * while the user has not scrolled up. Every line is a text node.
 */
export class LogView {
  readonly node = el('div', { className: 'jp-mlres-logview' });
  private readonly toolbar = el('div', { className: 'jp-mlres-log-toolbar' });
  private readonly filter = el('select', { className: 'jp-mlres-replica-filter', title: 'Show one replica' });
  private readonly status = el('span', { className: 'jp-mlres-log-status' });
  private readonly pre = el('pre', { className: 'jp-mlres-log', attrs: { tabindex: '0' } });
  private lines: ILogLine[] = [];
  private dropped = 0;
  private replicas = new Set<number>();
  private replica = 'all';

  constructor(onDownload: () => void) {
    this.filter.appendChild(el('option', { text: 'all replicas', attrs: { value: 'all' } }));
    this.filter.addEventListener('change', () => {
      this.replica = this.filter.value;
      this.rerender();
    });
    this.toolbar.append(
      this.filter,
      this.status,
      el('button', { className: 'jp-mlres-button jp-mlres-download', text: 'Download full log', onClick: onDownload })
    );
    this.node.append(this.toolbar, this.pre);
  }

  reset(): void {
    this.lines = [];
    this.dropped = 0;
    this.replicas.clear();
    this.replica = 'all';
    clear(this.filter);
    this.filter.appendChild(el('option', { text: 'all replicas', attrs: { value: 'all' } }));
    clear(this.pre);
    this.setStatus('');
  }

  setStatus(text: string): void {
    this.status.textContent = text + (this.dropped ? ` (showing the last ${MAX_LINES} lines)` : '');
  }

  append(lines: ILogLine[]): void {
    const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
    for (const line of lines) {
      if (!this.replicas.has(line.replica)) {
        this.replicas.add(line.replica);
        this.filter.appendChild(el('option', { text: `replica ${line.replica}`, attrs: { value: String(line.replica) } }));
      }
    }
    this.lines.push(...lines);
    const excess = this.lines.length - MAX_LINES;
    if (excess > 0) {
      this.lines.splice(0, excess);
      this.dropped += excess;
    }
    const shown = lines.filter(l => this.visible(l));
    for (const line of shown) {
      this.pre.appendChild(this.row(line));
    }
    while (this.pre.childNodes.length > MAX_LINES && this.pre.firstChild) {
      this.pre.removeChild(this.pre.firstChild);
    }
    if (atBottom) {
      this.pre.scrollTop = this.pre.scrollHeight;
    }
  }

  private visible(line: ILogLine): boolean {
    return this.replica === 'all' || String(line.replica) === this.replica;
  }

  private rerender(): void {
    clear(this.pre);
    for (const line of this.lines.filter(l => this.visible(l))) {
      this.pre.appendChild(this.row(line));
    }
    this.pre.scrollTop = this.pre.scrollHeight;
  }

  private row(line: ILogLine): HTMLElement {
    const tag = this.replicas.size > 1 ? `[${line.replica}] ` : '';
    return el('div', {
      className: 'jp-mlres-logline' + (line.stream === 'stderr' ? ' jp-mlres-stderr' : ''),
      text: tag + line.text,
      attrs: { 'data-offset': String(line.offset) }
    });
  }
}
