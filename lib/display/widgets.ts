/**
 * Interactive controls (Jupyter widgets) for the lectures: sliders, a dropdown, a checkbox, a button, a text box,
 * an output area, and boxes to lay them out, plus {@link interact}, which re-runs a function and redraws its output
 * as the controls move (lecture 11: polynomial degree and training-set size; lecture 20: padding and stride).
 *
 * They speak ipywidgets 8's protocol (widget protocol 2.1: the `jupyter.widget` comm target, `@jupyter-widgets/
 * controls` 2.0 models, state synced both ways), so JupyterLab 4 and Notebook 7 draw them with the
 * `jupyterlab_widgets` extension that `pip install ipywidgets` brings, and VS Code with its built-in widget support.
 * The kernel's comms are reached through the hook in common/comm.ts (never an import of the kernel). Outside a
 * kernel, and in front ends without the widget extension (nbconvert, the lessons runner), a widget is its text
 * form: `IntSlider(value=3, min=1, max=10, description='degree')`; `interact` then runs the function once with the
 * controls' starting values and shows that result.
 * @module
 */
import { commHook, type CommData, type CommHandle, type WireContent } from '../../common/comm';
import { MIMEBUNDLE, type MimeBundle } from '../../common/mime';
import { ArgumentError } from '../args';
import { show } from './output';

const CONTROLS = { module: '@jupyter-widgets/controls', version: '2.0.0' };
const BASE = { module: '@jupyter-widgets/base', version: '2.0.0' };
const OUTPUT = { module: '@jupyter-widgets/output', version: '1.0.0' };
/** The mime type a front end with the widget extension renders as a live widget. */
export const WIDGET_VIEW_MIME = 'application/vnd.jupyter.widget-view+json';

type State = Record<string, unknown>;
type Listener = (change: { name: string; old: unknown; value: unknown }) => void;

/**
 * A widget model: its state, kept in sync with the front end's copy over one comm. Setting a synced property
 * sends it; a change made in the front end (a slider dragged) updates it here and calls the observers.
 */
export class Widget {
  /** The comm id, which is also the model id front ends know the widget by. Local widgets get a local id. */
  readonly modelId: string;
  protected readonly state: State;
  private readonly comm?: CommHandle;
  private readonly listeners: { names: string[] | undefined; cb: Listener }[] = [];

  constructor(model: { name: string; module?: string; version?: string }, view: { name: string | null; module?: string; version?: string },
    state: State) {
    const m = { module: model.module ?? CONTROLS.module, version: model.version ?? CONTROLS.version };
    const v = { module: view.module ?? m.module, version: view.version ?? m.version };
    this.state = {
      _model_name: model.name, _model_module: m.module, _model_module_version: m.version,
      _view_name: view.name, _view_module: v.module, _view_module_version: v.version,
      _view_count: null,
      ...state,
    };
    const hook = commHook();
    if (hook) {
      // the wire form: child widgets are referenced as 'IPY_MODEL_<id>'
      this.comm = hook.open('jupyter.widget', { state: toWire(this.state), buffer_paths: [] }, { version: '2.1.0' });
      this.modelId = this.comm.commId;
      this.comm.onMsg((d) => this.receive(d));
    } else {
      this.modelId = `local-${++localIds}`;
    }
  }

  /** Calls `cb` after each change of the named properties (all when `names` is omitted), local or from the front end. */
  observe(cb: Listener, names?: string | string[]): this {
    this.listeners.push({ names: names === undefined ? undefined : Array.isArray(names) ? names : [names], cb });
    return this;
  }

  /** A property's current value. */
  get(name: string): unknown {
    return this.state[name];
  }

  /** Sets properties here and in the front end. */
  set(changes: State): void {
    const old = Object.fromEntries(Object.keys(changes).map((k) => [k, this.state[k]]));
    Object.assign(this.state, changes);
    this.comm?.send({ method: 'update', state: toWire(changes), buffer_paths: [] });
    for (const k of Object.keys(changes)) this.notify(k, old[k], this.state[k]);
  }

