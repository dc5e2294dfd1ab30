import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';

import { IEvent, IRun, MlresService } from './api';
import { clear, duration, el, phaseClass, TERMINAL } from './dom';
import { LogView } from './logview';

/** One run: header with actions, per-replica phases, events, and a following log. */
export class RunDetail {
  readonly node = el('div', { className: 'jp-mlres-detail' });
  private readonly header = el('div', { className: 'jp-mlres-detail-header' });
  private readonly events = el('ul', { className: 'jp-mlres-events' });
  private readonly log: LogView;
  private run: IRun | null = null;
  private follow: AbortController | null = null;

  constructor(
    private readonly service: MlresService,
    private readonly openNotebook: (path: string) => void,
    private readonly onChanged: () => void
  ) {
    this.log = new LogView(() => void this.download());
    this.node.append(
      this.header,
      el('div', { className: 'jp-mlres-subtitle', text: 'Events' }),
      this.events,
      el('div', { className: 'jp-mlres-subtitle', text: 'Log' }),
      this.log.node
    );
    this.node.hidden = true;
  }

  get current(): IRun | null {
    return this.run;
  }

  show(run: IRun): void {
    const same = this.run && this.run.backend === run.backend && this.run.run_id === run.run_id;
    this.run = run;
    this.node.hidden = false;
    this.renderHeader();
    if (!same) {
      this.startFollow(run);
    }
    void this.refresh();
  }

  hide(): void {
    this.follow?.abort();
    this.follow = null;
    this.run = null;
    this.node.hidden = true;
  }

  async refresh(): Promise<void> {
    const run = this.run;
    if (!run) {
      return;
    }
    try {
      const detail = await this.service.getRun(run.backend, run.run_id);
      if (this.run?.run_id !== run.run_id) {
        return;
      }
      this.run = detail.run;
      this.renderHeader();
      this.renderEvents(detail.events);
    } catch (error) {
      this.log.setStatus(`could not refresh: ${(error as Error).message}`);
    }
  }

  dispose(): void {
    this.follow?.abort();
  }

  private startFollow(run: IRun): void {
    this.follow?.abort();
    const controller = new AbortController();
    this.follow = controller;
    this.log.reset();
    this.log.setStatus('following…');
    this.service
      .followLog(run.backend, run.run_id, { tail: 500 }, lines => this.log.append(lines), controller.signal)
      .then(end => {
        if (controller.signal.aborted) {
          return;
        }
        this.log.setStatus(end.reason === 'finished' ? 'log complete' : `log stream stopped: ${end.message ?? end.reason}`);
        void this.refresh();
        this.onChanged();
      })
      .catch(error => {
        if (!controller.signal.aborted) {
          this.log.setStatus(`log unavailable: ${(error as Error).message}`);
        }
      });
  }

  private renderHeader(): void {
    const run = this.run;
    clear(this.header);
    if (!run) {
      return;
    }
    const terminal = TERMINAL.has(run.phase);
    const created = Date.parse(run.created);
    const end = run.finished ? Date.parse(run.finished) : Date.now();
    const actions = el('div', { className: 'jp-mlres-actions' }, [
      el('button', {
        className: 'jp-mlres-button jp-mlres-cancel',
        text: 'Cancel',
        attrs: terminal ? { disabled: 'true' } : {},
        onClick: () => void this.cancel()
      }),
      run.notebook
        ? el('button', {
            className: 'jp-mlres-button jp-mlres-open-notebook',
            text: 'Open notebook',
            title: run.notebook,
            onClick: () => this.openNotebook(run.notebook)
          })
        : null
    ]);
    const replicas =
      run.replicas.length > 1
        ? el(
            'div',
            { className: 'jp-mlres-replicas' },
            run.replicas.map(r =>
              el('span', { className: phaseClass(r.phase), text: `${r.index}: ${r.phase}${r.reason ? ` (${r.reason})` : ''}` })
            )
          )
        : null;
    const parts: (HTMLElement | null)[] = [
      el('div', { className: 'jp-mlres-detail-title', text: run.run_id }),
      el('div', { className: 'jp-mlres-run-meta' }, [
        el('span', { className: 'jp-mlres-backend', text: run.backend }),
        el('span', { className: phaseClass(run.phase), text: run.phase }),
        el('span', { className: 'jp-mlres-age', text: duration(end - created) })
      ]),
      run.reason || run.message ? el('div', { className: 'jp-mlres-reason', text: [run.reason, run.message].filter(Boolean).join(': ') }) : null,
      replicas,
      actions
    ];
    for (const part of parts) {
      if (part) {
        this.header.appendChild(part);
      }
    }
  }

  private renderEvents(events: IEvent[]): void {
    clear(this.events);
    for (const event of events.slice(-50)) {
      const time = new Date(event.time).toLocaleTimeString();
      const who = event.replica === null ? '' : ` [${event.replica}]`;
      this.events.appendChild(
        el('li', {
          className: 'jp-mlres-event' + (event.warning ? ' jp-mlres-warning' : ''),
          text: `${time}${who} ${event.reason}${event.message ? ': ' + event.message : ''}`
        })
      );
    }
  }

  private async cancel(): Promise<void> {
    const run = this.run;
    if (!run) {
      return;
    }
    const answer = await showDialog({
      title: 'Cancel run?',
      body: `Stop ${run.run_id} on ${run.backend}? Its processes/pods are stopped; the log is kept.`,
      buttons: [Dialog.cancelButton({ label: 'Keep running' }), Dialog.warnButton({ label: 'Cancel run' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      const reply = await this.service.cancel(run.backend, run.run_id);
      this.run = reply.run;
      this.renderHeader();
      this.onChanged();
    } catch (error) {
      await showErrorMessage('Cancel failed', (error as Error).message);
    }
  }

  private async download(): Promise<void> {
    const run = this.run;
    if (!run) {
      return;
    }
    try {
      const blob = await this.service.downloadLog(run.backend, run.run_id);
      const url = URL.createObjectURL(blob);
      const anchor = el('a', { attrs: { href: url, download: `${run.run_id}.log` } });
      document.body.appendChild(anchor);
      anchor.click();
      anchor.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      await showErrorMessage('Download failed', (error as Error).message);
    }
  }
}
