/**
 * Setup file of every test file (vitest.config.ts): kernels started by tests pass process.env on, and the
 * kernel appends every executed cell to the user's input history (kernel/history.ts). Point that history at a
 * throw-away file so that no test ever writes into the learner's ~/.local/share/d2l-ts/history.jsonl.
 * Tests that check the history itself give their kernels their own D2L_HISTORY_FILE.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll } from 'vitest';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-ts-test-history-'));
process.env.D2L_HISTORY_FILE = path.join(dir, 'history.jsonl');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