  /** Closes the widget: the front end removes its views. */
  close(): void {
    this.comm?.close();
  }

  /** `IntSlider(value=3, min=1, max=10)`: what headless runs and nbconvert show. */
  toString(): string {
    const shown = this.describe().filter(([, v]) => v !== undefined && v !== '' && v !== null)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v.length} items]` : String(v)}`);
    return `${String(this.state._model_name).replace(/Model$/, '')}(${shown.join(', ')})`;
  }

  /** The properties {@link toString} lists. */
  protected describe(): [string, unknown][] {
    return [['description', this.state.description]];
  }

  [MIMEBUNDLE](): MimeBundle {
    return {
      [WIDGET_VIEW_MIME]: { model_id: this.modelId, version_major: 2, version_minor: 0 },
      'text/plain': this.toString(),
    };
  }

  /** A custom message from the front end (a button click). */
  protected custom(_content: CommData): void {}

  private receive(d: CommData): void {
    if (d.method === 'update' && d.state && typeof d.state === 'object') {
      const incoming = d.state as State;
      const old = Object.fromEntries(Object.keys(incoming).map((k) => [k, this.state[k]]));
      Object.assign(this.state, incoming); // the front end already shows it: no echo needed
      for (const k of Object.keys(incoming)) this.notify(k, old[k], incoming[k]);
    } else if (d.method === 'request_state') {
      this.comm?.send({ method: 'update', state: toWire(this.state), buffer_paths: [] });
    } else if (d.method === 'custom') {
      this.custom((d.content ?? {}) as CommData);
    }
  }

  private notify(name: string, old: unknown, value: unknown): void {
    if (old === value) return;
    for (const l of this.listeners) {
      if (l.names && !l.names.includes(name)) continue;
      try {
        l.cb({ name, old, value });
      } catch (e) {
        // one broken observer must not stop the others (or the widget's own bookkeeping): report it and go on
        console.error(`Error in an observer of ${name}:`, e);
      }
    }
  }
}
let localIds = 0;

/** Child widgets become 'IPY_MODEL_<id>' references, as ipywidgets serialises them. */
function toWire(state: State): State {
  const ref = (v: unknown): unknown => (v instanceof Widget ? `IPY_MODEL_${v.modelId}` : Array.isArray(v) ? v.map(ref) : v);
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, ref(v)]));
}

/** ipywidgets' Layout: CSS-like properties of a widget's box (width, height, margin, ...). */
export class Layout extends Widget {
  constructor(props: State = {}) {
    super({ name: 'LayoutModel', ...BASE }, { name: 'LayoutView', ...BASE }, props);
  }
}

/** Style models (`description_width`, colours): one per control, like ipywidgets. */
function style(name: string): Widget {
  return new Widget({ name }, { name: 'StyleView', ...BASE }, { description_width: '' });
}

/** Base of the controls: a description label, a layout and a style. */
abstract class Control extends Widget {
  constructor(model: string, view: string, styleModel: string | null, state: State) {
    super({ name: model }, { name: view }, {
      _dom_classes: [], layout: new Layout(), tabbable: null, tooltip: null, description: '', description_allow_html: false,
      ...(styleModel ? { style: style(styleModel) } : {}),
      ...state,
    });
  }
}

/** Options shared by the sliders. */
export interface SliderOptions {
  value?: number;
  min?: number;
  max?: number;
  step?: number;
  description?: string;
  /** Send changes while dragging (default true); false: only on release. */
  continuousUpdate?: boolean;
}

abstract class Slider extends Control {
  constructor(model: string, view: string, o: SliderOptions, defaults: { min: number; max: number; step: number; format: string }) {
    const min = o.min ?? defaults.min;
    const max = o.max ?? defaults.max;
    const step = o.step ?? defaults.step;
    checkRange(model.replace(/Model$/, ''), min, max, step);
    const value = Math.min(max, Math.max(min, o.value ?? min));
    super(model, view, 'SliderStyleModel', {
      value, min, max, step, description: o.description ?? '', orientation: 'horizontal', readout: true,
      readout_format: defaults.format, continuous_update: o.continuousUpdate ?? true, disabled: false, behavior: 'drag-tap',
    });
  }
  get value(): number { return this.state.value as number; }
  set value(v: number) { this.set({ value: v }); }
  protected override describe(): [string, unknown][] {
    return [['value', this.state.value], ['min', this.state.min], ['max', this.state.max], ['step', this.state.step], ...super.describe()];
  }
}

