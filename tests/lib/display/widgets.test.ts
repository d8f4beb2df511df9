// lib/display/widgets.ts without a kernel (plain Node, as in a script or these tests): widgets keep their state
// locally, print as their text form, validate their arguments, and interact runs its function for the first output.
import { describe, expect, it } from 'vitest';
import {
  Button, Checkbox, Dropdown, FloatSlider, HBox, IntSlider, interactive, Output, Text, VBox, WIDGET_VIEW_MIME,
} from '../../../lib/display/widgets';
import { MIMEBUNDLE } from '../../../common/mime';
import { ArgumentError } from '../../../lib/args';

describe('widgets outside a kernel', () => {
  it('keep their state, notify observers, and print as text', () => {
    const s = new IntSlider({ min: 0, max: 4, value: 9, description: 'k' });
    expect(s.value).toBe(4); // clamped like the front end would
    const seen: unknown[] = [];
    s.observe((c) => seen.push([c.old, c.value]), 'value');
    s.value = 2;
    s.value = 2; // no change, no call
    expect(seen).toEqual([[4, 2]]);
    expect(String(s)).toBe("IntSlider(value=2, min=0, max=4, step=1, description='k')");
    const b = s[MIMEBUNDLE]() as Record<string, any>;
    expect(b[WIDGET_VIEW_MIME]).toMatchObject({ model_id: s.modelId, version_major: 2 });
    expect(new FloatSlider({ min: 0, max: 1, step: 0.25, value: 0.5 }).value).toBe(0.5);
    const d = new Dropdown({ options: ['sgd', 'adam'], value: 'adam' });
    expect(d.value).toBe('adam');
    d.value = 'sgd';
    expect(d.get('index')).toBe(0);
    expect(new Checkbox({ value: true }).value).toBe(true);
    expect(new Text({ value: 'hi' }).value).toBe('hi');
    let clicks = 0;
    new Button().onClick(() => clicks++).click();
    expect(clicks).toBe(1);
    expect(String(HBox([new Checkbox({ description: 'a' }), new Checkbox({ description: 'b' })]))).toBe(
      "Checkbox(value=false, description='a')\nCheckbox(value=false, description='b')");
  });

  it('reject bad arguments with clear errors', () => {
    expect(() => new IntSlider({ min: 0.5 })).toThrow(new ArgumentError('IntSlider: expected an integer min, got 0.5'));
    expect(() => new FloatSlider({ min: 2, max: 1 })).toThrow(/FloatSlider: expected finite min <= max and step > 0, got min 2, max 1/);
    expect(() => new Dropdown({ options: [] })).toThrow(/Dropdown: expected a non-empty options array/);
    expect(() => new Dropdown({ options: ['a'], value: 'b' })).toThrow(/Dropdown: value b is not one of the options/);
    expect(() => VBox([{} as never])).toThrow(/Box: expected an array of widgets/);
    expect(() => interactive(() => 1, {})).toThrow(/interact: expected at least one control/);
    expect(() => interactive('f' as never, { a: [0, 1] })).toThrow(/interact: expected a function, got string/);
    expect(() => interactive(() => 1, { a: [] as never })).toThrow(/interact: control a: expected \[min, max\]/);
  });

  it('interactive builds one control per argument, starts mid-range, and re-runs on changes (one run at a time)', async () => {
    const calls: unknown[] = [];
    const i = interactive(async (a: { n: number; lr: number; opt: string; on: boolean }) => { calls.push({ ...a }); return a.n; },
      { n: [1, 9], lr: [0, 1, 0.1], opt: ['sgd', 'adam'], on: false });
    expect(i.controls.n).toBeInstanceOf(IntSlider);
    expect(i.controls.lr).toBeInstanceOf(FloatSlider);
    expect(i.controls.opt).toBeInstanceOf(Dropdown);
    expect(i.controls.on).toBeInstanceOf(Checkbox);
    await i.update();
    expect(calls).toEqual([{ n: 5, lr: 0.5, opt: 'sgd', on: false }]);
    (i.controls.n as IntSlider).value = 7;
    (i.controls.opt as Dropdown).value = 'adam';
    await i.update();
    // the first change started a run; the second arrived while it ran and was folded into one more run
    expect(calls.length).toBe(3);
    expect(calls[2]).toEqual({ n: 7, lr: 0.5, opt: 'adam', on: false });
    expect(i.output).toBeInstanceOf(Output);
    expect(String(i.output)).toBe('7');
  });
});
