/**
 * TensorBoard event files against an independent writer: test/fixtures/tb_events.tfevents was
 * written by scripts/gen_tfevents_fixture.py (Python protobuf + crc32c + numpy, torch's histogram
 * layout); we decode it, write the same events and compare bytes, and detect corruption.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventFiles, FILE_VERSION, frameRecord, histogramOf, maskedCrc32c, readEvents, readScalars, TfEventsError, TfEventsWriter, trimEventFiles } from '../src/report/tfevents.ts';

const fixtures = fileURLToPath(new URL('fixtures/', import.meta.url));
const fixture = join(fixtures, 'tb_events.tfevents');
interface Spec {
  file_version: { wall_time: number };
  scalars: { tag: string; step: number; value: number; wall_time: number }[];
  histograms: {
    tag: string; step: number; values: number[]; bins: number; wall_time: number;
    histo: { min: number; max: number; num: number; sum: number; sum_squares: number; bucket_limit: number[]; bucket: number[] };
  }[];
}
const spec = JSON.parse(readFileSync(join(fixtures, 'tb_events.json'), 'utf8')) as Spec;
const tmp = mkdtempSync(join(tmpdir(), 'odc-tfevents-'));

/** Our writer, given the fixture's events in the fixture's order. */
function writeLikeFixture(path: string): void {
  const w = new TfEventsWriter(path, { wallTime: spec.file_version.wall_time });
  for (const s of spec.scalars) w.addScalar(s.tag, s.value, s.step, s.wall_time);
  for (const h of spec.histograms) w.addHistogram(h.tag, h.values, h.step, { bins: h.bins, wallTime: h.wall_time });
  w.close();
}

describe('tfevents', () => {
  it('masks CRC32C as TFRecord does (the well-known header of every event file)', () => {
    // An event file starts with a 24-byte file-version record: 18 00.. then masked crc 0x224b7fa3.
    const len = Buffer.from([0x18, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(maskedCrc32c(len), 0x224b7fa3);
    assert.deepEqual([...readFileSync(fixture).subarray(0, 12)], [0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22]);
  });

  it('decodes the Python-written fixture to its known values', () => {
    const events = readEvents(fixture, { strict: true });
    assert.equal(events.length, 1 + spec.scalars.length + spec.histograms.length);
    assert.deepEqual(events[0], { wallTime: spec.file_version.wall_time, step: 0, fileVersion: FILE_VERSION });
    spec.scalars.forEach((s, i) => {
      const e = events[1 + i];
      assert.equal(e.step, s.step);
      assert.equal(e.wallTime, s.wall_time);
      assert.deepEqual(e.summary?.value, [{ tag: s.tag, simpleValue: Math.fround(s.value) }]); // simple_value is a float32
    });
    spec.histograms.forEach((h, i) => {
      const e = events[1 + spec.scalars.length + i];
      assert.equal(e.step, h.step);
      const x = h.histo;
      assert.deepEqual(e.summary?.value, [{
        tag: h.tag,
        histo: { min: x.min, max: x.max, num: x.num, sum: x.sum, sumSquares: x.sum_squares, bucketLimit: x.bucket_limit, bucket: x.bucket },
      }]);
    });
    const scalars = readScalars(fixtures);
    assert.deepEqual(scalars.get('train/loss')?.map((p) => p.step), [0, 20]);
  });

  it('builds histograms as torch.utils.tensorboard does (numpy bins, trimmed)', () => {
    for (const h of spec.histograms) {
      const x = histogramOf(h.values, h.bins);
      assert.deepEqual(x, { min: h.histo.min, max: h.histo.max, num: h.histo.num, sum: h.histo.sum, sumSquares: h.histo.sum_squares, bucketLimit: h.histo.bucket_limit, bucket: h.histo.bucket });
    }
  });

  it('writes the same bytes as the independent writer', () => {
    const path = join(tmp, 'ours.tfevents');
    writeLikeFixture(path);
    assert.deepEqual(readFileSync(path), readFileSync(fixture));
  });

  it('detects a corrupted CRC, a corrupted payload and a truncated tail', () => {
    const good = readFileSync(fixture);
    const badCrc = Buffer.from(good);
    badCrc[good.length - 1] ^= 0x01; // last record's data CRC
    const p1 = join(tmp, 'bad_crc.tfevents');
    writeFileSync(p1, badCrc);
    assert.throws(() => readEvents(p1), (e: unknown) => e instanceof TfEventsError && /record at byte \d+: data CRC mismatch/.test(e.message) && e.message.includes(p1));
    const badPayload = Buffer.from(good);
    badPayload[40 + 12 + 5] ^= 0x10; // inside the second record's payload (the first is 40 bytes)
    const p2 = join(tmp, 'bad_payload.tfevents');
    writeFileSync(p2, badPayload);
    assert.throws(() => readEvents(p2), /record at byte 40: data CRC mismatch/);
    const badLen = Buffer.from(good);
    badLen[40] ^= 0x01;
    const p3 = join(tmp, 'bad_len.tfevents');
    writeFileSync(p3, badLen);
    assert.throws(() => readEvents(p3), /record at byte 40: length CRC mismatch/);
    const p4 = join(tmp, 'cut.tfevents');
    writeFileSync(p4, good.subarray(0, good.length - 7));
    assert.equal(readEvents(p4).length, 1 + spec.scalars.length + spec.histograms.length - 1); // a writer mid-append: ignored
    assert.throws(() => readEvents(p4, { strict: true }), /truncated record at the end of the file/);
  });

  it('buffers until flush, appends on reopen and trims steps past a resume point', () => {
    const dir = mkdtempSync(join(tmp, 'run-'));
    const w = TfEventsWriter.inDir(dir);
    assert.match(w.path, /events\.out\.tfevents\.\d{10}\.[^/]+$/);
    for (let step = 10; step <= 50; step += 10) w.addScalar('train/loss', step / 10, step);
    assert.equal(readEvents(w.path).length, 1); // only the file-version event so far
    w.flush();
    assert.equal(readEvents(w.path).length, 6);
    w.addHistogram('epoch/cluster_sizes', [3, 4, 5], 50);
    w.close();
    appendFileSync(w.path, frameRecord(Buffer.from('cut short')).subarray(0, 10)); // a kill mid-write
    trimEventFiles(dir, 30);
    assert.deepEqual(readScalars(dir).get('train/loss')?.map((p) => p.step), [10, 20, 30]);
    assert.equal(readEvents(w.path, { strict: true }).length, 4);
    const w2 = TfEventsWriter.inDir(dir); // a resumed run: a second file in the same directory
    w2.addScalar('train/loss', 4, 40);
    w2.close();
    assert.equal(eventFiles(dir).length, 2);
    assert.deepEqual(readScalars(dir).get('train/loss')?.map((p) => p.step), [10, 20, 30, 40]);
    copyFileSync(fixture, join(dir, 'events.out.tfevents.0.fixture'));
    assert.equal(eventFiles(dir)[0], join(dir, 'events.out.tfevents.0.fixture'));
  });
});