function checkRange(fn: string, min: number, max: number, step: number): void {
  if (![min, max, step].every(Number.isFinite) || min > max || step <= 0) {
    throw new ArgumentError(`${fn}: expected finite min <= max and step > 0, got min ${min}, max ${max}, step ${step}`);
  }
}

/** An integer slider (ipywidgets' IntSlider). */
export class IntSlider extends Slider {
  constructor(o: SliderOptions = {}) {
    for (const k of ['value', 'min', 'max', 'step'] as const) {
      if (o[k] !== undefined && !Number.isInteger(o[k])) throw new ArgumentError(`IntSlider: expected an integer ${k}, got ${o[k]}`);
    }
    super('IntSliderModel', 'IntSliderView', o, { min: 0, max: 100, step: 1, format: 'd' });
  }
}

/** A float slider (ipywidgets' FloatSlider). */
export class FloatSlider extends Slider {
  constructor(o: SliderOptions = {}) {
    super('FloatSliderModel', 'FloatSliderView', o, { min: 0, max: 10, step: 0.1, format: '.2f' });
  }
}

/** A dropdown of options (ipywidgets' Dropdown); `value` is the chosen option. */
export class Dropdown<T extends string | number = string> extends Control {
  readonly options: readonly T[];
  constructor(o: { options: readonly T[]; value?: T; description?: string }) {
    if (!Array.isArray(o?.options) || o.options.length === 0) throw new ArgumentError('Dropdown: expected a non-empty options array');
    const index = o.value === undefined ? 0 : o.options.indexOf(o.value);
    if (index < 0) throw new ArgumentError(`Dropdown: value ${String(o.value)} is not one of the options`);
    super('DropdownModel', 'DropdownView', 'DescriptionStyleModel', {
      _options_labels: o.options.map(String), index, description: o.description ?? '', disabled: false,
    });
    this.options = [...o.options];
  }
  get value(): T { return this.options[this.state.index as number]; }
  set value(v: T) {
    const i = this.options.indexOf(v);
    if (i < 0) throw new ArgumentError(`Dropdown: value ${String(v)} is not one of the options`);
    this.set({ index: i });
  }
  protected override describe(): [string, unknown][] {
    return [['value', this.value], ['options', this.options], ...super.describe()];
  }
}

/** A checkbox (ipywidgets' Checkbox). */
export class Checkbox extends Control {
  constructor(o: { value?: boolean; description?: string } = {}) {
    super('CheckboxModel', 'CheckboxView', 'CheckboxStyleModel', { value: !!o.value, description: o.description ?? '', disabled: false, indent: true });
  }
  get value(): boolean { return this.state.value as boolean; }
  set value(v: boolean) { this.set({ value: v }); }
  protected override describe(): [string, unknown][] {
    return [['value', this.state.value], ...super.describe()];
  }
}

/** A one-line text box (ipywidgets' Text). */
export class Text extends Control {
  constructor(o: { value?: string; placeholder?: string; description?: string } = {}) {
    super('TextModel', 'TextView', 'TextStyleModel', {
      value: o.value ?? '', placeholder: o.placeholder ?? '', description: o.description ?? '', disabled: false, continuous_update: true,
    });
  }
  get value(): string { return this.state.value as string; }
  set value(v: string) { this.set({ value: v }); }
  protected override describe(): [string, unknown][] {
    return [['value', this.state.value], ...super.describe()];
  }
}

