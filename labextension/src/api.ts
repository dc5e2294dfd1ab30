/**
 * The REST API of the jupyter_mlres server extension (`<base_url>/mlres/`).
 *
 * The `I*` interfaces mirror `jupyter_mlres/server/schemas.py` and `form.py`; change both together.
 * The front end computes nothing itself: parsing, validation and preview are server calls.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IReplica {
  index: number;
  phase: string;
  reason: string;
  message: string;
  exit_code: number | null;
}

export interface IRun {
  run_id: string;
  backend: string;
  function: string;
  phase: string;
  created: string;
  started: string | null;
  finished: string | null;
  reason: string;
  message: string;
  replicas: IReplica[];
  notebook: string;
  log_location: string;
}

export interface IBackendState {
  name: string;
  available: boolean;
  error: string;
}

export interface IRunList {
  runs: IRun[];
  backends: IBackendState[];
}

export interface IEvent {
  time: string;
  reason: string;
  message: string;
  replica: number | null;
  phase: string | null;
  warning: boolean;
}

export interface IRunDetail {
  run: IRun;
  events: IEvent[];
}

export interface ILogLine {
  offset: number;
  replica: number;
  stream: string;
  text: string;
  time: string;
}

export interface ILogPage {
  lines: ILogLine[];
  next_offset: number;
}

export interface IField {
  name: string;
  label: string;
  kind: 'quantity' | 'int' | 'choice' | 'text';
  choices: string[];
  placeholder: string;
  help: string;
}

export interface IFormSettings {
  fields: IField[];
  backends: string[];
  default_backend: string;
  defaults: { [key: string]: unknown };
  spot_nodes_configured: boolean;
}

export interface IPreview {
  line: string;
  values: { [name: string]: string };
  yaml: string;
  notes: string[];
}

/** The JSON body of an error reply; `path`/`value`/`allowed` come with 400s for bad specs. */
export interface IErrorBody {
  message: string;
  path?: string;
  value?: unknown;
  allowed?: string;
  field?: string;
}

export class MlresError extends Error {
  constructor(
    readonly status: number,
    readonly body: IErrorBody
  ) {
    super(body.message || `HTTP ${status}`);
  }
}

/** How a log follow stream ended: the run finished, or the server asks to reconnect. */
export interface IFollowEnd {
  reason: 'finished' | 'limit' | 'error' | 'aborted';
  next_offset: number;
  message?: string;
}

export class MlresService {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  listRuns(): Promise<IRunList> {
    return this.json<IRunList>('runs');
  }

  getRun(backend: string, runId: string): Promise<IRunDetail> {
    return this.json<IRunDetail>(this.runPath(backend, runId));
  }

  getLog(backend: string, runId: string, query: { tail?: number; offset?: number }): Promise<ILogPage> {
    const params = new URLSearchParams();
    if (query.tail !== undefined) {
      params.set('tail', String(query.tail));
    }
    if (query.offset !== undefined) {
      params.set('offset', String(query.offset));
    }
    return this.json<ILogPage>(`${this.runPath(backend, runId)}/log?${params}`);
  }

  cancel(backend: string, runId: string): Promise<{ run: IRun }> {
    return this.json<{ run: IRun }>(`${this.runPath(backend, runId)}/cancel`, { method: 'POST' });
  }

  formSettings(): Promise<IFormSettings> {
    return this.json<IFormSettings>('settings');
  }

  preview(line: string, values: { [name: string]: string } = {}, code = ''): Promise<IPreview> {
    return this.json<IPreview>('preview', {
      method: 'POST',
      body: JSON.stringify({ line, values, code })
    });
  }

  /** The full log as a Blob (fetched with the page's credentials). */
  async downloadLog(backend: string, runId: string): Promise<Blob> {
    const response = await this.fetch(`${this.runPath(backend, runId)}/log?download=1`, {});
    return response.blob();
  }

  /**
   * Follow a run's log: `onLines` gets batches from `offset` (or the last `tail` lines) as they
   * are written. Resolves when the stream ends; reconnects by itself when the server asks to.
   */
  async followLog(
    backend: string,
    runId: string,
    start: { offset?: number; tail?: number },
    onLines: (lines: ILogLine[]) => void,
    signal: AbortSignal
  ): Promise<IFollowEnd> {
    let query: { offset?: number; tail?: number } = start;
    for (;;) {
      const end = await this.followOnce(backend, runId, query, onLines, signal);
      if (end.reason !== 'limit' || signal.aborted) {
        return end;
      }
      query = { offset: end.next_offset };
    }
  }

  private async followOnce(
    backend: string,
    runId: string,
    query: { offset?: number; tail?: number },
    onLines: (lines: ILogLine[]) => void,
    signal: AbortSignal
  ): Promise<IFollowEnd> {
    const params = new URLSearchParams();
    if (query.tail !== undefined) {
      params.set('tail', String(query.tail));
    } else {
      params.set('offset', String(query.offset ?? 0));
    }
    let nextOffset = query.offset ?? 0;
    let response: Response;
    try {
      response = await this.fetch(`${this.runPath(backend, runId)}/log/follow?${params}`, { signal });
    } catch (error) {
      if (signal.aborted) {
        return { reason: 'aborted', next_offset: nextOffset };
      }
      throw error;
    }
    if (!response.body) {
      return { reason: 'error', next_offset: nextOffset, message: 'no response body' };
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          return { reason: 'limit', next_offset: nextOffset };
        }
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parseEvent(block);
          if (!event) {
            continue;
          }
          const data = event.data as { lines?: ILogLine[]; next_offset?: number; reason?: string; message?: string };
          if (typeof data.next_offset === 'number') {
            nextOffset = data.next_offset;
          }
          if (event.name === 'lines' && data.lines) {
            onLines(data.lines);
          } else if (event.name === 'end') {
            return { reason: data.reason === 'finished' ? 'finished' : 'limit', next_offset: nextOffset };
          } else if (event.name === 'error') {
            return { reason: 'error', next_offset: nextOffset, message: data.message };
          }
        }
      }
    } catch (error) {
      if (signal.aborted) {
        return { reason: 'aborted', next_offset: nextOffset };
      }
      throw error;
    } finally {
      reader.releaseLock();
    }
  }

  private runPath(backend: string, runId: string): string {
    return `runs/${encodeURIComponent(backend)}/${encodeURIComponent(runId)}`;
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    const url = URLExt.join(this.settings.baseUrl, 'mlres', path);
    const response = await ServerConnection.makeRequest(url, init, this.settings);
    if (!response.ok) {
      let body: IErrorBody;
      try {
        body = (await response.json()) as IErrorBody;
      } catch {
        body = { message: `HTTP ${response.status} ${response.statusText}` };
      }
      throw new MlresError(response.status, body);
    }
    return response;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(path, init);
    return (await response.json()) as T;
  }
}

function parseEvent(block: string): { name: string; data: unknown } | null {
  let name = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) {
      name = line.slice(7);
    } else if (line.startsWith('data: ')) {
      data += line.slice(6);
    }
  }
  if (!data) {
    return null;
  }
  return { name, data: JSON.parse(data) };
}
