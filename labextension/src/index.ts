import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { MlresService } from './api';
import { MlresSidebar } from './sidebar';

export * from './api';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161">
<rect x="3" y="4" width="18" height="4" rx="1"/><rect x="3" y="10" width="12" height="4" rx="1"/>
<rect x="3" y="16" width="7" height="4" rx="1"/><circle cx="19" cy="17" r="3"/></g></svg>`;

export const mlresIcon = new LabIcon({ name: 'jupyter-mlres:jobs', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlres:sidebar',
  description: 'Every jupyter_mlres job, live: runs, logs, cancel, and a resources form for %%mlrun cells.',
  autoStart: true,
  optional: [INotebookTracker, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker | null, restorer: ILayoutRestorer | null) => {
    const service = new MlresService();
    const openNotebook = (path: string) => void app.commands.execute('docmanager:open', { path });
    const sidebar = new MlresSidebar(service, tracker, openNotebook);
    sidebar.title.icon = mlresIcon;
    sidebar.title.caption = 'Jobs (jupyter_mlres)';
    app.shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, 'jupyter-mlres-sidebar');
    }
  }
};

export default plugin;
