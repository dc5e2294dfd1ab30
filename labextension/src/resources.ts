import { INotebookTracker } from '@jupyterlab/notebook';

import { IField, IFormSettings, IPreview, MlresError, MlresService } from './api';
import { clear, el } from './dom';

const MAGIC = '%%mlrun';

/** The active cell's source split into its `%%mlrun` line (or '') and the rest. */
function splitCell(source: string): { line: string; rest: string } {
  const cut = source.indexOf('\n');
  const first = cut < 0 ? source : source.slice(0, cut);
  if (first.trimStart().startsWith(MAGIC)) {
    return { line: first, rest: cut < 0 ? '' : source.slice(cut + 1) };
  }
  return { line: '', rest: source };
}

/**
 * A form built from the server's field list that edits the active cell's `%%mlrun` line. The
 * server parses the line, applies the form's values, validates and renders the preview; this
 * class only moves strings between the form, the server and the cell.
 */
export class ResourcesForm {
  readonly node = el('div', { className: 'jp-mlres-resources' });
  private readonly target = el('div', { className: 'jp-mlres-target' });
  private readonly form = el('form', { className: 'jp-mlres-form' });
  private readonly error = el('div', { className: 'jp-mlres-error', attrs: { role: 'alert' } });
  private readonly preview = el('pre', { className: 'jp-mlres-preview' });
  private readonly apply = el('button', { className: 'jp-mlres-button jp-mlres-apply', text: 'Apply to cell' });
  private readonly inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  private settings: IFormSettings | null = null;
  private latest: IPreview | null = null;
  private timer = 0;
  private generation = 0;

  constructor(
    private readonly service: MlresService,
    private readonly tracker: INotebookTracker | null
  ) {
    this.apply.addEventListener('click', event => {
      event.preventDefault();
      void this.applyToCell();
    });
    this.form.addEventListener('submit', event => event.preventDefault());
    this.node.append(this.target, this.form, el('div', { className: 'jp-mlres-actions' }, [this.apply]), this.error, this.preview);
    if (tracker) {
      tracker.activeCellChanged.connect(() => void this.loadFromCell());
      tracker.currentChanged.connect(() => void this.loadFromCell());
    }
  }

  async init(): Promise<void> {
    try {
      this.settings = await this.service.formSettings();
    } catch (error) {
      this.showError((error as Error).message);
      return;
    }
    this.build(this.settings.fields);
    await this.loadFromCell();
  }

  private build(fields: IField[]): void {
    clear(this.form);
    this.inputs.clear();
    for (const field of fields) {
      let input: HTMLInputElement | HTMLSelectElement;
      let extra: HTMLElement | null = null;
      if (field.kind === 'choice') {
        input = el('select', { attrs: { name: field.name } }, [
          el('option', { text: '(default)', attrs: { value: '' } }),
          ...field.choices.map(c => el('option', { text: c, attrs: { value: c } }))
        ]);
      } else {
        const attrs: { [name: string]: string } = {
          name: field.name,
          type: 'text',
          placeholder: field.placeholder,
          inputmode: field.kind === 'int' ? 'numeric' : 'text'
        };
        if (field.choices.length) {
          attrs.list = `jp-mlres-suggest-${field.name}`;
          extra = el(
            'datalist',
            { attrs: { id: attrs.list } },
            field.choices.map(c => el('option', { attrs: { value: c } }))
          );
        }
        input = el('input', { attrs });
      }
      input.addEventListener('input', () => this.schedule());
      input.addEventListener('change', () => this.schedule());
      this.inputs.set(field.name, input);
      this.form.appendChild(
        el('label', { className: 'jp-mlres-field', title: field.help }, [
          el('span', { className: 'jp-mlres-label', text: field.label }),
          input,
          extra
        ])
      );
    }
  }

  private activeCell(): { source: string; set: (s: string) => void } | null {
    const cell = this.tracker?.activeCell;
    if (!cell || cell.model.type !== 'code') {
      return null;
    }
    const shared = cell.model.sharedModel;
    return { source: shared.getSource(), set: (s: string) => shared.setSource(s) };
  }

  /** Fill the form from the active cell's `%%mlrun` line (parsed by the server). */
  async loadFromCell(): Promise<void> {
    if (!this.settings) {
      return;
    }
    const cell = this.activeCell();
    const line = cell ? splitCell(cell.source).line : '';
    this.target.textContent = !cell
      ? 'Select a code cell to size it.'
      : line
        ? `Active cell: ${line}`
        : 'Active cell has no %%mlrun line; Apply adds one.';
    for (const input of this.inputs.values()) {
      input.value = '';
    }
    await this.requestPreview(line || MAGIC, {}, true);
  }

  private values(): { [name: string]: string } {
    const values: { [name: string]: string } = {};
    for (const [name, input] of this.inputs) {
      values[name] = input.value.trim();
    }
    return values;
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      const cell = this.activeCell();
      const line = (cell && splitCell(cell.source).line) || MAGIC;
      void this.requestPreview(line, this.values(), false);
    }, 300);
  }

  private async requestPreview(line: string, values: { [name: string]: string }, fill: boolean): Promise<IPreview | null> {
    const generation = ++this.generation;
    const cell = this.activeCell();
    try {
      const result = await this.service.preview(line, values, cell ? splitCell(cell.source).rest : '');
      if (generation !== this.generation) {
        return null;
      }
      this.latest = result;
      this.showError('');
      this.preview.textContent = `${result.line}\n\n${result.yaml}`;
      if (fill) {
        for (const [name, input] of this.inputs) {
          setValue(input, result.values[name] ?? '');
        }
      }
      return result;
    } catch (error) {
      if (generation !== this.generation) {
        return null;
      }
      this.latest = null;
      const body = error instanceof MlresError ? error.body : { message: (error as Error).message };
      this.showError(body.message, body.field);
      return null;
    }
  }

  private showError(message: string, field?: string): void {
    this.error.textContent = message;
    this.error.hidden = !message;
    for (const [name, input] of this.inputs) {
      input.classList.toggle('jp-mlres-invalid', !!message && name === field);
    }
    this.apply.disabled = !!message;
  }

  /** Write the server's canonical line into the cell, replacing its `%%mlrun` line. */
  private async applyToCell(): Promise<void> {
    window.clearTimeout(this.timer);
    const cell = this.activeCell();
    if (!cell) {
      this.showError('Select a code cell first.');
      return;
    }
    const { line, rest } = splitCell(cell.source);
    const result = await this.requestPreview(line || MAGIC, this.values(), false);
    if (!result) {
      return;
    }
    cell.set(rest ? `${result.line}\n${rest}` : result.line);
    this.target.textContent = `Active cell: ${result.line}`;
  }

  get lastPreview(): IPreview | null {
    return this.latest;
  }
}

/** Set a field; a select gets an option for a value its choices lack, so nothing is lost. */
function setValue(input: HTMLInputElement | HTMLSelectElement, value: string): void {
  if (input instanceof HTMLSelectElement && value && !Array.from(input.options).some(o => o.value === value)) {
    input.appendChild(el('option', { text: value, attrs: { value } }));
  }
  input.value = value;
}