/** A button (ipywidgets' Button); `onClick(cb)` runs cb for each click in the front end. */
export class Button extends Control {
  private readonly clicks: (() => unknown)[] = [];
  constructor(o: { description?: string; tooltip?: string } = {}) {
    super('ButtonModel', 'ButtonView', 'ButtonStyleModel', { description: o.description ?? '', tooltip: o.tooltip ?? null, button_style: '', icon: '', disabled: false });
  }
  onClick(cb: () => unknown): this {
    this.clicks.push(cb);
    return this;
  }
  /** What a click in the front end does (also for code and tests). */
  click(): void {
    for (const cb of this.clicks) cb();
  }
  protected override custom(content: CommData): void {
    if (content.event === 'click') this.click();
  }
}

/** An output area whose contents the kernel sets (ipywidgets' Output): `show(value)` replaces them. */
export class Output extends Widget {
  private shown = 'Output()';
  constructor() {
    super({ name: 'OutputModel', ...OUTPUT }, { name: 'OutputView', ...OUTPUT }, { _dom_classes: [], layout: new Layout(), msg_id: '', outputs: [] });
  }
  /** Replaces the area's contents with `value` as the kernel would show it (a plot, a tensor, text). */
  show(value: unknown): void {
    const c = commHook()?.displayContent(value);
    this.shown = c ? String(c.data['text/plain'] ?? '') : String(value);
    this.set({ outputs: c ? [{ output_type: 'display_data', ...c }] : [] });
  }
  /** Replaces the contents with an error (what a failing interact function shows). */
  showError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.shown = `${err.name}: ${err.message}`;
    this.set({ outputs: [{ output_type: 'error', ename: err.name, evalue: err.message, traceback: [`${err.name}: ${err.message}`] }] });
  }
  /** The contents as display_data items (for tests and headless checks). */
  get outputs(): (WireContent & { output_type: string })[] {
    return this.state.outputs as (WireContent & { output_type: string })[];
  }
  override toString(): string {
    return this.shown;
  }
}

/** A row (HBox) or column (VBox) of widgets. */
export class Box extends Widget {
  constructor(readonly children: readonly Widget[], direction: 'row' | 'column' = 'column') {
    if (!Array.isArray(children) || children.some((c) => !(c instanceof Widget))) {
      throw new ArgumentError('Box: expected an array of widgets');
    }
    const name = direction === 'row' ? 'HBox' : 'VBox';
    super({ name: `${name}Model` }, { name: `${name}View` }, { _dom_classes: [], layout: new Layout(), box_style: '', children: [...children], tabbable: null, tooltip: null });
  }
  override toString(): string {
    return this.children.map(String).join('\n');
  }
  /**
   * Besides the live view, the richest form of any Output inside (a plot's HTML, an image): front ends without the
   * widget extension (nbconvert's HTML, the lessons report) then show the controls' text and that output statically.
   */
  override [MIMEBUNDLE](): MimeBundle {
    const own = super[MIMEBUNDLE]();
    const inner = this.children.filter((c): c is Output => c instanceof Output).flatMap((o) => o.outputs)
      .filter((o) => o.output_type === 'display_data').map((o) => o.data);
    const rich = Object.assign({}, ...inner) as MimeBundle;
    delete rich['text/plain'];
    return { ...rich, ...own };
  }
}
export const HBox = (children: readonly Widget[]): Box => new Box(children, 'row');
export const VBox = (children: readonly Widget[]): Box => new Box(children, 'column');

/**
 * One control of {@link interact}: `[min, max]` / `[min, max, step]` (a slider: integer when all three are integers —
 * JavaScript has no `1.0`, so give a fractional step for a float slider, `[0, 1, 0.05]`), an array of options (a
 * dropdown), a boolean (a checkbox), a string (a text box), or a widget.
 */
export type ControlSpec = readonly [number, number] | readonly [number, number, number] | readonly (string | number)[] | boolean | string | Widget;

type ValueWidget = Widget & { value: unknown };

/** The value a control spec gives the function: a number for a range, an option, a boolean, a string, a widget's value. */
export type ControlValue<S> = S extends readonly [number, number] | readonly [number, number, number] ? number
  : S extends readonly (infer T)[] ? T
  : S extends boolean ? boolean
  : S extends string ? string
  : S extends { value: infer V } ? V
  : never;
