import { IRun, IBackendState } from './api';
import { clear, duration, el, phaseClass, TERMINAL } from './dom';

/** The runs, newest first: name, backend, phase (per replica when more than one), age/duration. */
export class RunList {
  readonly node = el('div', { className: 'jp-mlres-runlist' });
  private readonly items = el('ul', { className: 'jp-mlres-runs', attrs: { role: 'listbox' } });
  private readonly notice = el('div', { className: 'jp-mlres-notice' });
  private runs: IRun[] = [];
  private selected = '';

  constructor(private readonly onSelect: (run: IRun) => void) {
    this.node.append(this.notice, this.items);
  }

  static key(run: IRun): string {
    return `${run.backend}/${run.run_id}`;
  }

  select(key: string): void {
    this.selected = key;
    this.render();
  }

  update(runs: IRun[], backends: IBackendState[]): void {
    this.runs = runs;
    clear(this.notice);
    for (const b of backends.filter(b => !b.available)) {
      this.notice.appendChild(
        el('div', { className: 'jp-mlres-unavailable', text: `⚠ ${b.error || b.name + ' is unavailable'}` })
      );
    }
    this.render();
  }

  /** Re-render ages without a server call. */
  tick(): void {
    this.render();
  }

  // Rows are kept per run and updated in place, so a click is never lost to a refresh.
  private readonly rows = new Map<string, { item: HTMLLIElement; update: (run: IRun, now: number) => void }>();
  private readonly empty = el('li', {
    className: 'jp-mlres-empty',
    text: 'No runs yet. Start one with %%mlrun in a notebook cell.'
  });

  private render(): void {
    const now = Date.now();
    const seen = new Set<string>();
    let previous: Node | null = null;
    for (const run of this.runs) {
      const key = RunList.key(run);
      seen.add(key);
      let row = this.rows.get(key);
      if (!row) {
        row = this.makeRow(run);
        this.rows.set(key, row);
      }
      row.update(run, now);
      row.item.classList.toggle('jp-mlres-selected', key === this.selected);
      const want: ChildNode | null = previous ? previous.nextSibling : this.items.firstChild;
      if (want !== row.item) {
        this.items.insertBefore(row.item, want);
      }
      previous = row.item;
    }
    for (const [key, row] of this.rows) {
      if (!seen.has(key)) {
        row.item.remove();
        this.rows.delete(key);
      }
    }
    if (this.runs.length === 0) {
      this.items.appendChild(this.empty);
    } else {
      this.empty.remove();
    }
  }

  private makeRow(first: IRun): { item: HTMLLIElement; update: (run: IRun, now: number) => void } {
    let current = first;
    const name = el('div', { className: 'jp-mlres-run-name', text: first.run_id, title: first.run_id });
    const backend = el('span', { className: 'jp-mlres-backend', text: first.backend });
    const phases = el('span', { className: 'jp-mlres-phases' });
    const age = el('span', { className: 'jp-mlres-age' });
    const item = el(
      'li',
      {
        className: 'jp-mlres-run',
        attrs: { 'data-run': RunList.key(first), role: 'option' },
        onClick: () => this.onSelect(current)
      },
      [name, el('div', { className: 'jp-mlres-run-meta' }, [backend, phases, age])]
    );
    const update = (run: IRun, now: number) => {
      current = run;
      const created = Date.parse(run.created);
      const started = run.started ? Date.parse(run.started) : created;
      age.textContent =
        TERMINAL.has(run.phase) && run.finished
          ? `took ${duration(Date.parse(run.finished) - started)}`
          : `${duration(now - created)} ago`;
      const badges =
        run.replicas.length > 1
          ? run.replicas.map(r => [r.phase, `replica ${r.index}: ${r.phase} ${r.reason}`.trim()])
          : [[run.phase, run.reason || run.phase]];
      while (phases.childNodes.length > badges.length && phases.lastChild) {
        phases.removeChild(phases.lastChild);
      }
      badges.forEach(([phase, title], index) => {
        const badge = (phases.childNodes[index] as HTMLElement | undefined) ?? phases.appendChild(el('span'));
        badge.className = phaseClass(phase);
        badge.textContent = phase;
        badge.title = title;
      });
    };
    return { item, update };
  }
}
