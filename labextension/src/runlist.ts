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

  private render(): void {
    clear(this.items);
    if (this.runs.length === 0) {
      this.items.appendChild(el('li', { className: 'jp-mlres-empty', text: 'No runs yet. Start one with %%mlrun in a notebook cell.' }));
      return;
    }
    const now = Date.now();
    for (const run of this.runs) {
      const key = RunList.key(run);
      const created = Date.parse(run.created);
      const started = run.started ? Date.parse(run.started) : created;
      const time = TERMINAL.has(run.phase) && run.finished
        ? `took ${duration(Date.parse(run.finished) - started)}`
        : `${duration(now - created)} ago`;
      const phases =
        run.replicas.length > 1
          ? run.replicas.map(r => el('span', { className: phaseClass(r.phase), text: r.phase, title: `replica ${r.index}: ${r.phase} ${r.reason}` }))
          : [el('span', { className: phaseClass(run.phase), text: run.phase, title: run.reason || run.phase })];
      const item = el(
        'li',
        {
          className: 'jp-mlres-run' + (key === this.selected ? ' jp-mlres-selected' : ''),
          attrs: { 'data-run': key, role: 'option' },
          onClick: () => this.onSelect(run)
        },
        [
          el('div', { className: 'jp-mlres-run-name', text: run.run_id, title: run.run_id }),
          el('div', { className: 'jp-mlres-run-meta' }, [
            el('span', { className: 'jp-mlres-backend', text: run.backend }),
            el('span', { className: 'jp-mlres-phases' }, phases),
            el('span', { className: 'jp-mlres-age', text: time })
          ])
        ]
      );
      this.items.appendChild(item);
    }
  }
}