/** The argument object of an interact function for controls `S`. */
export type ControlValues<S extends Record<string, ControlSpec>> = { [K in keyof S]: ControlValue<S[K]> };

function controlFor(name: string, spec: ControlSpec): ValueWidget {
  if (spec instanceof Widget) {
    if (!('value' in spec)) throw new ArgumentError(`interact: control ${name}: expected a widget with a value, got ${spec.toString()}`);
    return spec as ValueWidget;
  }
  if (typeof spec === 'boolean') return new Checkbox({ value: spec, description: name });
  if (typeof spec === 'string') return new Text({ value: spec, description: name });
  if (Array.isArray(spec)) {
    const numeric = spec.every((x) => typeof x === 'number');
    if (numeric && (spec.length === 2 || spec.length === 3)) {
      const [min, max, step] = spec as number[];
      const ints = [min, max, step ?? 1].every(Number.isInteger);
      // ipywidgets starts in the middle of the range
      const mid = min + (max - min) / 2;
      return ints
        ? new IntSlider({ min, max, step: step ?? 1, value: min + Math.round((mid - min) / (step ?? 1)) * (step ?? 1), description: name })
        : new FloatSlider({ min, max, step: step ?? (max - min) / 100, value: mid, description: name });
    }
    if (spec.length > 0) return new Dropdown({ options: spec as (string | number)[], description: name });
  }
  throw new ArgumentError(`interact: control ${name}: expected [min, max], [min, max, step], an array of options, a boolean, a string or a widget, got ${JSON.stringify(spec)}`);
}

/** What {@link interactive} returns: the controls, the output they drive, and a box holding both. */
export interface Interactive {
  readonly controls: Record<string, ValueWidget>;
  readonly output: Output;
  readonly widget: Box;
  /** Runs the function with the controls' current values now (returns when its output is shown). */
  update(): Promise<void>;
}

/**
 * Builds controls for `fn`'s named arguments and an output that shows `fn(values)`; each control change re-runs
 * `fn` (one run at a time: changes arriving meanwhile are folded into one more run) and replaces the output. `fn`
 * may return a value to show (a plot, a tensor, text) or a promise of one.
 */
export function interactive<S extends Record<string, ControlSpec>>(fn: (args: ControlValues<S>) => unknown, spec: S): Interactive {
  if (typeof fn !== 'function') throw new ArgumentError(`interact: expected a function, got ${typeof fn}`);
  if (!spec || typeof spec !== 'object' || Object.keys(spec).length === 0) throw new ArgumentError('interact: expected at least one control, e.g. { degree: [1, 10] }');
  const controls = Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, controlFor(k, s as ControlSpec)])) as Record<string, ValueWidget>;
  const output = new Output();
  let running: Promise<void> | undefined;
  let again = false;
  const runOnce = async () => {
    const args = Object.fromEntries(Object.entries(controls).map(([k, w]) => [k, w.value])) as ControlValues<S>;
    try {
      output.show(await fn(args));
    } catch (e) {
      output.showError(e);
    }
  };
  const update = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await runOnce();
      } while (again);
    })().finally(() => { running = undefined; });
    return running;
  };
  for (const w of Object.values(controls)) w.observe(() => void update(), w instanceof Dropdown ? 'index' : 'value');
  const widget = VBox([...Object.values(controls), output]);
  return { controls, output, widget, update };
}

/**
 * ipywidgets' `interact`: shows controls for `fn`'s arguments and `fn`'s output below them, redrawn as they move.
 * Resolves (to nothing, so a cell ending with it shows the widget once) when the first output is shown. In a front
 * end without the widget extension the cell shows the controls' text and that first output.
 * @example await d2l.interact(({ degree }) => fitPlot(degree), { degree: [1, 20] })
 */
export async function interact<S extends Record<string, ControlSpec>>(fn: (args: ControlValues<S>) => unknown, spec: S): Promise<void> {
  const i = interactive(fn, spec);
  await i.update();
  show(i.widget);
}
