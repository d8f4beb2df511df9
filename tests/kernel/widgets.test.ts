/**
 * Comms and widgets through the Jupyter protocol, this test playing the front end (what JupyterLab's widget manager
 * sends): kernel comm_open for each widget model, comm_info, state changes both ways, observers, button clicks,
 * request_state, an unknown front-end target, `interact` redrawing its output, and the text fallback that headless
 * runs and nbconvert show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'path';
import { KernelClient, JupyterMessage } from '../../jupyter/client';
import { executeCell } from '../../runner/outputs';

const ROOT = path.resolve(__dirname, '../..');
const ARGV = [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'];
const LIB = JSON.stringify(path.join(ROOT, 'dist', 'lib', 'index.js'));
const WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json';

describe('comms and widgets over the Jupyter protocol', () => {
  let kc: KernelClient;
  beforeAll(async () => {
    kc = await KernelClient.start({ argv: ARGV, cwd: path.join(ROOT, 'notebooks'), startTimeoutMs: 30000 });
    await executeCell(kc, `const d2l = require(${LIB})`);
  }, 40000);
  afterAll(async () => { await kc?.shutdown().catch(() => kc.kill()); });

  /** Sends a comm message as a front end does (shell, no reply). */
  async function frontEnd(type: string, content: object): Promise<void> {
    const { frames } = kc.encode(type, content);
    await kc.sendRaw('shell', frames);
  }
  const opens = (ms: JupyterMessage[]) => ms.filter((m) => m.header.msg_type === 'comm_open');
  const value = async (expr: string) => {
    const r = await executeCell(kc, expr);
    expect(r.reply.content.status).toBe('ok');
    return (r.outputs.find((o) => o.output_type === 'execute_result') as any)?.data?.['text/plain'];
  };

  let sliderId = '';
  it('a slider opens a jupyter.widget comm per model (slider, layout, style) and shows the widget view with a text fallback', async () => {
    const r = await executeCell(kc, "const s = new d2l.IntSlider({ min: 1, max: 10, value: 3, description: 'degree' })\ns");
    expect(r.reply.content.status).toBe('ok');
    const o = opens(r.messages);
    expect(o.map((m) => m.content.data.state._model_name).sort()).toEqual(['IntSliderModel', 'LayoutModel', 'SliderStyleModel']);
    for (const m of o) {
      expect(m.content.target_name).toBe('jupyter.widget');
      expect(m.metadata.version).toBe('2.1.0'); // the message's metadata, where ipywidgets' manager reads it
    }
    const slider = o.find((m) => m.content.data.state._model_name === 'IntSliderModel')!;
    sliderId = slider.content.comm_id;
    const layout = o.find((m) => m.content.data.state._model_name === 'LayoutModel')!;
    expect(slider.content.data.state).toMatchObject({
      _model_module: '@jupyter-widgets/controls', _model_module_version: '2.0.0', _view_name: 'IntSliderView',
      value: 3, min: 1, max: 10, step: 1, description: 'degree', layout: `IPY_MODEL_${layout.content.comm_id}`,
    });
    const out = r.outputs.find((x) => x.output_type === 'execute_result') as any;
    expect(out.data[WIDGET_VIEW]).toEqual({ model_id: sliderId, version_major: 2, version_minor: 0 });
    // what nbconvert and the lessons runner show without the widget extension
    expect(out.data['text/plain']).toBe("IntSlider(value=3, min=1, max=10, step=1, description='degree')");
  });

  it('comm_info_request lists the open widget comms', async () => {
    const r = await kc.request('shell', 'comm_info_request', { target_name: 'jupyter.widget' });
    expect(r.content.status).toBe('ok');
    expect(r.content.comms[sliderId]).toEqual({ target_name: 'jupyter.widget' });
    expect(Object.keys(r.content.comms).length).toBeGreaterThanOrEqual(3);
  });

  it('a value set in the front end reaches the kernel and its observers', async () => {
    await executeCell(kc, "const seen: number[] = []\ns.observe((c) => seen.push(c.value as number), 'value')");
    await frontEnd('comm_msg', { comm_id: sliderId, data: { method: 'update', state: { value: 7 }, buffer_paths: [] } });
    expect(await value('s.value')).toBe('7');
    expect(await value('seen')).toBe('[ 7 ]');
  });

  it('a value set in the kernel is sent to the front end as an update', async () => {
    const r = await executeCell(kc, 's.value = 5');
    const upd = r.messages.find((m) => m.header.msg_type === 'comm_msg' && m.content.comm_id === sliderId)!;
    expect(upd.content.data).toEqual({ method: 'update', state: { value: 5 }, buffer_paths: [] });
  });

  it('request_state is answered with the whole state', async () => {
    const got = kc.waitForMessage((m) => m.header.msg_type === 'comm_msg' && m.content.comm_id === sliderId && m.content.data.state?.max === 10);
    await frontEnd('comm_msg', { comm_id: sliderId, data: { method: 'request_state' } });
    expect((await got).content.data.state).toMatchObject({ value: 5, min: 1, max: 10, _model_name: 'IntSliderModel' });
  });

  it('a button click from the front end runs the click handlers', async () => {
    const r = await executeCell(kc, "let clicks = 0\nconst b = new d2l.Button({ description: 'go' }).onClick(() => { clicks++ })\nb");
    const id = opens(r.messages).find((m) => m.content.data.state._model_name === 'ButtonModel')!.content.comm_id;
    await frontEnd('comm_msg', { comm_id: id, data: { method: 'custom', content: { event: 'click' } } });
    await frontEnd('comm_msg', { comm_id: id, data: { method: 'custom', content: { event: 'click' } } });
    expect(await value('clicks')).toBe('2');
  });

  it('an observer that throws is reported and the kernel carries on', async () => {
    await executeCell(kc, "s.observe(() => { throw new Error('observer broke') })");
    const reported = kc.waitForMessage((m) => m.header.msg_type === 'stream' && m.content.name === 'stderr' && /observer broke/.test(m.content.text));
    await frontEnd('comm_msg', { comm_id: sliderId, data: { method: 'update', state: { value: 9 }, buffer_paths: [] } });
    expect((await reported).content.text).toMatch(/Error in an observer of value/);
    expect(await value('s.value')).toBe('9');
    expect(await value('seen')).toBe('[ 7, 5, 9 ]'); // the observer registered earlier still ran (5: the kernel's own set)
    expect(await kc.heartbeat()).toBe(true);
  });

  it('a front-end comm_open for an unknown target is closed again', async () => {
    const closed = kc.waitForMessage((m) => m.header.msg_type === 'comm_close' && m.content.comm_id === 'fe-1');
    await frontEnd('comm_open', { comm_id: 'fe-1', target_name: 'no.such.target', data: {} });
    expect((await closed).content.comm_id).toBe('fe-1');
  });

  it('interact shows controls and the first output, and redraws the output when a control moves', async () => {
    const r = await executeCell(kc, "await d2l.interact(({ n, unit }) => `n is ${n} ${unit}`, { n: [1, 9], unit: ['cm', 'm'] })");
    expect(r.reply.content.status).toBe('ok');
    const o = opens(r.messages);
    const slider = o.find((m) => m.content.data.state._model_name === 'IntSliderModel')!;
    const output = o.find((m) => m.content.data.state._model_name === 'OutputModel')!;
    expect(slider.content.data.state).toMatchObject({ min: 1, max: 9, value: 5, description: 'n' });
    const shown = r.outputs.find((x) => x.output_type === 'display_data') as any;
    expect(shown.data[WIDGET_VIEW].model_id).toBe(o.find((m) => m.content.data.state._model_name === 'VBoxModel')!.content.comm_id);
    expect(shown.data['text/plain']).toContain("'n is 5 cm'");
    // the front end moves the slider: the kernel re-runs the function and replaces the Output widget's contents
    const redraw = kc.waitForMessage((m) => m.header.msg_type === 'comm_msg' && m.content.comm_id === output.content.comm_id);
    await frontEnd('comm_msg', { comm_id: slider.content.comm_id, data: { method: 'update', state: { value: 8 }, buffer_paths: [] } });
    const outputs = (await redraw).content.data.state.outputs;
    expect(outputs).toEqual([{ output_type: 'display_data', data: { 'text/plain': "'n is 8 cm'" }, metadata: {} }]);
  });

  it('interact shows a failing function as an error in its output, not a kernel error', async () => {
    const r = await executeCell(kc, "await d2l.interact(({ k }) => { if (k > 0) throw new RangeError('k too big') }, { k: [0, 4] })");
    expect(r.reply.content.status).toBe('ok');
    expect((r.outputs[0] as any).data['text/plain']).toContain('RangeError: k too big');
  });

  it('bad arguments are clear errors', async () => {
    const r = await executeCell(kc, 'await d2l.interact(() => 1, { x: { nope: 1 } as any })');
    const err = r.outputs.find((x) => x.output_type === 'error') as any;
    expect(`${err.ename}: ${err.evalue}`).toMatch(/interact: control x: expected \[min, max\]/);
    const r2 = await executeCell(kc, 'new d2l.IntSlider({ min: 5, max: 1 })');
    expect((r2.outputs.find((x) => x.output_type === 'error') as any).evalue).toMatch(/IntSlider: expected finite min <= max/);
  });
});
