import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { IRun, MlresService } from './api';
import { el } from './dom';
import { ResourcesForm } from './resources';
import { RunDetail } from './rundetail';
import { RunList } from './runlist';

/** How often the run list and the selected run are refreshed while the panel is visible. */
export const POLL_MS = 2500;

/** The left-sidebar panel: runs (live), the selected run's events and log, the resources form. */
export class MlresSidebar extends Widget {
  readonly list: RunList;
  readonly detail: RunDetail;
  readonly resources: ResourcesForm;
  private readonly status = el('div', { className: 'jp-mlres-status' });
  private timer = 0;
  private busy = false;

  constructor(
    private readonly service: MlresService,
    tracker: INotebookTracker | null,
    openNotebook: (path: string) => void
  ) {
    super();
    this.id = 'jupyter-mlres-sidebar';
    this.addClass('jp-mlres-sidebar');
    this.list = new RunList(run => this.select(run));
    this.detail = new RunDetail(service, openNotebook, () => void this.refresh());
    this.resources = new ResourcesForm(service, tracker);
    const runs = el('details', { className: 'jp-mlres-section', attrs: { open: '' } }, [
      el('summary', { text: 'Runs' }),
      this.status,
      this.list.node,
      this.detail.node
    ]);
    const resources = el('details', { className: 'jp-mlres-section jp-mlres-resources-section', attrs: { open: '' } }, [
      el('summary', { text: 'Resources of the active cell' }),
      this.resources.node
    ]);
    this.node.append(runs, resources);
    void this.resources.init();
  }

  async refresh(): Promise<void> {
    if (this.busy) {
      return;
    }
    this.busy = true;
    try {
      const reply = await this.service.listRuns();
      this.list.update(reply.runs, reply.backends);
      this.status.textContent = '';
      const current = this.detail.current;
      if (current) {
        const fresh = reply.runs.find(r => r.backend === current.backend && r.run_id === current.run_id);
        if (fresh) {
          this.detail.show(fresh);
        }
      }
    } catch (error) {
      this.status.textContent = `Cannot list runs: ${(error as Error).message}`;
    } finally {
      this.busy = false;
    }
  }

  private select(run: IRun): void {
    this.list.select(RunList.key(run));
    this.detail.show(run);
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.timer = window.setInterval(() => {
      if (this.isVisible) {
        void this.refresh();
      }
    }, POLL_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    this.detail.dispose();
    super.dispose();
  }
}
