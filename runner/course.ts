/**
 * The course map: every lecture of 动手学深度学习 v2 (00–23, the part of the course this project covers), the
 * book sections it teaches and where a learner finds it here — a notebook, the README, or nothing (no code,
 * or data that is not available offline). One list, read by the lessons report's index (out/index.html) and
 * held against README's "Course map" table by tests/runner/course.test.ts, so the two cannot drift.
 *
 * Book sections are d2l-zh v2 paths (== d2l-en 0.17.6), as `../shared/reference`'s lecture table gives them;
 * the course itself is https://courses.d2l.ai/zh-v2/.
 * @module
 */
import * as fs from 'fs';

export interface Lecture {
  /** Two-digit lecture number, as the course numbers its videos. */
  n: string;
  /** The lecture's title in the course. */
  title: string;
  /** Book sections, `chapter/section` without `.md`. Empty where the lecture has no section. */
  book: string[];
  /** The notebook under notebooks/ (file name without .ipynb), when the lecture has one. */
  notebook?: string;
  /** Where the content lives when there is no notebook, and why. */
  note?: string;
}

export const COURSE: readonly Lecture[] = [
  { n: '00', title: '预告', book: [], note: 'no code: what the course covers' },
  { n: '01', title: '课程安排', book: [], note: 'no code: schedule and prerequisites' },
  { n: '02', title: '深度学习介绍', book: ['chapter_introduction/index'], note: 'no code: what deep learning is, its history and applications' },
  { n: '03', title: '安装', book: ['chapter_installation/index'], note: "README's two commands (`npm install && npm run lessons`), no Python or conda needed" },
  { n: '04', title: '数据操作 + 数据预处理', book: ['chapter_preliminaries/ndarray', 'chapter_preliminaries/pandas'], notebook: '04-data-manipulation' },
  { n: '05', title: '线性代数', book: ['chapter_preliminaries/linear-algebra'], notebook: '05-linear-algebra' },
  { n: '06', title: '矩阵计算', book: ['chapter_preliminaries/calculus'], notebook: '06-matrix-calculus' },
  { n: '07', title: '自动求导', book: ['chapter_preliminaries/autograd'], notebook: '07-autograd' },
  { n: '08', title: '线性回归 + 基础优化算法', book: ['chapter_linear-networks/linear-regression', 'chapter_linear-networks/linear-regression-scratch', 'chapter_linear-networks/linear-regression-concise'], notebook: '08-linear-regression' },
  { n: '09', title: 'Softmax 回归 + 损失函数 + 图片分类数据集', book: ['chapter_linear-networks/softmax-regression', 'chapter_linear-networks/image-classification-dataset', 'chapter_linear-networks/softmax-regression-scratch', 'chapter_linear-networks/softmax-regression-concise'], notebook: '09-softmax-regression' },
  { n: '10', title: '多层感知机 + 代码实现', book: ['chapter_multilayer-perceptrons/mlp', 'chapter_multilayer-perceptrons/mlp-scratch', 'chapter_multilayer-perceptrons/mlp-concise'], notebook: '10-mlp' },
  { n: '11', title: '模型选择 + 过拟合和欠拟合', book: ['chapter_multilayer-perceptrons/underfit-overfit'], notebook: '11-model-selection' },
  { n: '12', title: '权重衰退', book: ['chapter_multilayer-perceptrons/weight-decay'], notebook: '12-weight-decay' },
  { n: '13', title: '丢弃法', book: ['chapter_multilayer-perceptrons/dropout'], notebook: '13-dropout' },
  { n: '14', title: '数值稳定性 + 模型初始化和激活函数', book: ['chapter_multilayer-perceptrons/numerical-stability-and-init'], notebook: '14-numerical-stability' },
  { n: '15', title: '实战：Kaggle 房价预测 + 课程竞赛：加州 2020 年房价预测', book: ['chapter_multilayer-perceptrons/kaggle-house-price'], note: "not here: it needs the Kaggle competition's CSV files, which cannot be fetched offline" },
  { n: '16', title: 'PyTorch 神经网络基础 (here: tfjs)', book: ['chapter_deep-learning-computation/model-construction', 'chapter_deep-learning-computation/parameters', 'chapter_deep-learning-computation/custom-layer', 'chapter_deep-learning-computation/read-write'], notebook: '16-layers-and-parameters' },
  { n: '17', title: '使用和购买 GPU', book: ['chapter_deep-learning-computation/use-gpu'], notebook: '17-use-gpu' },
  { n: '18', title: '预测房价竞赛总结', book: [], note: "not here: a review of lecture 15's competition entries (no new code; the data is not offline)" },
  { n: '19', title: '卷积层', book: ['chapter_convolutional-neural-networks/why-conv', 'chapter_convolutional-neural-networks/conv-layer'], notebook: '19-convolutions' },
  { n: '20', title: '填充和步幅', book: ['chapter_convolutional-neural-networks/padding-and-strides'], notebook: '20-padding-and-stride' },
  { n: '21', title: '多输入多输出通道', book: ['chapter_convolutional-neural-networks/channels'], notebook: '21-channels' },
  { n: '22', title: '池化层', book: ['chapter_convolutional-neural-networks/pooling'], notebook: '22-pooling' },
  { n: '23', title: '经典卷积神经网络 LeNet', book: ['chapter_convolutional-neural-networks/lenet'], notebook: '23-lenet' },
];

