/**
 * `odc/report`: the HTML report and the cluster browser. A separate entry point, so that
 * `import 'odc'` never loads the charting, image and HTTP stack.
 */

export { type RunningServer, type ServeOptions, startServer } from '../serve/server.ts';
export { type ReportOptions, type ReportResult, writeReport } from './report.ts';
export { loadRunDir, type MetricsRecord, type RunDir, readMetrics } from './run_dir.ts';
