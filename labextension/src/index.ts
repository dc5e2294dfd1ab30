import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlres:sidebar',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('jupyter-mlres sidebar', app.name);
  }
};
export default plugin;