/** The lecture whose notebook is `name` (file name without .ipynb), if any. */
export function lectureOf(name: string): Lecture | undefined {
  return COURSE.find((l) => l.notebook === name);
}

/** Seconds, rounded for a table: `4 s`, `38 s`, `2.1 min`. */
function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  return s < 90 ? `${Math.max(1, Math.round(s))} s` : `${(s / 60).toFixed(1)} min`;
}

/** `chapter_x/a`, `chapter_x/b` → "`chapter_x/`: a, b" (one chapter per lecture, so the column stays narrow). */
function bookSections(book: readonly string[]): string {
  const chapters = new Map<string, string[]>();
  for (const b of book) {
    const i = b.indexOf('/');
    const ch = b.slice(0, i + 1);
    chapters.set(ch, [...(chapters.get(ch) ?? []), b.slice(i + 1)]);
  }
  return [...chapters].map(([ch, secs]) => `\`${ch}\`: ${secs.join(', ')}`).join('; ') || '—';
}

/**
 * README's course-map table in markdown. `times` maps a notebook name to its run time in ms (from a lessons
 * run's out/lessons.json); a notebook without one gets "—".
 */
export function courseMarkdown(times: ReadonlyMap<string, number> = new Map()): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = COURSE.map((l) => {
    const where = l.notebook ? `[\`${l.notebook}\`](notebooks/${l.notebook}.ipynb)` : l.note ?? '';
    const ms = l.notebook ? times.get(l.notebook) : undefined;
    const book = bookSections(l.book);
    return `| ${l.n} | ${cell(l.title)} | ${book} | ${cell(where)} | ${ms === undefined ? '—' : fmtSeconds(ms)} |`;
  });
  return ['| # | lecture | book sections (d2l-zh v2) | here | CPU time |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** `d2l-ts course-map [LESSONS_JSON]`: prints README's course-map table, with run times from a lessons run. */
export function main(argv: string[]): number {
  if (argv.some((a) => a === '-h' || a === '--help') || argv.length > 1) {
    console.error('usage: d2l-ts course-map [out/lessons.json]   prints the course map (markdown) with the run times of that lessons run');
    return argv.length > 1 ? 2 : 0;
  }
  const times = new Map<string, number>();
  if (argv[0]) {
    let db: { notebooks?: Record<string, { ms?: number; ok?: boolean; schedule?: string }> };
    try {
      db = JSON.parse(fs.readFileSync(argv[0], 'utf8'));
    } catch (e) {
      console.error(`course-map: cannot read ${argv[0]}: expected the lessons.json of a \`d2l-ts lessons\` run (${(e as Error).message.split('\n')[0]})`);
      return 2;
    }
    // Only passing runs on the full schedule: the table gives what a learner's run of the lecture costs.
    for (const [name, r] of Object.entries(db.notebooks ?? {})) {
      if (typeof r.ms === 'number' && r.ok && (r.schedule ?? 'full') === 'full') times.set(name, r.ms);
    }
  }
  console.log(courseMarkdown(times));
  return 0;
}
